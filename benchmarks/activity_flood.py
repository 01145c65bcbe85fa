"""Does a flood of live activity slow the API? ``GET /api/tasks/:id`` latency under
load, without and with 20 agents forwarding their transcripts.

A real ``maestro serve`` runs on a seeded 1k-task store. ``wrk`` drives
``GET /api/tasks/:id`` (random ids, keep-alive connections, as ``http_bench.py``
does) in runs of ``--duration``, alternately:

- without activity;
- with activity: ``--agents`` (20) agents each showing ``--rate`` (10) lines a
  second, sent the way ``maestro worker init`` sends them: one
  ``ActivityForwarder`` per agent (``maestro.agents.activity``), its own thread
  and connection, a batch at most every 0.25 s, so about 80 ``POST
  /api/sessions/:id/activity`` a second. One WebSocket client watches one of
  the sessions (``?sessionId=``), so every batch of it is also encoded and sent.

The two kinds of run alternate over ``--rounds`` rounds (which goes first
alternates too), so both are measured minutes apart at most on a shared, noisy
machine; medians over the rounds are compared.

Target: p99 of ``GET /api/tasks/:id`` with activity within 1.5x of without.

Usage::

    .venv/bin/python benchmarks/activity_flood.py            # about 1 minute
    .venv/bin/python benchmarks/activity_flood.py --quick    # a smoke run, ~15 s
    .venv/bin/python benchmarks/activity_flood.py -d 10s --rounds 5
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from websockets.sync.client import connect

from _harness import (
    Check,
    MaestroServer,
    cpu_seconds,
    machine_load,
    median,
    run_checks,
    scratch_dir,
    table,
)
from http_bench import Endpoint, Run, lua_script, run_wrk
from maestro.agents.activity import ActivityForwarder
from maestro.client import HttpClient
from seed import project_id, seed

P99_TARGET_RATIO = 1.5
QUIET = "without activity"
FLOODED = "with activity"


@dataclass
class FloodFigures:
    """What the agents and the watching client did during one flooded run."""

    seconds: float
    lines: int
    sent: int
    batches: int
    dropped: int
    frames: int
    watched_entries: int


class Watcher:
    """One WebSocket client watching a session, counting its activity frames."""

    def __init__(self, ws_url: str, session_id: str) -> None:
        self.connection = connect(
            f"{ws_url}?sessionId={session_id}", compression=None, max_size=2**22
        )
        self.frames = 0
        self.entries = 0
        self._thread = threading.Thread(target=self._read, name="watcher", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for frame in self.connection:
            message = json.loads(frame)
            if message.get("event") == "session:activity":
                self.frames += 1
                self.entries += len(message["data"]["entries"])

    def close(self) -> None:
        self.connection.close()
        self._thread.join(timeout=5)


class Flood:
    """``agents`` forwarders, fed ``rate`` lines a second each from one thread."""

    def __init__(self, url: str, session_ids: list[str], rate: float) -> None:
        self.url = url
        self.session_ids = session_ids
        self.rate = rate
        self.lines = 0
        self._stop = threading.Event()
        self._forwarders: list[ActivityForwarder] = []
        self._feeder = threading.Thread(target=self._feed, name="feeder", daemon=True)
        self._started = 0.0

    def start(self) -> None:
        self._forwarders = [
            ActivityForwarder(HttpClient(self.url, retries=0, timeout=5), session_id).__enter__()
            for session_id in self.session_ids
        ]
        self._started = time.perf_counter()
        self._feeder.start()

    def _feed(self) -> None:
        period = 1 / self.rate
        tick = 0
        while not self._stop.is_set():
            for agent, forwarder in enumerate(self._forwarders):
                # About what a tool call line looks like in a transcript.
                forwarder.add([f"→ Bash: pytest tests/test_module_{agent}.py -q -k case_{tick}"])
                self.lines += 1
            tick += 1
            # On schedule, not after: a late tick does not lower the rate.
            delay = self._started + tick * period - time.perf_counter()
            if delay > 0:
                self._stop.wait(delay)

    def stop(self) -> FloodFigures:
        self._stop.set()
        self._feeder.join()
        seconds = time.perf_counter() - self._started
        for forwarder in self._forwarders:
            forwarder.close()
        return FloodFigures(
            seconds=seconds,
            lines=self.lines,
            sent=sum(f.sent for f in self._forwarders),
            batches=sum(f.batches for f in self._forwarders),
            dropped=sum(f.dropped + len(f.pending) for f in self._forwarders),
            frames=0,
            watched_entries=0,
        )


def make_sessions(url: str, count: int) -> list[str]:
    with httpx.Client(base_url=url, timeout=30) as api:
        ids = []
        for k in range(count):
            body = {"projectId": project_id(1), "taskIds": [], "name": f"Flooding agent {k}"}
            response = api.post("/api/sessions", json=body)
            response.raise_for_status()
            ids.append(response.json()["id"])
        return ids


def flooded_run(
    server: MaestroServer,
    script: Path,
    options: argparse.Namespace,
    session_ids: list[str],
) -> tuple[Run, FloodFigures]:
    """One wrk run while the agents forward and a client watches the first one."""
    watcher = Watcher(server.ws_url, session_ids[0])
    flood = Flood(server.url, session_ids, options.rate)
    flood.start()
    try:
        time.sleep(0.5)  # the forwarders in their stride before measuring
        run = run_wrk(server, script, options, options.duration)
    finally:
        figures = flood.stop()
        time.sleep(0.2)  # the last frames on their way to the watcher
        watcher.close()
    figures.frames, figures.watched_entries = watcher.frames, watcher.entries
    return run, figures


def measure(options: argparse.Namespace) -> list[Check]:
    """Seed, serve, alternate quiet and flooded runs; print the table; return the check."""
    results: dict[str, list[Run]] = {QUIET: [], FLOODED: []}
    floods: list[FloodFigures] = []
    cpu: dict[str, list[float]] = {QUIET: [], FLOODED: []}
    started = time.perf_counter()
    print(f"before: {machine_load()}", flush=True)
    with scratch_dir("maestro-activity-flood-", keep=options.keep) as root:
        seeded = seed(root / "data", options.tasks)
        with MaestroServer(seeded.data_dir, root) as server:
            session_ids = make_sessions(server.url, options.agents)
            ids = seeded.sample_task_ids(options.sample)
            endpoint = Endpoint("GET /api/tasks/:id", "GET", [f"/api/tasks/{i}" for i in ids])
            script = root / "get-task.lua"
            script.write_text(lua_script(endpoint, 1))
            run_wrk(server, script, options, options.warmup)
            for round_no in range(options.rounds):
                order = [QUIET, FLOODED] if round_no % 2 == 0 else [FLOODED, QUIET]
                for kind in order:
                    cpu_before = cpu_seconds(server.pid)
                    if kind == QUIET:
                        run = run_wrk(server, script, options, options.duration)
                        note = ""
                    else:
                        run, flood = flooded_run(server, script, options, session_ids)
                        floods.append(flood)
                        note = (
                            f"  [{flood.sent / flood.seconds:.0f} lines/s in "
                            f"{flood.batches / flood.seconds:.0f} POST/s, "
                            f"{flood.frames} frames watched]"
                        )
                    cpu[kind].append((cpu_seconds(server.pid) - cpu_before) / run.seconds)
                    results[kind].append(run)
                    print(f"  round {round_no + 1} {kind:<16} {run.figures()}{note}", flush=True)
            server.check_alive()
    print(f"after: {machine_load()}; took {time.perf_counter() - started:.0f}s")
    return report(results, floods, cpu, options)


def report(
    results: dict[str, list[Run]],
    floods: list[FloodFigures],
    cpu: dict[str, list[float]],
    options: argparse.Namespace,
) -> list[Check]:
    rows = []
    for kind in (QUIET, FLOODED):
        runs = results[kind]
        rows.append(
            [
                kind,
                f"{median([r.rps for r in runs]):.0f}",
                f"{median([r.p50_ms for r in runs]):.2f}",
                f"{median([r.p99_ms for r in runs]):.2f}",
                f"{median(cpu[kind]) * 100:.0f}%",
                str(sum(r.errors for r in runs)),
            ]
        )
    print()
    print(table(["GET /api/tasks/:id", "req/s", "p50 ms", "p99 ms", "server CPU", "errors"], rows))
    p99 = {kind: median([r.p99_ms for r in results[kind]]) for kind in results}
    p50 = {kind: median([r.p50_ms for r in results[kind]]) for kind in results}
    ratio = p99[FLOODED] / p99[QUIET]
    seconds = sum(f.seconds for f in floods)
    lines, sent = sum(f.lines for f in floods), sum(f.sent for f in floods)
    frames = sum(f.frames for f in floods)
    watched = sum(f.watched_entries for f in floods)
    print(
        f"\nactivity: {options.agents} agents x {options.rate:g} lines/s: "
        f"{lines / seconds:.0f} lines/s shown, {sent / seconds:.0f} lines/s stored in "
        f"{sum(f.batches for f in floods) / seconds:.0f} POST/s; "
        f"{sum(f.dropped for f in floods)} lines not forwarded; the watching client got "
        f"{frames} frames with {watched} entries"
    )
    paired = [
        f"{flooded.p99_ms / quiet.p99_ms:.2f}"
        for quiet, flooded in zip(results[QUIET], results[FLOODED], strict=True)
    ]
    print(
        f"p99 with / without activity: {ratio:.2f}x "
        f"(p50: {p50[FLOODED] / p50[QUIET]:.2f}x), medians of {options.rounds} round(s); "
        f"round by round: {', '.join(paired)}"
    )
    checks = [
        Check(
            "GET /api/tasks/:id p99 with / without 20 agents' activity",
            f"{ratio:.2f}x",
            f"<= {P99_TARGET_RATIO}x",
            ratio <= P99_TARGET_RATIO,
        ),
        Check(
            "activity lines stored / shown",
            f"{sent}/{lines}",
            "all",
            sent == lines,
        ),
        Check("the watching client got frames", str(frames), "> 0", frames > 0),
    ]
    errors = sum(r.errors for runs in results.values() for r in runs)
    if errors:
        checks.append(Check("requests answered 2xx", f"{errors} errors", "0", False))
    return checks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="GET /api/tasks/:id latency under load, without and with 20 agents' "
        "activity flooding the server (wrk)."
    )
    parser.add_argument("--agents", type=int, default=20, help="flooding agents (default 20)")
    parser.add_argument(
        "--rate", type=float, default=10.0, help="lines a second per agent (default 10)"
    )
    parser.add_argument("--tasks", type=int, default=1000, help="seeded tasks (default 1000)")
    parser.add_argument("--sample", type=int, default=1000, help="task ids GET cycles through")
    parser.add_argument("-t", "--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "-c", "--connections", type=int, default=16, help="wrk connections (default 16)"
    )
    parser.add_argument("-d", "--duration", default="5s", help="wrk duration per run (default 5s)")
    parser.add_argument("--warmup", default="2s", help="wrk warm-up (default 2s)")
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds of one run of each kind (default 4)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 1 s runs, 1 round (rough figures)"
    )
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="path to wrk")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    options = parser.parse_args(argv)
    if options.quick:
        options.duration, options.warmup, options.rounds = "1s", "1s", 1
    if options.agents < 1 or options.rate <= 0 or options.rounds < 1:
        parser.error("--agents and --rounds must be at least 1, --rate more than 0")
    return options


def main(argv: list[str] | None = None) -> int:
    return run_checks(measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
