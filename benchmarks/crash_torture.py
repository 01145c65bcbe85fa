"""Crash torture, full length: 200 cycles of concurrent writes, ``kill -9`` at a
random moment, restart and check (the engine: ``tests/stress/torture.py``; CI runs
15 cycles of it in ``tests/stress/test_crash_torture.py``).

Prints a progress line every 10 cycles and the summary: cycles, acknowledged writes
checked, lost, unparsable, phantom, invariant failures. Exits 1 on any failure.

    .venv/bin/python benchmarks/crash_torture.py             # 200 cycles, ~8 min
    .venv/bin/python benchmarks/crash_torture.py --fsync     # the same with MAESTRO_FSYNC=1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# The engine and the server process class live with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import RunningServer
from tests.stress.torture import torture

from _harness import machine_load, scratch_dir, stop_on_sigterm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--writers", type=int, default=6, help="concurrent writer threads")
    parser.add_argument("--seed", type=int, default=200)
    parser.add_argument("--fsync", action="store_true", help="run the server with MAESTRO_FSYNC=1")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and server log")
    args = parser.parse_args()
    stop_on_sigterm()
    print(machine_load())
    with scratch_dir("maestro-torture-", keep=args.keep) as scratch:
        env = {"MAESTRO_FSYNC": "1"} if args.fsync else {}
        server = RunningServer(scratch / "data", env=env)
        try:
            server.start()
            report = torture(
                server, cycles=args.cycles, writers=args.writers, seed=args.seed, progress=print
            )
        finally:
            server.stop()
    print(report.summary())
    for failure in report.failures:
        print(f"  {failure}")
    print(machine_load())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
