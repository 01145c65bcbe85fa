"""Agents on many machines: a fleet of ``maestro runner`` processes sharing the
spawns of one server (or of two instances on one PostgreSQL database), and how
soon the server notices a runner that died.

Everything is a real process: ``maestro serve`` with an admin token
(``MAESTRO_TOKEN``) and a short lease (``MAESTRO_RUNNER_TIMEOUT``, ``--timeout``);
``--runners`` runners (``maestro runner --pty --no-dispatch``), each with a
runner token of its own (``POST /api/tokens``), its own ``MAESTRO_HOME`` and
``--max-concurrent`` slots; in their terminals ``maestro worker init`` runs the
``custom`` agent, a Python line that sleeps 1 s.

1. Baseline: ``--baseline`` spawns one at a time on the idle fleet, each timed
   from the spawn request until the session is ``completed``: what one session
   costs end to end (claim, terminal, ``worker init``, the agent, the reports).
2. The batch: ``--spawns`` spawns (one task each) asked at once, timed until
   every session is ``completed`` or ``failed``, while ``GET /api/sessions`` is
   polled for the most sessions each runner held at once (claimed, spawning or
   running). The runners' logs say which sessions each one opened (``opened
   session ID in ...``): a session opened by two runners is a duplicate. The
   wall time is compared with the ideal ``ceil(spawns / total capacity)`` waves
   of one baseline session each.
3. A lost runner: one more runner (labelled, so only it takes the spawn) runs an
   agent sleeping 120 s; once its session is ``running`` the runner and its
   terminals' process groups get ``kill -9``, as when a machine dies. Timed from
   the kill until the session is ``failed`` with a ``runner_lost`` event and until
   ``GET /api/runners/ID`` says ``lost`` (each polled every 50 ms), and reported
   against the lease itself (``MAESTRO_RUNNER_TIMEOUT``), its baseline: the runner
   heartbeats every third of the lease and the server sweeps every second, so
   detection lands between 2/3 of the lease and the lease plus a second.

With ``--database-url`` the store is a fresh schema of that PostgreSQL database
(dropped at the end) served by two instances; spawns, polls and runners
alternate between them, so claims race across instances.

Targets: no session opened twice; every session completed; no runner above its
capacity; the lost runner detected within the lease + 1.5 s.

Usage::

    .venv/bin/python benchmarks/runner_fleet.py          # JSON store, about 30 s
    .venv/bin/python benchmarks/runner_fleet.py --database-url \\
        postgresql://postgres@127.0.0.1:5432/test       # two instances on PostgreSQL
    .venv/bin/python benchmarks/runner_fleet.py --runners 5 --capacity 2 --spawns 60
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _harness import (
    Check,
    MaestroServer,
    machine_load,
    median,
    percentile,
    run_checks,
    scratch_dir,
    table,
)
from postgres_bench import DEFAULT_DATABASE_URL, fresh_schema

DETECTION_SLACK_SECONDS = 1.5
FINISHED = ("completed", "failed")
HELD = ("spawning", "running")
LOST_LABEL = "doomed"
_OPENED = re.compile(r"opened session (\S+) in .*?\((?:pty pid (\d+))?")

Json = dict[str, Any]


def python_agent(code: str) -> str:
    """A ``MAESTRO_AGENT_COMMAND`` (the ``custom`` adapter) running a line of Python."""
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


QUICK_AGENT = python_agent("import time; time.sleep(1)")
LONG_AGENT = python_agent("import time; time.sleep(120)")


def ok(response: httpx.Response) -> Any:
    """The body of a 2xx answer; an error naming the request and its body if not."""
    if not response.is_success:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text}"
        )
    return response.json()


@dataclass
class RunnerProcess:
    """One ``maestro runner --pty`` process, in a process group of its own, its
    log in a file. Its terminals lead process groups of their own (``pty pid``
    in the log)."""

    name: str
    server: MaestroServer
    root: Path  # the script's scratch directory: the runner's home and the work are in it
    capacity: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def home(self) -> Path:
        return self.root / "runners" / self.name

    @property
    def log_path(self) -> Path:
        return self.home / "runner.log"

    def start(self, token: str, agent: str, labels: Sequence[str] = ()) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
        env.update(MAESTRO_HOME=str(self.home), MAESTRO_AGENT_COMMAND=agent)
        command = [sys.executable, "-m", "maestro", "runner", "--pty", "--name", self.name]
        command += ["--max-concurrent", str(self.capacity), "--no-dispatch"]
        command += ["--token", token, "--server", self.server.url]
        for label in labels:
            command += ["--label", label]
        with self.log_path.open("ab") as log:
            # Its own session (and process group): kill -9 of the group is a dead
            # machine, and a Ctrl-C reaches only this script, which stops it in order.
            self.process = subprocess.Popen(
                command,
                cwd=self.home,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_connected(self, timeout: float) -> float:
        """Wait for the log's ``connected to URL``; return the seconds it took."""
        assert self.process is not None, "start() first"
        started = time.perf_counter()
        while f"connected to {self.server.url}" not in self.log():
            if self.process.poll() is not None:
                raise RuntimeError(f"runner {self.name} exited:\n{self.log()[-3000:]}")
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"runner {self.name} not connected in {timeout}s")
            time.sleep(0.05)
        return time.perf_counter() - started

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def opened(self) -> list[str]:
        """The sessions this runner opened, in order, as its log says."""
        return [match[1] for match in _OPENED.finditer(self.log())]

    def terminal_pids(self) -> list[int]:
        return [int(match[2]) for match in _OPENED.finditer(self.log()) if match[2]]

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (it unregisters), then ``kill -9`` of its group after ``timeout``."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """``kill -9`` of the runner's process group and of its terminals' groups."""
        process = self.process
        assert process is not None, "start() first"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for pid in self.terminal_pids():
            kill_group_if_ours(pid, self.root)


def under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def kill_group_if_ours(pid: int, root: Path) -> None:
    """``kill -9`` of process group ``pid`` if its leader still works under ``root``
    (a finished terminal's pid may since belong to some other process)."""
    with contextlib.suppress(OSError):
        if under(Path(os.readlink(f"/proc/{pid}/cwd")), root):
            os.killpg(pid, signal.SIGKILL)


def kill_strays(root: Path) -> int:
    """``kill -9`` of every process of this user working under ``root`` (a runner,
    ``worker init`` or agent left behind: all started by this script, in its
    scratch directory); return how many there were."""
    found = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            if under(Path(os.readlink(entry / "cwd")), root):
                os.kill(int(entry.name), signal.SIGKILL)
                found += 1
        except OSError:
            continue  # gone, or not ours to read
    return found


class Fleet:
    """The runners this script started, stopped (and their leftovers killed) on
    ``close``, whatever happened."""

    def __init__(self, root: Path, admin: httpx.Client) -> None:
        self.root = root
        self.admin = admin
        self.runners: list[RunnerProcess] = []
        self.strays = 0

    def start(
        self,
        name: str,
        server: MaestroServer,
        capacity: int,
        agent: str,
        labels: Sequence[str] = (),
    ) -> RunnerProcess:
        issued = ok(self.admin.post("/api/tokens", json={"runner": name}))
        runner = RunnerProcess(name, server, self.root, capacity)
        self.runners.append(runner)
        runner.start(issued["token"], agent, labels)
        return runner

    def close(self) -> None:
        for runner in self.runners:
            runner.stop()
        self.strays = kill_strays(self.root)
        if self.strays:
            print(f"killed {self.strays} process(es) left under {self.root}", file=sys.stderr)


@dataclass
class Watch:
    """The most sessions each runner held at once (claimed, spawning or running),
    as ``GET /api/sessions`` showed them."""

    most: Counter[str] = field(default_factory=Counter)

    def look(self, api: httpx.Client) -> dict[str, Json]:
        sessions: list[Json] = ok(api.get("/api/sessions"))
        held = Counter(
            s["metadata"]["runnerId"]
            for s in sessions
            if s["status"] in HELD and s["metadata"].get("runnerId")
        )
        for runner_id, count in held.items():
            self.most[runner_id] = max(self.most[runner_id], count)
        return {s["id"]: s for s in sessions}


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> float:
    """Poll ``condition`` until true; the seconds it took (an error after ``timeout``)."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"gave up after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)
    return time.perf_counter() - started


def spawn(api: httpx.Client, project_id: str, task_id: str, **fields: Any) -> str:
    body = {"projectId": project_id, "taskIds": [task_id], **fields}
    session_id: str = ok(api.post("/api/sessions/spawn", json=body))["sessionId"]
    return session_id


def make_tasks(api: httpx.Client, project_id: str, count: int, prefix: str) -> list[str]:
    return [
        ok(api.post("/api/tasks", json={"projectId": project_id, "title": f"{prefix} {n}"}))["id"]
        for n in range(count)
    ]


def wait_finished(api: httpx.Client, session_id: str, timeout: float) -> str:
    """Poll the session every 50 ms until it is completed or failed; its status."""
    status = ""

    def finished() -> bool:
        nonlocal status
        status = ok(api.get(f"/api/sessions/{session_id}"))["status"]
        return status in FINISHED

    wait_for(finished, timeout, f"session {session_id} to finish")
    return status


@dataclass
class Batch:
    ids: list[str]
    sessions: dict[str, Json]
    seconds: float
    submit_seconds: float
    watch: Watch


@dataclass
class Detection:
    runner_timeout: float
    lease_left: float  # seconds of the doomed runner's lease left at the kill
    failed_seconds: float
    lost_seconds: float
    event_reason: str


@dataclass
class Results:
    instances: int
    fleet: list[RunnerProcess]  # the batch's runners
    everyone: list[RunnerProcess]  # and the one killed
    runner_ids: dict[str, str]  # name -> id
    baseline: list[float]
    batch: Batch
    detection: Detection
    others_active: bool


def run_baseline(
    apis: Sequence[httpx.Client], project_id: str, count: int, timeout: float
) -> list[float]:
    """Spawns one at a time on the idle fleet, each timed until it completed."""
    seconds = []
    for n, task_id in enumerate(make_tasks(apis[0], project_id, count, "Baseline")):
        api = apis[n % len(apis)]
        started = time.perf_counter()
        session_id = spawn(api, project_id, task_id)
        status = wait_finished(api, session_id, timeout)
        seconds.append(time.perf_counter() - started)
        if status != "completed":
            raise RuntimeError(f"baseline session {session_id} ended {status}")
    return seconds


def run_batch(apis: Sequence[httpx.Client], project_id: str, count: int, timeout: float) -> Batch:
    """``count`` spawns asked at once, polled until every session has finished."""
    task_ids = make_tasks(apis[0], project_id, count, "Task")
    watch = Watch()
    started = time.perf_counter()
    ids = [spawn(apis[n % len(apis)], project_id, t) for n, t in enumerate(task_ids)]
    submitted = time.perf_counter() - started
    polls = 0
    while True:
        sessions = watch.look(apis[polls % len(apis)])
        polls += 1
        if all(sessions[i]["status"] in FINISHED for i in ids):
            break
        if time.perf_counter() - started > timeout:
            waiting = sum(sessions[i]["status"] not in FINISHED for i in ids)
            raise RuntimeError(f"{waiting} of {count} sessions not finished after {timeout}s")
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    return Batch(ids, {i: sessions[i] for i in ids}, seconds, submitted, watch)


def run_lost_runner(
    fleet: Fleet,
    apis: Sequence[httpx.Client],
    server: MaestroServer,
    project_id: str,
    options: argparse.Namespace,
) -> Detection:
    """One runner with a long agent, killed -9 once its session runs; time until
    the server fails the session and marks the runner lost."""
    name = f"runner-{options.runners}"
    doomed = fleet.start(name, server, 1, LONG_AGENT, labels=[LOST_LABEL])
    doomed.wait_connected(options.connect_timeout)
    api = apis[0]
    [task_id] = make_tasks(api, project_id, 1, "Doomed")
    session_id = spawn(api, project_id, task_id, runnerLabels=[LOST_LABEL])
    runner_id = {r["name"]: r["id"] for r in ok(api.get("/api/runners"))}[name]

    def running() -> bool:
        session = ok(api.get(f"/api/sessions/{session_id}"))
        if session["status"] in FINISHED:
            raise RuntimeError(f"the long session ended {session['status']} before the kill")
        return bool(
            session["status"] == "running" and session["metadata"].get("runnerId") == runner_id
        )

    wait_for(running, options.session_timeout, "the doomed runner's session to run")
    expires_at = ok(api.get(f"/api/runners/{runner_id}"))["expiresAt"]
    killed_at = time.perf_counter()
    lease_left = expires_at / 1000 - time.time()
    doomed.kill()
    failed_seconds = lost_seconds = math.nan
    reason = ""
    deadline = options.timeout + 30
    while math.isnan(failed_seconds) or math.isnan(lost_seconds):
        if math.isnan(failed_seconds):
            session = ok(api.get(f"/api/sessions/{session_id}"))
            lost_events = [e for e in session["events"] if e["type"] == "runner_lost"]
            if session["status"] == "failed" and lost_events:
                failed_seconds = time.perf_counter() - killed_at
                reason = str(lost_events[-1]["data"].get("reason", ""))
        runner = ok(api.get(f"/api/runners/{runner_id}")) if math.isnan(lost_seconds) else {}
        if runner.get("status") == "lost":
            lost_seconds = time.perf_counter() - killed_at
        if time.perf_counter() - killed_at > deadline:
            raise RuntimeError(f"runner {name} not detected lost {deadline:.0f}s after the kill")
        time.sleep(0.05)
    return Detection(options.timeout, lease_left, failed_seconds, lost_seconds, reason)


def measure(options: argparse.Namespace) -> list[Check]:
    """Start the servers and the fleet, run the three parts; print; return the checks."""
    print(f"before: {machine_load()}", flush=True)
    started = time.perf_counter()
    admin_token = secrets.token_urlsafe(32)
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(scratch_dir("maestro-runner-fleet-", keep=options.keep))
        env = {"MAESTRO_TOKEN": admin_token, "MAESTRO_RUNNER_TIMEOUT": f"{options.timeout:g}"}
        instances = 1
        if options.database_url:
            env["MAESTRO_DATABASE_URL"] = stack.enter_context(fresh_schema(options.database_url))
            instances = 2
        servers = [
            stack.enter_context(MaestroServer(root / f"data-{n}", root, env=env))
            for n in range(instances)
        ]
        headers = {"Authorization": f"Bearer {admin_token}"}
        apis = [
            stack.enter_context(httpx.Client(base_url=s.url, headers=headers, timeout=30))
            for s in servers
        ]
        store = "PostgreSQL, 2 instances" if instances == 2 else "JSON"
        print(f"{store}: server(s) at {', '.join(s.url for s in servers)}", flush=True)
        # Registered after the servers: the runners stop before the servers do.
        fleet = Fleet(root, apis[0])
        stack.callback(fleet.close)
        runners = [
            fleet.start(f"runner-{n}", servers[n % instances], options.capacity, QUICK_AGENT)
            for n in range(options.runners)
        ]
        connect_seconds = [r.wait_connected(options.connect_timeout) for r in runners]
        print(
            f"{options.runners} runners connected (slowest after {max(connect_seconds):.1f}s)",
            flush=True,
        )
        workdir = root / "work"
        workdir.mkdir()
        project = ok(
            apis[0].post(
                "/api/projects",
                json={"name": "Fleet", "workingDir": str(workdir), "agent": "custom"},
            )
        )
        baseline = run_baseline(apis, project["id"], options.baseline, options.session_timeout)
        print(
            f"baseline: {options.baseline} spawn(s) one at a time, median "
            f"{median(baseline):.2f}s spawn -> completed",
            flush=True,
        )
        batch = run_batch(apis, project["id"], options.spawns, options.session_timeout * 4)
        print(f"batch: {options.spawns} spawns finished in {batch.seconds:.1f}s", flush=True)
        detection = run_lost_runner(fleet, apis, servers[-1], project["id"], options)
        print(
            f"lost runner: session failed {detection.failed_seconds:.2f}s and runner lost "
            f"{detection.lost_seconds:.2f}s after kill -9",
            flush=True,
        )
        listed = ok(apis[0].get("/api/runners"))
        runner_ids = {r["name"]: r["id"] for r in listed}
        others_active = all(
            r["status"] == "active" for r in listed if r["name"] != f"runner-{options.runners}"
        )
        for server in servers:
            server.check_alive()
        results = Results(
            instances,
            runners,
            list(fleet.runners),
            runner_ids,
            baseline,
            batch,
            detection,
            others_active,
        )
        checks = report(results, options)
    print(f"after: {machine_load()}; took {time.perf_counter() - started:.0f}s")
    if fleet.strays:
        checks.append(Check("processes left behind by the runners", str(fleet.strays), "0", False))
    return checks


def stamps(session: Json) -> tuple[float, float, float] | None:
    """Seconds from the spawn to the claim, from the claim to ``agent_started``,
    and from that to the end; ``None`` if a stamp is missing."""
    claimed = session["metadata"].get("claimedAt")
    agent = [e["timestamp"] for e in session["events"] if e["type"] == "agent_started"]
    ended = session.get("completedAt")
    if not (claimed and agent and ended):
        return None
    return (
        (claimed - session["startedAt"]) / 1000,
        (agent[0] - claimed) / 1000,
        (ended - agent[0]) / 1000,
    )


def report(results: Results, options: argparse.Namespace) -> list[Check]:
    batch = results.batch
    ids = set(batch.ids)
    name_of = {runner_id: name for name, runner_id in results.runner_ids.items()}
    # Every session any runner opened (baseline, batch, the lost one), by runner name.
    opened_by: dict[str, list[str]] = {}
    for runner in results.everyone:
        for session_id in runner.opened():
            opened_by.setdefault(session_id, []).append(runner.name)
    duplicates = {s: by for s, by in opened_by.items() if len(by) > 1}
    claimed = {
        i: name_of.get(s["metadata"]["runnerId"], s["metadata"]["runnerId"])
        for i, s in batch.sessions.items()
        if s["metadata"].get("runnerId")
    }
    disagree = [i for i in ids if opened_by.get(i, [None])[0] != claimed.get(i)]
    completed = sum(s["status"] == "completed" for s in batch.sessions.values())
    capacity = options.runners * options.capacity
    rows = []
    for runner in results.fleet:
        runner_id = results.runner_ids.get(runner.name, "")
        rows.append(
            [
                runner.name,
                str(runner.capacity),
                str(sum(1 for i in runner.opened() if i in ids)),
                str(sum(1 for by in claimed.values() if by == runner.name)),
                str(batch.watch.most.get(runner_id, 0)),
            ]
        )
    print()
    print(table(["runner", "capacity", "opened", "claims", "most held at once"], rows))

    waves = math.ceil(options.spawns / capacity)
    single = median(results.baseline)
    ideal = waves * single
    phases = [t for t in (stamps(s) for s in batch.sessions.values()) if t is not None]
    figures = [
        ["store", "PostgreSQL, 2 instances" if results.instances == 2 else "JSON, 1 instance"],
        ["spawns", str(options.spawns)],
        ["runners x capacity", f"{options.runners} x {options.capacity} = {capacity}"],
        ["total claims (metadata.runnerId)", f"{len(claimed)}"],
        ["sessions opened twice (runners' logs)", str(len(duplicates))],
        ["claims not matching the opener's log", str(len(disagree))],
        ["sessions completed", f"{completed}/{options.spawns}"],
        ["asking for the spawns", f"{batch.submit_seconds:.2f} s"],
        ["batch wall time", f"{batch.seconds:.2f} s"],
        ["throughput", f"{options.spawns / batch.seconds:.2f} sessions/s"],
        ["one session alone (baseline, median)", f"{single:.2f} s"],
        [f"ideal: {waves} wave(s) x baseline", f"{ideal:.2f} s"],
        ["batch / ideal", f"{batch.seconds / ideal:.2f}x"],
    ]
    if phases:
        for k, label in enumerate(["spawn -> claim", "claim -> agent_started", "agent -> end"]):
            values = [p[k] for p in phases]
            figures.append(
                [
                    f"{label} p50 / p99 / max",
                    f"{percentile(values, 50):.2f} / {percentile(values, 99):.2f} / "
                    f"{max(values):.2f} s",
                ]
            )
    detection = results.detection
    lease = detection.runner_timeout
    detected = max(detection.failed_seconds, detection.lost_seconds)
    figures += [
        ["lease (MAESTRO_RUNNER_TIMEOUT)", f"{lease:g} s"],
        ["lease left at the kill", f"{detection.lease_left:.2f} s"],
        ["kill -9 -> session failed, runner_lost", f"{detection.failed_seconds:.2f} s"],
        ["kill -9 -> runner status lost", f"{detection.lost_seconds:.2f} s"],
        ["detection (the later of the two) / lease", f"{detected / lease:.2f}x"],
    ]
    print()
    print(table(["figure", "value"], figures))
    if detection.event_reason:
        print(f"runner_lost reason: {detection.event_reason}")
    if duplicates:
        print(f"opened more than once: {duplicates}")
    if disagree:
        print(f"claimed by one runner, opened by another (or by none): {sorted(disagree)}")
    most = max(batch.watch.most.values(), default=0)
    return [
        Check("sessions opened by more than one runner", str(len(duplicates)), "0", not duplicates),
        Check(
            "batch sessions completed",
            f"{completed}/{options.spawns}",
            "all",
            completed == options.spawns,
        ),
        Check(
            "most sessions one runner held at once",
            str(most),
            f"<= capacity {options.capacity}",
            most <= options.capacity,
        ),
        Check(
            "kill -9 of a runner -> session failed and runner lost",
            f"{detected:.2f} s ({detected / lease:.2f}x the lease)",
            f"<= lease {lease:g} s + {DETECTION_SLACK_SECONDS} s",
            detected <= lease + DETECTION_SLACK_SECONDS,
        ),
        Check(
            "the other runners still active after the loss",
            "yes" if results.others_active else "no",
            "yes",
            results.others_active,
        ),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="A fleet of maestro runners sharing spawns (duplicates, capacity, "
        "throughput) and how soon a runner killed -9 is detected lost."
    )
    parser.add_argument("--runners", type=int, default=3, help="runners in the fleet (default 3)")
    parser.add_argument(
        "--capacity", type=int, default=3, help="--max-concurrent of each runner (default 3)"
    )
    parser.add_argument("--spawns", type=int, default=30, help="spawns in the batch (default 30)")
    parser.add_argument(
        "--baseline", type=int, default=3, help="spawns timed one at a time first (default 3)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        help="MAESTRO_RUNNER_TIMEOUT, the runners' lease in seconds (default 3)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="run two instances on a fresh schema of this PostgreSQL database (e.g. "
        f"{DEFAULT_DATABASE_URL}) instead of one on the JSON store",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=60.0,
        help="seconds a runner may take to connect (default 60)",
    )
    parser.add_argument(
        "--session-timeout",
        type=float,
        default=60.0,
        help="seconds one session may take (default 60; the batch gets 4x)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dirs and logs")
    options = parser.parse_args(argv)
    if min(options.runners, options.capacity, options.spawns, options.baseline) < 1:
        parser.error("--runners, --capacity, --spawns and --baseline must be at least 1")
    if not 0 < options.timeout <= 3600:
        parser.error("--timeout must be more than 0 and at most 3600 seconds")
    return options


def main(argv: list[str] | None = None) -> int:
    return run_checks(measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
