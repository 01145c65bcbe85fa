"""REST throughput and latency, and how they hold up from 1k to 100k tasks.

For each store size (1,000 and 100,000 tasks by default) a data directory is seeded
(``seed.py``) and a real ``maestro serve`` is started on it. Then ``wrk`` drives,
endpoint by endpoint, with keep-alive connections on the loopback address:

- ``GET /health``                 the baseline: the cheapest route, same stack;
- ``GET /api/tasks/:id``          random ids spread over the whole store;
- ``GET /api/tasks?projectId=&status=``  the seeded target query, which returns
  the same 50 tasks at every size, so any slow-down is the cost of store size;
- ``PATCH /api/tasks/:id``        change a description on random ids (one file
  rewritten, one event);
- ``POST /api/tasks``             create (one file written, one event). It runs
  last because it grows the store; the final task counts are printed.

Both servers run at once and the sizes take turns for each endpoint, so the two
figures being compared are measured seconds apart; the whole sequence runs
``--rounds`` times (the order of sizes alternating) and medians are reported,
because the machine is shared and noisy. Each figure is also shown relative to
``/health`` on the same server, and the load average is printed before and after.

Target: the filtered list at 100k keeps at least 1/1.5 of its 1k throughput.

Usage::

    .venv/bin/python benchmarks/http_bench.py            # about 2 minutes
    .venv/bin/python benchmarks/http_bench.py -d 10s --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from _harness import Check, MaestroServer, machine_load, median, run_checks, scratch_dir, table
from seed import Seeded, project_id, seed

LIST_TARGET_RATIO = 1.5
HEALTH = "GET /health"
LISTING = "GET /api/tasks?projectId&status"
_MARK = "WRK_JSON "

# done() runs once with the merged statistics of all threads; latency is in µs.
_LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
    .. '"mean_us":%.1f,"max_us":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d}\\n',
    "__MARK__", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass(frozen=True)
class Endpoint:
    """One benchmarked route: the requests wrk cycles through at random."""

    name: str
    method: str
    paths: list[str]
    body: str | None = None


@dataclass(frozen=True)
class Run:
    """The figures of one wrk run (one endpoint, one store size)."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def figures(self) -> str:
        """Throughput and latencies on one line, as the scripts print each run."""
        errors = f"  ({self.errors} errors)" if self.errors else ""
        return (
            f"{self.rps:9.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:7.2f} ms{errors}"
        )


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII text is a valid Lua string literal


def lua_script(endpoint: Endpoint, seed_value: int) -> str:
    """A wrk script sending ``endpoint``'s requests, pre-formatted, in random order."""
    paths = ",\n  ".join(_lua_string(path) for path in endpoint.paths)
    body = _lua_string(endpoint.body) if endpoint.body is not None else "nil"
    return (
        f"local paths = {{\n  {paths}\n}}\n"
        f"local body = {body}\n"
        "local prepared = {}\n"
        "local threads = 0\n"
        "setup = function(thread)\n"
        "  threads = threads + 1\n"
        '  thread:set("thread_no", threads)\n'
        "end\n"
        "init = function(args)\n"
        f"  math.randomseed({seed_value} + (thread_no or 0))\n"
        '  local headers = {["Content-Type"] = "application/json"}\n'
        "  for i, path in ipairs(paths) do\n"
        f"    prepared[i] = wrk.format({_lua_string(endpoint.method)}, path, headers, body)\n"
        "  end\n"
        "end\n"
        "request = function()\n"
        "  return prepared[math.random(#prepared)]\n"
        "end\n" + _LUA_DONE.replace("__MARK__", _MARK)
    )


def run_wrk(server: MaestroServer, script: Path, options: argparse.Namespace, duration: str) -> Run:
    """Run wrk once against ``server`` and parse the line our ``done()`` printed."""
    command = [
        options.wrk,
        f"-t{options.threads}",
        f"-c{options.connections}",
        f"-d{duration}",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        server.url,
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    for line in finished.stdout.splitlines():
        if line.startswith(_MARK):
            figures = json.loads(line[len(_MARK) :])
            break
    else:
        raise RuntimeError(f"wrk printed no figures:\n{finished.stdout}\n{finished.stderr}")
    server.check_alive()
    errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Run(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=errors,
    )


def endpoints(seeded: Seeded, sample: int) -> list[Endpoint]:
    """The five measured routes for one seeded store, in the order they are run."""
    ids = seeded.sample_task_ids(sample)
    # New tasks go to a project other than the target one, so the target query
    # keeps returning exactly `match` tasks however many writes came before.
    created = json.dumps({"projectId": project_id(1), "title": "Created by http_bench"})
    patched = json.dumps({"description": "Patched by http_bench"})
    return [
        Endpoint(HEALTH, "GET", ["/health"]),
        Endpoint("GET /api/tasks/:id", "GET", [f"/api/tasks/{i}" for i in ids]),
        Endpoint(LISTING, "GET", [seeded.target_query]),
        Endpoint("PATCH /api/tasks/:id", "PATCH", [f"/api/tasks/{i}" for i in ids], patched),
        # Last: it grows the store (by thousands of tasks a second), which the
        # others should not see in the first round.
        Endpoint("POST /api/tasks", "POST", ["/api/tasks"], created),
    ]


def check_target_query(server: MaestroServer, seeded: Seeded) -> None:
    """Fail early (not with a wrong figure) if the seeded data is not what we think."""
    response = httpx.get(server.url + seeded.target_query, timeout=30)
    response.raise_for_status()
    found = len(response.json())
    if found != seeded.match:
        raise RuntimeError(f"the target query returned {found} tasks, expected {seeded.match}")


def _size_label(tasks: int) -> str:
    return f"{tasks // 1000}k" if tasks % 1000 == 0 else str(tasks)


def measure(options: argparse.Namespace) -> list[Check]:
    """Seed, serve, drive with wrk, print the table; return the target checks."""
    sizes: list[int] = options.sizes
    results: dict[tuple[str, int], list[Run]] = {}
    started = time.perf_counter()
    print(f"before: {machine_load()}", flush=True)
    with (
        scratch_dir("maestro-http-bench-", keep=options.keep) as root,
        contextlib.ExitStack() as stack,
    ):
        seeded: dict[int, Seeded] = {}
        servers: dict[int, MaestroServer] = {}
        for size in sizes:
            seeded[size] = seed(root / f"data-{size}", size, options.projects, options.match)
            print(f"seeded {size} tasks in {seeded[size].seconds:.1f}s", flush=True)
        for size in sizes:
            servers[size] = stack.enter_context(MaestroServer(seeded[size].data_dir, root))
            check_target_query(servers[size], seeded[size])
            print(f"server on {size} tasks ready in {servers[size].ready_seconds:.1f}s", flush=True)
        plans = {size: endpoints(seeded[size], options.sample) for size in sizes}
        for size in sizes:  # warm-up: connections, allocator, caches
            script = root / f"warmup-{size}.lua"
            script.write_text(lua_script(plans[size][0], 0))
            run_wrk(servers[size], script, options, options.warmup)
        for round_no in range(options.rounds):
            for index in range(len(plans[sizes[0]])):
                for size in sizes if round_no % 2 == 0 else list(reversed(sizes)):
                    endpoint = plans[size][index]
                    script = root / f"e{index}-{size}.lua"
                    script.write_text(lua_script(endpoint, round_no * 7919 + index))
                    run = run_wrk(servers[size], script, options, options.duration)
                    results.setdefault((endpoint.name, size), []).append(run)
                    label = f"{endpoint.name:<34} {_size_label(size):>5}"
                    print(f"  {label}  {run.figures()}", flush=True)
        for size in sizes:
            check_target_query(servers[size], seeded[size])
            counts = httpx.get(f"{servers[size].url}/health", timeout=30).json()["counts"]
            print(f"the {_size_label(size)} store ends with {counts['tasks']} tasks (POSTs add)")
    print(f"after: {machine_load()}; took {time.perf_counter() - started:.0f}s")
    return report(results, [e.name for e in plans[sizes[0]]], sizes)


def report(
    results: dict[tuple[str, int], list[Run]], names: list[str], sizes: list[int]
) -> list[Check]:
    """Print the table (medians over rounds) and the filtered-list ratio."""

    def rps(name: str, size: int) -> float:
        return median([r.rps for r in results[(name, size)]])

    health = HEALTH
    rows = []
    for name in names:
        for size in sizes:
            runs = results[(name, size)]
            errors = sum(r.errors for r in runs)
            rows.append(
                [
                    name,
                    _size_label(size),
                    f"{rps(name, size):.0f}",
                    f"{median([r.p50_ms for r in runs]):.2f}",
                    f"{median([r.p99_ms for r in runs]):.2f}",
                    f"{rps(name, size) / rps(health, size):.2f}",
                    str(errors),
                ]
            )
    print()
    print(table(["endpoint", "tasks", "req/s", "p50 ms", "p99 ms", "x /health", "errors"], rows))
    listing = LISTING
    small, large = sizes[0], sizes[-1]
    slowdown = rps(listing, small) / rps(listing, large)
    baseline_slowdown = rps(health, small) / rps(health, large)
    print(
        f"\nfiltered list: {rps(listing, small):.0f} req/s at {_size_label(small)}, "
        f"{rps(listing, large):.0f} req/s at {_size_label(large)}: "
        f"{_size_label(small)}/{_size_label(large)} throughput = {slowdown:.2f}x "
        f"(/health on the same servers: {baseline_slowdown:.2f}x; "
        f"normalized by /health: {slowdown / baseline_slowdown:.2f}x)"
    )
    checks = [
        Check(
            f"filtered list throughput {_size_label(small)} / {_size_label(large)}",
            f"{slowdown:.2f}x",
            f"<= {LIST_TARGET_RATIO}x",
            slowdown <= LIST_TARGET_RATIO,
        )
    ]
    failed = [
        name for name in names for size in sizes if any(r.errors for r in results[(name, size)])
    ]
    if failed:
        checks.append(
            Check("requests answered 2xx", f"errors on {sorted(set(failed))}", "0", False)
        )
    return checks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="REST req/s and p50/p99 latency at 1k and 100k tasks, measured with wrk."
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1000, 100_000],
        help="store sizes in tasks, smallest first (default 1000,100000)",
    )
    parser.add_argument("-t", "--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "-c", "--connections", type=int, default=16, help="wrk connections (default 16)"
    )
    parser.add_argument("-d", "--duration", default="4s", help="wrk duration per run (default 4s)")
    parser.add_argument("--warmup", default="1s", help="wrk warm-up per server (default 1s)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="repeat all runs, sizes in turn first (default 2)"
    )
    parser.add_argument("--projects", type=int, default=10, help="seeded projects (default 10)")
    parser.add_argument("--match", type=int, default=50, help="tasks the list returns (default 50)")
    parser.add_argument("--sample", type=int, default=1000, help="task ids GET/PATCH cycle through")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="path to wrk")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs and logs")
    options = parser.parse_args(argv)
    if sorted(options.sizes) != options.sizes or len(options.sizes) < 2:
        parser.error("--sizes needs at least two sizes, smallest first")
    return options


def main(argv: list[str] | None = None) -> int:
    return run_checks(measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
