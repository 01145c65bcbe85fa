"""What ``MAESTRO_FSYNC=1`` costs, and whether group commit works.

With fsync on, a write is answered only after its files, their folders and the
event log are fsynced; writes that commit while an fsync round runs share the
next round (group commit, ``store/commit.py``). So under fsync one writer waits
for a whole round per request, while many writers should each pay only a share
of one.

For fsync off and on, ``wrk`` drives ``POST /api/tasks`` (one new file, one event
per request) with 1 and with 16 connections (writers), ``--rounds`` times in
turn, and the medians are printed: req/s, p50, p99. Two figures then say whether
group commit works:

- throughput: 16 writers over 1 writer, with fsync on; without grouping it could
  not beat the same ratio with fsync off (the server is one process: with no
  waiting to overlap, more writers add nothing);
- ``strace -c`` (when installed): fsync calls per request with 1 and with 16
  writers. Without grouping each request costs its own file, folder and log
  fsync (3); grouped, the folder and log fsyncs are shared.

fsync on a tmpfs is free and shows nothing: the data goes under ``--dir``
(default: the system temp dir), and its filesystem is printed.

Usage::

    .venv/bin/python benchmarks/fsync_bench.py              # about 1 minute
    .venv/bin/python benchmarks/fsync_bench.py -d 10s --rounds 3 --dir /var/tmp
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from _harness import (
    LOOPBACK,
    MaestroServer,
    machine_load,
    median,
    scratch_dir,
    stop_on_sigterm,
    table,
)
from http_bench import Endpoint, Run, lua_script, run_wrk

WRITERS = (1, 16)


class FsyncServer(MaestroServer):
    """A ``maestro serve`` with ``MAESTRO_FSYNC`` set as asked (the harness's own
    servers keep every ``MAESTRO_*`` setting of the caller out)."""

    def __init__(self, data_dir: Path, log_dir: Path, fsync: bool) -> None:
        super().__init__(data_dir, log_dir)
        self.fsync = fsync

    def launch(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
        for name in ("HOST", "PORT", "DATA_DIR", "DEBUG"):
            env.pop(name, None)
        env["MAESTRO_FSYNC"] = "1" if self.fsync else "0"
        command = [sys.executable, "-m", "maestro", "serve", "--host", LOOPBACK]
        command += ["--port", str(self.port), "--data-dir", str(self.data_dir)]
        with self.log_path.open("ab") as log:
            self.started_at = time.perf_counter()
            # Its own session: a Ctrl-C reaches only us, and we stop it in order.
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )


def filesystem(path: Path) -> str:
    """The filesystem type ``path`` is on, from ``/proc/mounts`` (longest mount prefix)."""
    path = path.resolve()
    best, kind = "", "unknown"
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, fs_type, *_ = line.split()
        if (str(path) + "/").startswith(mount.rstrip("/") + "/") and len(mount) >= len(best):
            best, kind = mount, fs_type
    return f"{kind} (mounted at {best})"


def create_endpoint(server: MaestroServer) -> Endpoint:
    response = httpx.post(f"{server.url}/api/projects", json={"name": "fsync bench"}, timeout=30)
    response.raise_for_status()
    body = json.dumps({"projectId": response.json()["id"], "title": "Created by fsync_bench"})
    return Endpoint("POST /api/tasks", "POST", ["/api/tasks"], body)


def drive(
    server: MaestroServer, script: Path, options: argparse.Namespace, writers: int, duration: str
) -> Run:
    wrk = argparse.Namespace(wrk=options.wrk, threads=min(writers, 2), connections=writers)
    return run_wrk(server, script, wrk, duration)


def count_fsyncs(
    server: MaestroServer, script: Path, options: argparse.Namespace, writers: int
) -> tuple[int, int]:
    """(fsync calls, requests) during a wrk run with ``strace -c`` attached."""
    out = script.with_suffix(f".strace-{writers}")
    strace = subprocess.Popen(
        [
            options.strace,
            "-f",
            "-c",
            "-e",
            "trace=fsync,fdatasync",
            "-o",
            str(out),
            "-p",
            str(server.pid),
        ],
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # attached to every thread
    try:
        run = drive(server, script, options, writers, options.strace_duration)
    finally:
        strace.send_signal(signal.SIGINT)
        strace.wait(30)
    calls = 0
    for line in out.read_text().splitlines():
        match = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)(?:\s+\d+)?\s+(fsync|fdatasync)$", line)
        if match:
            calls += int(match.group(1))
    return calls, run.requests


def measure(options: argparse.Namespace) -> int:
    print(f"before: {machine_load()}")
    results: dict[tuple[bool, int], list[Run]] = {}
    fsyncs: dict[int, tuple[int, int]] = {}
    with scratch_dir("maestro-fsync-bench-", keep=options.keep) as logs:
        parent = Path(tempfile.mkdtemp(prefix="maestro-fsync-data-", dir=options.dir))
        print(f"data under {parent}: {filesystem(parent)}")
        try:
            for fsync in (False, True):
                with FsyncServer(parent / f"fsync-{int(fsync)}", logs, fsync) as server:
                    script = logs / f"post-{int(fsync)}.lua"
                    script.write_text(lua_script(create_endpoint(server), 1))
                    drive(server, script, options, WRITERS[-1], options.warmup)
                    for round_no in range(options.rounds):
                        order = WRITERS if round_no % 2 == 0 else tuple(reversed(WRITERS))
                        for writers in order:
                            run = drive(server, script, options, writers, options.duration)
                            results.setdefault((fsync, writers), []).append(run)
                            label = f"fsync {'on ' if fsync else 'off'} {writers:>2} writers"
                            print(f"  {label}  {run.figures()}", flush=True)
                    if fsync and options.strace:
                        for writers in WRITERS:
                            fsyncs[writers] = count_fsyncs(server, script, options, writers)
        finally:
            shutil.rmtree(parent, ignore_errors=True)
    return report(results, fsyncs)


def report(results: dict[tuple[bool, int], list[Run]], fsyncs: dict[int, tuple[int, int]]) -> int:
    def rps(fsync: bool, writers: int) -> float:
        return median([r.rps for r in results[(fsync, writers)]])

    rows = []
    for (fsync, writers), runs in sorted(results.items()):
        rows.append(
            [
                "on" if fsync else "off",
                str(writers),
                f"{rps(fsync, writers):.0f}",
                f"{median([r.p50_ms for r in runs]):.2f}",
                f"{median([r.p99_ms for r in runs]):.2f}",
                str(sum(r.errors for r in runs)),
            ]
        )
    print()
    print(table(["fsync", "writers", "req/s", "p50 ms", "p99 ms", "errors"], rows))
    few, many = WRITERS
    print(
        f"\nfsync on keeps {rps(True, few) / rps(False, few):.0%} of the req/s with {few} writer "
        f"and {rps(True, many) / rps(False, many):.0%} with {many} writers"
    )
    print(
        f"{many} writers / {few} writer: {rps(True, many) / rps(True, few):.2f}x with fsync on, "
        f"{rps(False, many) / rps(False, few):.2f}x with fsync off"
    )
    for writers, (calls, requests) in sorted(fsyncs.items()):
        print(
            f"under strace, {writers:>2} writers: {calls} fsync calls for {requests} requests "
            f"= {calls / max(requests, 1):.2f} per request"
        )
    errors = sum(r.errors for runs in results.values() for r in runs)
    print(f"after: {machine_load()}")
    return 1 if errors else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="POST req/s with MAESTRO_FSYNC off and on, 1 and 16 writers; group commit."
    )
    parser.add_argument("-d", "--duration", default="4s", help="wrk duration per run (default 4s)")
    parser.add_argument("--warmup", default="1s", help="wrk warm-up per server (default 1s)")
    parser.add_argument("--rounds", type=int, default=2, help="repeat all runs (default 2)")
    parser.add_argument("--dir", default=None, help="where the data dirs go (default: temp dir)")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="path to wrk")
    parser.add_argument(
        "--strace",
        default=shutil.which("strace"),
        help="path to strace for the fsync count (default: from PATH; '' to skip)",
    )
    parser.add_argument("--strace-duration", default="3s", help="wrk duration under strace")
    parser.add_argument("--keep", action="store_true", help="keep the server logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    stop_on_sigterm()
    return measure(options)


if __name__ == "__main__":
    sys.exit(main())
