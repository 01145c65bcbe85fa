"""WebSocket fan-out latency: how long after a change every connected client has it.

A real ``maestro serve`` runs on a seeded 1k-task store. For each client count
(100, then 1,000 by default) that many WebSocket clients connect to ``/ws``,
spread over a few worker processes so that receiving is not serialised on one
Python event loop. Then the main process makes K changes through the REST API
(``PATCH /api/tasks/:id``, one every ``--interval`` seconds) on one keep-alive
connection. Each PATCH puts a marker in the task's description::

    bench:<run>:<k>:<CLOCK_MONOTONIC ns just before the request is sent>

The ``task:updated`` event carries the full task, so every client finds the
marker in the frame it receives and records ``now - sent``. CLOCK_MONOTONIC is
one clock for every process on the machine, so the figure is end-to-end: request
parsing, the store commit (file write + event log), the hub, the server's send,
the kernel, and the client's own receive path (which competes for the same 2
CPUs, so this is an upper bound).

Reported: p50/p99/max over all (client, event) pairs, events that never arrived,
and, as the baseline, the REST round trip of the same PATCHes - both with no
client connected and during each fan-out run. Also the CPU time per change of
the server (from ``/proc/<pid>/stat``) and of the clients: it depends far less than
the latencies on the machine's other load; on a core of its own the server
reaches the last client of a change roughly its CPU time after the first.

Target: p99 < 100 ms at 1,000 clients.

Usage::

    .venv/bin/python benchmarks/ws_fanout.py                 # about 1 minute
    .venv/bin/python benchmarks/ws_fanout.py --clients 10,100,1000 --events 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import sys
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import httpx
from websockets.asyncio.client import ClientConnection, connect

from _harness import (
    Check,
    MaestroServer,
    cpu_seconds,
    machine_load,
    percentile,
    raise_nofile_limit,
    run_checks,
    scratch_dir,
    table,
)
from seed import seed, task_id

P99_TARGET_MS = 100.0
_CONNECT_BATCH = 50


@dataclass
class WorkerResult:
    """What one receiving process saw (sent back to the main process, pickled)."""

    connected: int
    latencies_ns: list[int] = field(default_factory=list)
    missing: int = 0
    closed_early: int = 0
    cpu_seconds: float = 0.0  # this process's CPU while the changes were received
    error: str | None = None


# -- receiving side (runs in worker processes) --------------------------------


async def _receive(ws: ClientConnection, marker: str, expected: int, sink: list[int]) -> int:
    """Record the latency of each marked event; return how many arrived."""
    received = 0
    async for frame in ws:
        now = time.monotonic_ns()
        if not isinstance(frame, str):
            continue
        start = frame.find(marker)
        if start < 0:
            continue
        # ...:<k>:<sent_ns>" -- the sent time runs to the closing quote.
        stamp_start = frame.index(":", start + len(marker)) + 1
        sent = int(frame[stamp_start : frame.index('"', stamp_start)])
        sink.append(now - sent)
        received += 1
        if received >= expected:
            break
    return received


async def _worker(url: str, clients: int, run: str, expected: int, pipe: Connection) -> None:
    sockets: list[ClientConnection] = []
    result = WorkerResult(connected=0)
    try:
        for first in range(0, clients, _CONNECT_BATCH):
            batch = range(first, min(clients, first + _CONNECT_BATCH))
            sockets += await asyncio.gather(
                *(connect(url, compression=None, ping_interval=None, max_size=2**20) for _ in batch)
            )
        result.connected = len(sockets)
        marker = f"bench:{run}:"
        receivers = [
            asyncio.create_task(_receive(ws, marker, expected, result.latencies_ns))
            for ws in sockets
        ]
        pipe.send(("ready", len(sockets)))
        cpu_before = time.process_time()
        grace = await asyncio.to_thread(pipe.recv)  # the writer is done: wait this long
        done, pending = await asyncio.wait(receivers, timeout=float(grace))
        for task in pending:
            task.cancel()
        for task in done:
            result.missing += expected - task.result() if task.exception() is None else expected
        result.missing += expected * len(pending)
        # Still open here unless the server closed it (e.g. 1013: too slow to keep up).
        result.closed_early = sum(1 for ws in sockets if ws.close_code is not None)
        result.cpu_seconds = time.process_time() - cpu_before
    except Exception as error:  # reported, not raised: the main process decides
        result.error = f"{type(error).__name__}: {error}"
        with contextlib.suppress(Exception):
            pipe.send(("ready", len(sockets)))
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    pipe.send(("result", result))


def worker_main(url: str, clients: int, run: str, expected: int, pipe: Connection) -> None:
    """Entry point of a receiving process."""
    raise_nofile_limit()
    asyncio.run(_worker(url, clients, run, expected, pipe))


# -- writing side (the main process) ----------------------------------------


def patch_many(
    client: httpx.Client, target: str, run: str, count: int, interval: float
) -> list[int]:
    """Send ``count`` marked PATCHes; return each REST round trip in ns."""
    round_trips = []
    for k in range(count):
        sent = time.monotonic_ns()
        response = client.patch(
            f"/api/tasks/{target}", json={"description": f"bench:{run}:{k}:{sent}"}
        )
        round_trips.append(time.monotonic_ns() - sent)
        response.raise_for_status()
        time.sleep(interval)
    return round_trips


@dataclass
class FanoutRun:
    clients: int
    connect_seconds: float
    latencies_ms: list[float]
    rest_ms: list[float]
    missing: int
    closed_early: int
    server_cpu_ms: float  # server CPU time per change, sending to every client included
    client_cpu_ms: float  # the clients' CPU time per change (they share the machine)


def fan_out(server: MaestroServer, clients: int, options: argparse.Namespace) -> FanoutRun:
    """Connect ``clients`` clients over the workers, make the changes, gather latencies."""
    run = uuid.uuid4().hex[:8]
    context = multiprocessing.get_context("spawn")
    workers = max(1, min(options.workers, clients))
    shares = [clients // workers + (1 if w < clients % workers else 0) for w in range(workers)]
    pipes: list[Connection] = []
    processes = []
    reported = False
    try:
        started = time.perf_counter()
        for share in shares:
            ours, theirs = context.Pipe()
            process = context.Process(
                target=worker_main,
                args=(server.ws_url, share, run, options.events, theirs),
                daemon=True,
            )
            process.start()
            pipes.append(ours)
            processes.append(process)
        for pipe in pipes:
            if not pipe.poll(120):
                raise RuntimeError("a client worker did not connect within 120 s")
            pipe.recv()
        connect_seconds = time.perf_counter() - started
        time.sleep(0.5)  # let the handshakes' tail settle before the first change
        cpu_before = cpu_seconds(server.pid)
        try:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                rest = patch_many(client, options.target, run, options.events, options.interval)
        except httpx.TransportError:
            server.check_alive()
            raise
        for pipe in pipes:
            pipe.send(options.grace)
        results: list[WorkerResult] = []
        for pipe in pipes:
            if not pipe.poll(options.grace + 60):
                raise RuntimeError("a client worker did not report")
            kind, payload = pipe.recv()
            while kind != "result":
                kind, payload = pipe.recv()
            results.append(payload)
        server_cpu = cpu_seconds(server.pid) - cpu_before
        reported = True
    finally:
        for process in processes:
            # Workers exit by themselves once they have reported; otherwise stop them now.
            process.join(10 if reported else 0)
            if process.is_alive():
                process.terminate()
                process.join(5)
    errors = [r.error for r in results if r.error]
    if errors:
        raise RuntimeError(f"client workers failed: {errors}")
    connected = sum(r.connected for r in results)
    if connected != clients:
        raise RuntimeError(f"only {connected} of {clients} clients connected")
    return FanoutRun(
        clients=clients,
        connect_seconds=connect_seconds,
        latencies_ms=[ns / 1e6 for r in results for ns in r.latencies_ns],
        rest_ms=[ns / 1e6 for ns in rest],
        missing=sum(r.missing for r in results),
        closed_early=sum(r.closed_early for r in results),
        server_cpu_ms=server_cpu * 1000 / options.events,
        client_cpu_ms=sum(r.cpu_seconds for r in results) * 1000 / options.events,
    )


def rest_only(server: MaestroServer, options: argparse.Namespace) -> FanoutRun:
    """The baseline: the same PATCHes with no client connected."""
    cpu_before = cpu_seconds(server.pid)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        rest = patch_many(client, options.target, "baseline", options.events, options.interval / 5)
    return FanoutRun(
        clients=0,
        connect_seconds=0.0,
        latencies_ms=[],
        rest_ms=[ns / 1e6 for ns in rest],
        missing=0,
        closed_early=0,
        server_cpu_ms=(cpu_seconds(server.pid) - cpu_before) * 1000 / options.events,
        client_cpu_ms=0.0,
    )


def _ms(values: list[float], pct: float) -> str:
    return f"{percentile(values, pct):.1f}" if values else "-"


def measure(options: argparse.Namespace) -> list[Check]:
    """Start one server; measure the REST baseline, then each client count."""
    limit = raise_nofile_limit()
    needed = max(options.clients) + 100
    if limit < needed:
        raise SystemExit(f"open-file limit {limit} is below the {needed} this run needs")
    runs: list[FanoutRun] = []
    print(f"before: {machine_load()}", flush=True)
    with scratch_dir("maestro-ws-fanout-") as root:
        seeded = seed(root / "data", options.tasks)
        with MaestroServer(seeded.data_dir, root) as server:
            baseline = rest_only(server, options)
            print(
                f"REST PATCH with no client connected: p50 {_ms(baseline.rest_ms, 50)} ms, "
                f"p99 {_ms(baseline.rest_ms, 99)} ms, server CPU "
                f"{baseline.server_cpu_ms:.2f} ms per change",
                flush=True,
            )
            for clients in options.clients:
                run = fan_out(server, clients, options)
                runs.append(run)
                print(
                    f"{clients} clients connected in {run.connect_seconds:.1f}s; "
                    f"{options.events} events -> {len(run.latencies_ms)} deliveries, "
                    f"p50 {_ms(run.latencies_ms, 50)} ms, p99 {_ms(run.latencies_ms, 99)} ms, "
                    f"missing {run.missing}, closed early {run.closed_early}, "
                    f"CPU per change: server {run.server_cpu_ms:.1f} ms, "
                    f"clients {run.client_cpu_ms:.1f} ms",
                    flush=True,
                )
            server.check_alive()
    print(f"after: {machine_load()}")
    return report([baseline, *runs])


def report(runs: list[FanoutRun]) -> list[Check]:
    """Print the table (the first run is the no-client baseline); return the checks."""
    rows = [
        [
            f"{run.clients}" if run.clients else "0 (baseline)",
            str(len(run.latencies_ms)) if run.clients else "-",
            _ms(run.latencies_ms, 50),
            _ms(run.latencies_ms, 99),
            f"{max(run.latencies_ms):.1f}" if run.latencies_ms else "-",
            str(run.missing) if run.clients else "-",
            _ms(run.rest_ms, 50),
            _ms(run.rest_ms, 99),
            f"{run.server_cpu_ms:.2f}",
            f"{run.client_cpu_ms:.2f}" if run.clients else "-",
        ]
        for run in runs
    ]
    print()
    print(
        table(
            [
                "clients",
                "deliveries",
                "fan-out p50 ms",
                "p99 ms",
                "max ms",
                "missing",
                "REST p50 ms",
                "REST p99 ms",
                "server CPU ms/change",
                "clients CPU ms/change",
            ],
            rows,
        )
    )
    checks = []
    largest = max(runs, key=lambda r: r.clients)
    if largest.latencies_ms:
        p99 = percentile(largest.latencies_ms, 99)
        checks.append(
            Check(
                f"fan-out p99 at {largest.clients} clients",
                f"{p99:.1f} ms",
                f"< {P99_TARGET_MS:.0f} ms",
                p99 < P99_TARGET_MS and largest.missing == 0,
            )
        )
    lost = sum(run.missing for run in runs)
    if lost:
        checks.append(Check("every event delivered", f"{lost} missing", "0 missing", False))
    return checks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="WebSocket fan-out latency (REST change -> every client) at 100 and 1,000 "
        "clients."
    )
    parser.add_argument(
        "--clients",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[100, 1000],
        help="client counts to measure (default 100,1000)",
    )
    parser.add_argument("--events", type=int, default=200, help="changes per run (default 200)")
    parser.add_argument(
        "--interval", type=float, default=0.1, help="seconds between changes (default 0.1)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="client processes to spread clients over (default 2)"
    )
    parser.add_argument("--tasks", type=int, default=1000, help="seeded tasks (default 1000)")
    parser.add_argument(
        "--grace", type=float, default=15.0, help="seconds to wait for stragglers (default 15)"
    )
    parser.set_defaults(target=task_id(0))  # the seeded task every change is made to
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_checks(measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
