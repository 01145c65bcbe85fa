"""Write and read throughput of one busy project, as ratios to ``GET /health``.

One project with 200 tasks (a quarter in each status) on a fresh JSON store; then
``wrk -t1 -c32`` drives, endpoint by endpoint, with keep-alive connections:

- ``GET /health``                       the baseline: the same stack, cheapest route;
- ``GET /api/tasks/:id``                random ids of the project's tasks;
- ``GET /api/tasks?projectId=&status=`` the project's pending tasks (50);
- ``PATCH /api/tasks/:id``              always the same task (a description change:
  one file rewritten, one event), the hot spot of many agents reporting;
- ``POST /api/tasks``                   new tasks in a second project (one file, one
  event), so the listed project keeps its 50.

Every 2xx means "on disk" (its journal line written before the answer, fsynced
too with ``--fsync``; the entity files follow in checkpoints, which run during
the measurement; after each run the script waits for them to catch up, so the
next run starts quiet and does not pay for its predecessor). Each endpoint's
req/s is reported as a ratio to ``/health`` on the same server in the same
round, so the figures hold on a shared, noisy machine.
``--baseline REV`` also runs the server of git revision ``REV`` (checked out in a
scratch worktree) side by side, interleaved, for a before/after in one run.
``--postgres URL`` runs them on the PostgreSQL store instead (a fresh schema
each, dropped afterwards).

Targets (issue 10; twice the original Node server's throughput, in /health
terms): POST >= 0.47, PATCH >= 0.44, GET by id >= 1.0 and filtered list >= 0.28
of /health, and PATCH p99 <= 22 ms.

Usage::

    .venv/bin/python benchmarks/write_bench.py                 # about 1 minute
    .venv/bin/python benchmarks/write_bench.py --baseline 60d5033 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from _harness import Check, MaestroServer, machine_load, median, run_checks, scratch_dir, table
from http_bench import Endpoint, Run, lua_script, run_wrk
from postgres_bench import fresh_schema

TASKS = 200
TARGETS = {  # endpoint -> least req/s as a ratio to /health
    "POST /api/tasks": 0.47,
    "PATCH /api/tasks/:id": 0.44,
    "GET /api/tasks/:id": 1.0,
    "GET /api/tasks?projectId&status": 0.28,
}
PATCH_P99_MS = 22.0
HEALTH = "GET /health"
STATUSES = ("pending", "in_progress", "completed", "blocked")


def seed(server: MaestroServer) -> list[Endpoint]:
    """The project, its tasks, and the endpoints that use them."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        project = http.post("/api/projects", json={"name": "Busy"}).json()["id"]
        # New tasks go to a project of their own: the listed one stays at 50.
        inbox = http.post("/api/projects", json={"name": "Inbox"}).json()["id"]
        ids = [
            http.post(
                "/api/tasks",
                json={"projectId": project, "title": f"Task {n}", "status": STATUSES[n % 4]},
            ).json()["id"]
            for n in range(TASKS)
        ]
    return [
        Endpoint(HEALTH, "GET", ["/health"]),
        Endpoint("GET /api/tasks/:id", "GET", [f"/api/tasks/{i}" for i in ids]),
        Endpoint(
            "GET /api/tasks?projectId&status",
            "GET",
            [f"/api/tasks?projectId={project}&status=pending"],
        ),
        Endpoint(
            "PATCH /api/tasks/:id",
            "PATCH",
            [f"/api/tasks/{ids[0]}"],
            '{"description": "an agent reports how far it got"}',
        ),
        Endpoint(
            "POST /api/tasks",
            "POST",
            ["/api/tasks"],
            f'{{"projectId": "{inbox}", "title": "New"}}',
        ),
    ]


def files_caught_up(server: MaestroServer, timeout: float = 120.0) -> None:
    """Wait until the JSON store's checkpoints have written all that the last run
    committed (its journal is down to one empty segment), so that no run pays
    for the file writes of the one before it."""
    journal = server.data_dir / "journal"
    deadline = time.monotonic() + timeout
    while journal.is_dir() and [p.stat().st_size for p in journal.glob("*.jsonl")] != [0]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the files of {server.data_dir} did not catch up in {timeout}s")
        time.sleep(0.05)


@contextlib.contextmanager
def worktree(revision: str, scratch: Path) -> Iterator[Path]:
    """The sources of ``revision``, checked out beside this one."""
    where = scratch / f"rev-{revision}"
    subprocess.run(["git", "worktree", "add", "--detach", str(where), revision], check=True,
                   capture_output=True)  # fmt: skip
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], check=False,
                       capture_output=True)  # fmt: skip


def measure(options: argparse.Namespace) -> list[Check]:
    print(f"before: {machine_load()}")
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(scratch_dir("maestro-write-bench-", options.keep))
        env = {"MAESTRO_FSYNC": "1"} if options.fsync else {}

        def store() -> dict[str, str]:
            if not options.postgres:
                return env
            return {
                **env,
                "MAESTRO_DATABASE_URL": stack.enter_context(fresh_schema(options.postgres)),
            }

        servers: dict[str, MaestroServer] = {}
        servers["this"] = MaestroServer(scratch / "data-this", scratch, env=store())
        if options.baseline:
            source = stack.enter_context(worktree(options.baseline, scratch))
            servers[options.baseline] = MaestroServer(
                scratch / "data-base",
                scratch,
                env={**store(), "PYTHONPATH": str(source / "src")},
            )
        plans = {name: seed(stack.enter_context(server)) for name, server in servers.items()}
        results: dict[tuple[str, str], list[Run]] = {}
        for round_no in range(options.rounds):
            order = list(servers) if round_no % 2 == 0 else list(reversed(servers))
            for index in range(len(plans["this"])):
                for name in order:
                    own = plans[name][index]
                    script = scratch / f"{name}-{index}.lua"
                    script.write_text(lua_script(own, round_no))
                    run = run_wrk(servers[name], script, options, options.duration)
                    servers[name].check_alive()
                    files_caught_up(servers[name])
                    results.setdefault((name, own.name), []).append(run)
                    print(f"  round {round_no + 1} {name:>8} {own.name:<32} "
                          f"{run.rps:7.0f} req/s  p99 {run.p99_ms:6.1f} ms")  # fmt: skip
        print(f"after: {machine_load()}; took {time.perf_counter() - started:.0f}s")
    return report(results, [e.name for e in plans["this"]], list(servers))


def report(
    results: dict[tuple[str, str], list[Run]], names: list[str], servers: list[str]
) -> list[Check]:
    def rps(server: str, name: str) -> float:
        return median([r.rps for r in results[(server, name)]])

    rows = []
    for name in names:
        for server in servers:
            runs = results[(server, name)]
            rows.append(
                [
                    name,
                    server,
                    f"{rps(server, name):.0f}",
                    f"{median([r.p50_ms for r in runs]):.2f}",
                    f"{median([r.p99_ms for r in runs]):.2f}",
                    f"{rps(server, name) / rps(server, HEALTH):.2f}",
                    str(sum(r.errors for r in runs)),
                ]
            )
    print()
    print(table(["endpoint", "server", "req/s", "p50 ms", "p99 ms", "x /health", "errors"], rows))
    checks = [
        Check(
            f"{name} req/s / GET /health",
            f"{rps('this', name) / rps('this', HEALTH):.2f}",
            f">= {least}",
            rps("this", name) / rps("this", HEALTH) >= least,
        )
        for name, least in TARGETS.items()
    ]
    patch_p99 = median([r.p99_ms for r in results[("this", "PATCH /api/tasks/:id")]])
    checks.append(
        Check(
            "PATCH p99 (wrk -t1 -c32)",
            f"{patch_p99:.1f} ms",
            f"<= {PATCH_P99_MS:g} ms",
            patch_p99 <= PATCH_P99_MS,
        )
    )
    errors = sum(
        r.errors for (server, _), runs in results.items() if server == "this" for r in runs
    )
    checks.append(Check("requests answered 2xx", str(errors) + " errors", "0", errors == 0))
    return checks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--duration", default="5s", help="wrk duration per run (default 5s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--baseline", help="also run the server of this git revision")
    parser.add_argument("--fsync", action="store_true", help="run with MAESTRO_FSYNC=1")
    parser.add_argument(
        "--postgres", metavar="URL", help="use the PostgreSQL store of this database"
    )
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="path to wrk")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs and logs")
    options = parser.parse_args(argv)
    options.threads, options.connections = 1, 32  # as the issue measured
    return options


def main(argv: list[str] | None = None) -> int:
    return run_checks(measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
