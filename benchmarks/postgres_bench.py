"""PostgreSQL store vs JSON store: REST throughput, and cross-instance event latency.

One seeded store (``seed.py``, 1,000 tasks by default) is served three ways:

- ``json``    one ``maestro serve`` on a copy of the seeded data directory;
- ``pg x1``   one ``maestro serve`` on PostgreSQL, the same data imported with
              ``maestro data import`` into a fresh schema;
- ``pg x2``   a second instance started on that schema; ``wrk`` drives both at
              once (half the connections each) and their req/s are added up.

For each, ``wrk`` runs the endpoints of ``http_bench.py`` in turn (``GET /health``,
``GET /api/tasks/:id``, the filtered list, ``PATCH``, ``POST``). Then, with both
PostgreSQL instances up, ``--events`` PATCHes go through instance A, one every
``--interval`` seconds, each carrying ``bench:<k>:<CLOCK_MONOTONIC ns>`` in the
task's description; one WebSocket client on A and one on B record when the
``task:updated`` frame arrives. On B that is the cross-instance path: commit on A,
``NOTIFY``, B's listener, B's read of the events table, B's hub, the socket.

Target: cross-instance p99 < 100 ms on loopback.

The schema is created under the database of ``--database-url`` (default
``MAESTRO_TEST_DATABASE_URL`` or ``postgresql://postgres@127.0.0.1:5432/test``) and
dropped at the end.

Usage::

    .venv/bin/python benchmarks/postgres_bench.py            # about 2 minutes
    .venv/bin/python benchmarks/postgres_bench.py -d 10s --events 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
from websockets.asyncio.client import connect

from _harness import (
    LOOPBACK,
    Check,
    MaestroServer,
    machine_load,
    percentile,
    run_checks,
    scratch_dir,
    table,
)
from http_bench import Endpoint, Run, check_target_query, endpoints, lua_script, run_wrk
from seed import Seeded, seed, task_id

P99_TARGET_MS = 100.0
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


class PostgresServer(MaestroServer):
    """A ``maestro serve`` on a PostgreSQL store (the harness's own servers use JSON)."""

    def __init__(self, database_url: str, log_dir: Path) -> None:
        super().__init__(log_dir / "unused-data-dir", log_dir)
        self.database_url = database_url

    def launch(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
        env["MAESTRO_DATABASE_URL"] = self.database_url
        for name in ("HOST", "PORT", "DATA_DIR", "DEBUG"):
            env.pop(name, None)
        command = [sys.executable, "-m", "maestro", "serve", "--host", LOOPBACK]
        command += ["--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.started_at = time.perf_counter()
            # Its own session: a Ctrl-C reaches only us, and we stop it in order.
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )


@contextlib.contextmanager
def fresh_schema(base_url: str) -> Iterator[str]:
    """A new schema in the benchmark database; yields a URL selecting it; dropped after."""
    schema = f"maestro_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def import_into(data_dir: Path, url: str) -> float:
    """``maestro data import`` the seeded directory; return the seconds it took."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "maestro", "data", "import", str(data_dir), "--database-url", url],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return time.perf_counter() - started


def drive(
    servers: list[MaestroServer], endpoint: Endpoint, root: Path, options: argparse.Namespace
) -> Run:
    """wrk on every server at once (connections split between them); figures added up."""
    script = root / "bench.lua"
    script.write_text(lua_script(endpoint, 17))
    share = replace_connections(options, len(servers))
    with ThreadPoolExecutor(len(servers)) as pool:
        runs = list(pool.map(lambda s: run_wrk(s, script, share, options.duration), servers))
    seconds = max(r.seconds for r in runs)
    return Run(
        requests=sum(r.requests for r in runs),
        seconds=seconds,
        p50_ms=max(r.p50_ms for r in runs),
        p90_ms=max(r.p90_ms for r in runs),
        p99_ms=max(r.p99_ms for r in runs),
        errors=sum(r.errors for r in runs),
    )


def replace_connections(options: argparse.Namespace, parts: int) -> argparse.Namespace:
    copy = argparse.Namespace(**vars(options))
    copy.connections = max(1, options.connections // parts)
    copy.threads = max(1, options.threads // parts)
    return copy


async def event_latency(
    writer: MaestroServer,
    readers: dict[str, MaestroServer],
    target: str,
    options: argparse.Namespace,
) -> dict[str, list[float]]:
    """PATCH through ``writer``; per reader, the ms until its client had the frame."""
    run = secrets.token_hex(4)
    marker = f"bench:{run}:"
    latencies: dict[str, list[float]] = {name: [] for name in readers}

    async def receive(name: str, url: str, ready: asyncio.Event) -> None:
        async with connect(url, compression=None, max_size=2**22) as ws:
            ready.set()
            async for frame in ws:
                now = time.monotonic_ns()
                if isinstance(frame, str) and marker in frame:
                    start = frame.index(marker) + len(marker)
                    stamp = frame.index(":", start) + 1
                    sent = int(frame[stamp : frame.index('"', stamp)])
                    latencies[name].append((now - sent) / 1e6)
                    if len(latencies[name]) >= options.events:
                        return

    ready = {name: asyncio.Event() for name in readers}
    receivers = [
        asyncio.create_task(receive(name, server.ws_url, ready[name]))
        for name, server in readers.items()
    ]
    await asyncio.gather(*(event.wait() for event in ready.values()))
    async with httpx.AsyncClient(base_url=writer.url, timeout=10) as http:
        for k in range(options.events):
            sent = time.monotonic_ns()
            response = await http.patch(
                f"/api/tasks/{target}", json={"description": f"{marker}{k}:{sent}"}
            )
            response.raise_for_status()
            await asyncio.sleep(options.interval)
    await asyncio.wait(receivers, timeout=10)
    for task in receivers:
        task.cancel()
    return latencies


def measure(options: argparse.Namespace) -> list[Check]:
    started = time.perf_counter()
    print(f"before: {machine_load()}", flush=True)
    results: dict[tuple[str, str], Run] = {}
    with (
        scratch_dir("maestro-pg-bench-", keep=options.keep) as root,
        fresh_schema(options.database_url) as database_url,
        contextlib.ExitStack() as stack,
    ):
        seeded: Seeded = seed(root / "seeded", options.tasks, options.projects, options.match)
        print(f"seeded {options.tasks} tasks in {seeded.seconds:.1f}s", flush=True)
        json_dir = root / "json"
        shutil.copytree(seeded.data_dir, json_dir)
        print(f"imported into PostgreSQL in {import_into(seeded.data_dir, database_url):.1f}s")
        json_server = stack.enter_context(MaestroServer(json_dir, root))
        pg_a = stack.enter_context(PostgresServer(database_url, root))
        for server in (json_server, pg_a):
            check_target_query(server, seeded)
        plan = endpoints(seeded, options.sample)
        configurations: list[tuple[str, list[MaestroServer]]] = [
            ("json", [json_server]),
            ("pg x1", [pg_a]),
        ]
        for _, servers in configurations:
            drive(servers, plan[0], root, replace_duration(options, options.warmup))
        for endpoint in plan:
            for name, servers in configurations:
                results[(endpoint.name, name)] = report_run(
                    endpoint, name, drive(servers, endpoint, root, options)
                )
        pg_b = stack.enter_context(PostgresServer(database_url, root))
        drive([pg_a, pg_b], plan[0], root, replace_duration(options, options.warmup))
        for endpoint in plan:
            results[(endpoint.name, "pg x2")] = report_run(
                endpoint, "pg x2", drive([pg_a, pg_b], endpoint, root, options)
            )
        latencies = asyncio.run(
            event_latency(
                pg_a, {"same instance": pg_a, "other instance": pg_b}, task_id(0), options
            )
        )
    print(f"after: {machine_load()}; took {time.perf_counter() - started:.0f}s")
    return report(results, [e.name for e in plan], latencies, options)


def replace_duration(options: argparse.Namespace, duration: str) -> argparse.Namespace:
    copy = argparse.Namespace(**vars(options))
    copy.duration = duration
    return copy


def report_run(endpoint: Endpoint, name: str, run: Run) -> Run:
    print(f"  {endpoint.name:<34} {name:>6}  {run.figures()}", flush=True)
    return run


def report(
    results: dict[tuple[str, str], Run],
    names: list[str],
    latencies: dict[str, list[float]],
    options: argparse.Namespace,
) -> list[Check]:
    configurations = ["json", "pg x1", "pg x2"]
    rows = []
    for name in names:
        row = [name]
        for configuration in configurations:
            run = results[(name, configuration)]
            row += [f"{run.rps:.0f}", f"{run.p99_ms:.1f}"]
        row.append(f"{results[(name, 'pg x1')].rps / results[(name, 'json')].rps:.2f}")
        rows.append(row)
    print()
    print(
        table(
            [
                "endpoint",
                "json req/s",
                "p99 ms",
                "pg x1 req/s",
                "p99 ms",
                "pg x2 req/s",
                "p99 ms",
                "pg x1 / json",
            ],
            rows,
        )
    )
    print()
    latency_rows = []
    for name, values in latencies.items():
        if values:
            latency_rows.append(
                [
                    name,
                    str(len(values)),
                    f"{percentile(values, 50):.2f}",
                    f"{percentile(values, 99):.2f}",
                    f"{max(values):.2f}",
                    str(options.events - len(values)),
                ]
            )
        else:
            latency_rows.append([name, "0", "-", "-", "-", str(options.events)])
    print(
        table(
            ["PATCH on A -> client", "events", "p50 ms", "p99 ms", "max ms", "missing"],
            latency_rows,
        )
    )
    other = latencies["other instance"]
    checks = [
        Check(
            "cross-instance event latency p99",
            f"{percentile(other, 99):.1f} ms" if other else "no events",
            f"< {P99_TARGET_MS:.0f} ms",
            bool(other) and percentile(other, 99) < P99_TARGET_MS and len(other) == options.events,
        )
    ]
    errors = [key for key, run in results.items() if run.errors]
    if errors:
        checks.append(Check("requests answered 2xx", f"errors on {sorted(errors)}", "0", False))
    return checks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="REST req/s on the JSON store vs one and two PostgreSQL instances, and "
        "cross-instance WebSocket event latency."
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("MAESTRO_TEST_DATABASE_URL") or DEFAULT_DATABASE_URL,
        help="database to create the benchmark's schema in (default: MAESTRO_TEST_DATABASE_URL "
        f"or {DEFAULT_DATABASE_URL})",
    )
    parser.add_argument("--tasks", type=int, default=1000, help="seeded tasks (default 1000)")
    parser.add_argument("--projects", type=int, default=10, help="seeded projects (default 10)")
    parser.add_argument("--match", type=int, default=50, help="tasks the list returns (default 50)")
    parser.add_argument("--sample", type=int, default=1000, help="task ids GET/PATCH cycle through")
    parser.add_argument("-t", "--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "-c", "--connections", type=int, default=16, help="wrk connections in all (default 16)"
    )
    parser.add_argument("-d", "--duration", default="4s", help="wrk duration per run (default 4s)")
    parser.add_argument("--warmup", default="1s", help="wrk warm-up per configuration (default 1s)")
    parser.add_argument("--events", type=int, default=300, help="PATCHes for latency (default 300)")
    parser.add_argument(
        "--interval", type=float, default=0.02, help="seconds between them (default 0.02)"
    )
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="path to wrk")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs and logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_checks(measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
