"""Several runners sharing one server, with real processes only: ``maestro
serve``, two or three ``maestro runner --pty`` processes (each its own ``MAESTRO_HOME``
and ``--name``), and in their terminals ``maestro worker init`` running a short
agent. Each spawn is opened by exactly one runner (counted in the runners' logs,
and by the claims the server recorded), the work is spread over the runners, no
runner ever holds more than its capacity, a labelled spawn goes to a runner
having the label; a runner killed with ``kill -9`` (its agents with it) is
marked lost within its lease: its running sessions fail, "runner lost", and
what it had claimed without starting is opened by another runner.

The same fleet across two server instances on one PostgreSQL database is in
``tests/postgres/test_runners_pg.py``.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.e2e.conftest import RunnerProcess
from tests.helpers import make_project, make_task, ok, request_spawn, wait_until

SPAWNS = 30
CAPACITY = 3


def python_agent(code: str) -> str:
    """A ``MAESTRO_AGENT_COMMAND`` (the ``custom`` adapter) running a line of Python."""
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


QUICK_AGENT = python_agent("import time; time.sleep(1)")
LONG_AGENT = python_agent("import time; time.sleep(120)")


def start_fleet(
    start_runner: Callable[..., RunnerProcess],
    servers: Sequence[RunningServer],
    tmp_path: Path,
    count: int,
    agent: str = QUICK_AGENT,
    labels: dict[int, str] | None = None,
    capacity: int = CAPACITY,
    prefix: str = "runner",
) -> list[RunnerProcess]:
    """``count`` runners named ``PREFIX-N`` of capacity ``capacity``, following the
    servers in turn, each with its own home; runner N gets ``--label labels[N]``."""
    fleet = []
    for n in range(count):
        name = f"{prefix}-{n}"
        args = ["--name", name, "--max-concurrent", str(capacity), "--no-dispatch"]
        if labels and n in labels:
            args += ["--label", labels[n]]
        server = servers[n % len(servers)]
        home = tmp_path / f"home-{name}"
        fleet.append(start_runner(server, *args, home_dir=home, MAESTRO_AGENT_COMMAND=agent))
    return fleet


def spawn_many(
    clients: Sequence[httpx.Client], workdir: Path, count: int, **fields: Any
) -> list[str]:
    """``count`` spawns (the custom agent), each on a task of its own, asked of
    the servers in turn."""
    project = make_project(clients[0], workingDir=str(workdir), agent="custom")
    ids = []
    for n in range(count):
        http = clients[n % len(clients)]
        task = make_task(http, project["id"], title=f"Task {n}")
        ids.append(request_spawn(http, project["id"], [task["id"]], **fields))
    return ids


@dataclass
class Watch:
    """What the server says while the fleet works: the most sessions each runner
    held at once (claimed, spawning or running)."""

    most: Counter[str] = field(default_factory=Counter)

    def look(self, http: httpx.Client) -> list[dict[str, Any]]:
        sessions: list[dict[str, Any]] = ok(http.get("/api/sessions"))
        held = Counter(
            s["metadata"].get("runnerId")
            for s in sessions
            if s["status"] in ("spawning", "running") and s["metadata"].get("runnerId")
        )
        for runner_id, count in held.items():
            self.most[runner_id] = max(self.most[runner_id], count)
        return sessions

    def until_finished(
        self, http: httpx.Client, ids: Sequence[str], fleet: Sequence[RunnerProcess], timeout: float
    ) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = {s["id"]: s for s in self.look(http) if s["id"] in ids}
            if all(found[i]["status"] in ("completed", "failed") for i in ids):
                return found
            if time.monotonic() > deadline:
                logs = "\n".join(runner.log()[-3000:] for runner in fleet)
                waiting = [i for i in ids if found[i]["status"] not in ("completed", "failed")]
                raise AssertionError(f"{len(waiting)} session(s) not finished:\n{logs}")
            time.sleep(0.2)


def runner_ids(http: httpx.Client) -> dict[str, str]:
    """Runner name -> id, as the server knows them."""
    return {r["name"]: r["id"] for r in ok(http.get("/api/runners"))}


def assert_opened_once_and_spread(
    http: httpx.Client,
    ids: Sequence[str],
    fleet: Sequence[RunnerProcess],
    sessions: dict[str, dict[str, Any]],
    watch: Watch,
) -> Counter[str]:
    """Every session opened by exactly one runner, the one that claimed it; every
    runner opened some; none held more than its capacity. The count per runner."""
    named = runner_ids(http)
    opened_by: dict[str, list[str]] = {}
    for n, runner in enumerate(fleet):
        for session_id in runner.opened():
            opened_by.setdefault(session_id, []).append(named[f"runner-{n}"])
    duplicates = {s: by for s, by in opened_by.items() if len(by) > 1}
    assert duplicates == {}, duplicates
    assert sorted(opened_by) == sorted(ids)
    for session_id in ids:
        assert sessions[session_id]["status"] == "completed", sessions[session_id]["events"]
        assert sessions[session_id]["metadata"]["runnerId"] == opened_by[session_id][0]
    per_runner = Counter(by[0] for by in opened_by.values())
    assert set(per_runner) == set(named.values()), per_runner  # each did some of the work
    assert max(watch.most.values()) <= CAPACITY, watch.most
    return per_runner


@pytest.mark.parametrize("runners", [2, 3])
def test_runners_open_each_of_thirty_spawns_once_within_their_capacity(
    runners: int,
    server: RunningServer,
    http: httpx.Client,
    start_runner: Callable[..., RunnerProcess],
    tmp_path: Path,
    workdir: Path,
) -> None:
    fleet = start_fleet(start_runner, [server], tmp_path, runners)
    ids = spawn_many([http], workdir, SPAWNS)
    watch = Watch()

    sessions = watch.until_finished(http, ids, fleet, timeout=240)

    per_runner = assert_opened_once_and_spread(http, ids, fleet, sessions, watch)
    print(
        f"\n{SPAWNS} spawns opened once each by {runners} runners: {dict(per_runner)}; most "
        f"held at once: {dict(watch.most)}"
    )
    # Stopped cleanly, the runners unregister.
    for runner in fleet:
        runner.stop()
    assert ok(http.get("/api/runners")) == []


def test_a_labelled_spawn_is_opened_only_by_a_runner_with_the_label(
    server: RunningServer,
    http: httpx.Client,
    start_runner: Callable[..., RunnerProcess],
    tmp_path: Path,
    workdir: Path,
) -> None:
    fleet = start_fleet(start_runner, [server], tmp_path, 3, labels={2: "gpu"})
    gpu = spawn_many([http], workdir, 4, runnerLabels=["gpu"])
    anyone = spawn_many([http], workdir, 4)
    watch = Watch()

    watch.until_finished(http, gpu + anyone, fleet, timeout=120)

    assert sorted(fleet[2].opened()) == sorted(set(fleet[2].opened()))
    assert set(gpu) <= set(fleet[2].opened())
    assert not set(gpu) & set(fleet[0].opened() + fleet[1].opened())
    assert "leaving session" in fleet[0].log() and "needs the label(s) gpu" in fleet[0].log()
    opened = fleet[0].opened() + fleet[1].opened() + fleet[2].opened()
    assert sorted(opened) == sorted(gpu + anyone)


LEASE = 3  # MAESTRO_RUNNER_TIMEOUT of the server below


def test_a_killed_runner_is_lost_its_running_sessions_fail_and_its_claims_go_to_another(
    server_factory: Callable[..., RunningServer],
    start_runner: Callable[..., RunnerProcess],
    tmp_path: Path,
    workdir: Path,
) -> None:
    server = server_factory(MAESTRO_RUNNER_TIMEOUT=str(LEASE))
    with httpx.Client(base_url=server.url, timeout=10) as http:
        # Capacity 2: two sessions run, a third waits (unclaimed) for a slot.
        [doomed] = start_fleet(start_runner, [server], tmp_path, 1, LONG_AGENT, capacity=2)
        running = spawn_many([http], workdir, 2)
        wait_until(
            lambda: all(ok(http.get(f"/api/sessions/{s}"))["status"] == "running" for s in running),
            60,
            "the doomed runner's two sessions to run",
        )
        doomed_id = runner_ids(http)["runner-0"]
        [unstarted] = spawn_many([http], workdir, 1)

        killed_at = time.monotonic()
        doomed.kill()
        # What it had claimed and not started yet: claimed in its name now, as if
        # it died between the claim and the launch.
        body = {"runnerId": doomed_id}
        ok(http.post(f"/api/sessions/{unstarted}/claim", json=body))
        [rescuer] = start_fleet(start_runner, [server], tmp_path, 1, prefix="rescuer")

        def failed() -> bool:
            return all(ok(http.get(f"/api/sessions/{s}"))["status"] == "failed" for s in running)

        wait_until(failed, LEASE + 10, "the lost runner's sessions to fail")
        detected = time.monotonic() - killed_at
        print(
            f"\nrunner killed -> its running sessions failed in {detected:.1f}s "
            f"(MAESTRO_RUNNER_TIMEOUT={LEASE})"
        )
        assert detected < LEASE + 3
        lost = ok(http.get(f"/api/runners/{doomed_id}"))
        assert (lost["status"], lost["load"]) == ("lost", 0)
        for session_id in running:
            session = ok(http.get(f"/api/sessions/{session_id}"))
            assert session["events"][-1]["type"] == "runner_lost"
            reason = session["events"][-1]["data"]["reason"]
            assert reason == f"runner runner-0 lost: no heartbeat for {LEASE} s"
            [task_id] = session["taskIds"]
            note = ok(http.get(f"/api/tasks/{task_id}"))["timeline"][-1]
            assert note["type"] == "session_ended" and "runner runner-0 lost" in note["message"]

        wait_until(
            lambda: ok(http.get(f"/api/sessions/{unstarted}"))["status"] == "completed",
            60,
            "the released session to be opened by the other runner and complete",
        )
        taken = ok(http.get(f"/api/sessions/{unstarted}"))
        assert taken["metadata"]["runnerId"] == runner_ids(http)["rescuer-0"]
        assert rescuer.opened() == [unstarted]
        assert unstarted not in doomed.opened()
