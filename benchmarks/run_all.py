"""Run every benchmark with its defaults and print one summary of the targets.

Each benchmark prints its own figures as it goes; the summary at the end holds
each target check (PASS/MISS) and any benchmark that failed to run. Exit status
is 0 when every target was met, 1 otherwise.

Usage::

    .venv/bin/python benchmarks/run_all.py           # about 5 minutes
    .venv/bin/python benchmarks/run_all.py --quick   # shorter runs, rougher figures
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable

import activity_flood
import cli_startup
import http_bench
import runner_fleet
import startup
import ws_fanout
from _harness import Check, stop_on_sigterm

Measure = Callable[[argparse.Namespace], list[Check]]

_QUICK_ARGS: dict[str, list[str]] = {
    "http_bench": ["-d", "2s"],
    "ws_fanout": ["--events", "50"],
    "startup": ["--repeat", "1"],
    "cli_startup": ["--rounds", "5"],
    "activity_flood": ["--quick"],
    "runner_fleet": ["--spawns", "12", "--baseline", "1"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run all Maestro benchmarks; print a summary.")
    parser.add_argument("--quick", action="store_true", help="shorter runs (rougher figures)")
    parser.add_argument(
        "--only",
        default=",".join(_QUICK_ARGS),
        help=f"comma-separated subset of {','.join(_QUICK_ARGS)}",
    )
    options = parser.parse_args(argv)
    stop_on_sigterm()
    benchmarks: dict[str, tuple[Callable[[list[str] | None], argparse.Namespace], Measure]] = {
        "http_bench": (http_bench.parse_args, http_bench.measure),
        "ws_fanout": (ws_fanout.parse_args, ws_fanout.measure),
        "startup": (startup.parse_args, startup.measure),
        "cli_startup": (cli_startup.parse_args, cli_startup.measure),
        "activity_flood": (activity_flood.parse_args, activity_flood.measure),
        "runner_fleet": (runner_fleet.parse_args, runner_fleet.measure),
    }
    checks: list[Check] = []
    started = time.perf_counter()
    for name in options.only.split(","):
        parse, measure = benchmarks[name]
        print(f"\n=== {name} ===", flush=True)
        try:
            checks += measure(parse(_QUICK_ARGS[name] if options.quick else []))
        except KeyboardInterrupt:
            print("interrupted; every server started has been stopped", file=sys.stderr)
            return 130
        except Exception as error:
            traceback.print_exc()
            checks.append(Check(name, f"failed: {type(error).__name__}: {error}", "runs", False))
    print(f"\n=== summary ({time.perf_counter() - started:.0f} s) ===")
    for check in checks:
        print(check.line())
    return 0 if all(check.met for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
