"""Start-up time and memory of a server with 100k tasks on disk.

The JSON store reads every file into memory when it opens, so start-up time and
resident memory grow with the store. This measures both for a seeded store of
100,000 tasks (``seed.py``) and, as the baseline taken in the same invocation,
for an empty data directory (interpreter, imports, app construction only):

- start-up: from just before ``Popen`` until ``GET /health`` first answers 200
  (polled every 5 ms), i.e. what a user or a supervisor waits for;
- RSS: ``VmRSS`` from ``/proc/<pid>/status`` as soon as it answers.

Runs alternate empty / seeded and the medians are reported. The files were just
written, so they are in the page cache: this is a warm start. (A cold start
needs the cache dropped, which takes root; point ``--data-dir`` at a store after
``echo 3 > /proc/sys/vm/drop_caches`` to measure one.)

Target: a 100k-task server answers within 10 s.

Usage::

    .venv/bin/python benchmarks/startup.py              # about 1 minute
    .venv/bin/python benchmarks/startup.py --tasks 200000 --repeat 5
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from _harness import (
    Check,
    MaestroServer,
    machine_load,
    median,
    rss_kib,
    run_checks,
    scratch_dir,
    table,
)
from seed import seed

TARGET_SECONDS = 10.0


@dataclass(frozen=True)
class Start:
    seconds: float
    rss_kib: int
    tasks: int


def start_once(data_dir: Path, log_dir: Path, timeout: float) -> Start:
    """Start a server on ``data_dir``; time it until ``/health`` answers, then stop it."""
    server = MaestroServer(data_dir, log_dir, ready_timeout=timeout)
    try:
        server.launch()
        seconds = server.wait_ready(poll=0.005)
        rss = rss_kib(server.pid)
        tasks = int(httpx.get(f"{server.url}/health", timeout=10).json()["counts"]["tasks"])
    finally:
        server.stop()
    return Start(seconds, rss, tasks)


def measure(options: argparse.Namespace) -> list[Check]:
    """Alternate empty and seeded starts; print the medians; return the target check."""
    with scratch_dir("maestro-startup-") as root:
        empty = root / "empty"
        empty.mkdir()
        if options.data_dir is not None:
            store: Path = options.data_dir
        else:
            store = root / "seeded"
            seeded = seed(store, options.tasks)
            print(f"seeded {seeded.tasks} tasks in {seeded.seconds:.1f}s", flush=True)
        starts: dict[str, list[Start]] = {"empty": [], "seeded": []}
        print(f"before: {machine_load()}", flush=True)
        for attempt in range(options.repeat):
            for label, data_dir in (("empty", empty), ("seeded", store)):
                start = start_once(data_dir, root, options.timeout)
                starts[label].append(start)
                print(
                    f"  run {attempt + 1} {label:<6} {start.tasks:>7} tasks: "
                    f"{start.seconds:6.2f} s, RSS {start.rss_kib / 1024:7.1f} MiB",
                    flush=True,
                )
    print(f"after: {machine_load()}")
    return report(starts)


def report(starts: dict[str, list[Start]]) -> list[Check]:
    figures = {
        label: (
            median([s.seconds for s in runs]),
            median([s.rss_kib / 1024 for s in runs]),
            runs[0].tasks,
        )
        for label, runs in starts.items()
    }
    base_seconds, base_rss, _ = figures["empty"]
    rows = [
        [
            f"{label} ({tasks} tasks)",
            f"{seconds:.2f}",
            f"{seconds / base_seconds:.1f}x",
            f"{rss:.1f}",
            f"{rss / base_rss:.1f}x",
            f"{(rss - base_rss) * 1024 / tasks:.1f}" if tasks else "-",
        ]
        for label, (seconds, rss, tasks) in figures.items()
    ]
    print()
    print(
        table(
            ["data dir", "start-up s", "x empty", "RSS MiB", "x empty", "KiB/task over empty"],
            rows,
        )
    )
    seconds, _, tasks = figures["seeded"]
    return [
        Check(
            f"start-up with {tasks} tasks",
            f"{seconds:.2f} s",
            f"< {TARGET_SECONDS:.0f} s",
            seconds < TARGET_SECONDS,
        )
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Start-up time and RSS of a server with 100k tasks vs an empty data dir."
    )
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks to seed (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="starts of each kind (default 3)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="measure this existing store instead of seeding"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="give up on a start after this many seconds"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_checks(measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
