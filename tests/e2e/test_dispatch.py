"""Dependency-gated dispatch with real processes and a real git repository: the
runner (``maestro runner --pty``, dispatch on by default) starts each auto-start
task once its dependencies are completed, in a worktree with their branches
merged in; a merge conflict blocks the task; racing dispatchers spawn each task
once, and two runners open each of its sessions once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from maestro.agents.runner import Dispatcher, EventFollower
from maestro.client import MaestroClient
from tests.conftest import RunningServer
from tests.e2e.conftest import SESSION_SECONDS, RunnerProcess
from tests.helpers import git, make_project, make_repo, make_task, ok, wait_until


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"README.md": "chain\n"})


def script(*lines: str) -> str:
    return "\n".join(f"fake-agent: {line}" for line in lines)


def auto_task(
    http: httpx.Client,
    project: dict[str, Any],
    title: str,
    *lines: str,
    after: tuple[str, ...] = (),
) -> dict[str, Any]:
    return make_task(
        http,
        project["id"],
        title=title,
        description=script(*lines),
        autoStart=True,
        dependencies=list(after),
    )


def sessions_of(http: httpx.Client, task_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(http.get("/api/sessions", params={"taskId": task_id}))
    return found


def task_status(http: httpx.Client, task_id: str) -> str:
    status: str = ok(http.get(f"/api/tasks/{task_id}"))["status"]
    return status


def wait_completed(http: httpx.Client, task_id: str, runners: list[RunnerProcess]) -> None:
    """Until the task is completed and its sessions have finished."""

    def done() -> bool:
        finished = all(s["status"] in ("completed", "failed") for s in sessions_of(http, task_id))
        return task_status(http, task_id) == "completed" and finished

    try:
        wait_until(done, SESSION_SECONDS * 2, task_id)
    except AssertionError:
        raise AssertionError("\n".join(r.log() for r in runners)) from None


def only_session(http: httpx.Client, task_id: str) -> dict[str, Any]:
    sessions = sessions_of(http, task_id)
    assert len(sessions) == 1, [s["id"] for s in sessions]
    return sessions[0]


def test_a_chain_starts_each_task_when_the_one_before_is_done_and_builds_on_it(
    http: httpx.Client,
    repo: Path,
    server: RunningServer,
    start_runner: Callable[..., RunnerProcess],
) -> None:
    project = make_project(http, workingDir=str(repo), agent="custom", maxConcurrent=4)
    a = auto_task(http, project, "A", "run echo a > a.txt", "sleep 1")
    b = auto_task(
        http, project, "B", "run test -f a.txt && echo b > b.txt", "sleep 3", after=(a["id"],)
    )
    c = auto_task(http, project, "C", "run test -f a.txt && echo c > c.txt", after=(a["id"],))
    d = auto_task(
        http,
        project,
        "D",
        "run test -f b.txt && test -f c.txt && echo d > d.txt",
        after=(b["id"], c["id"]),
    )
    manual = make_task(http, project["id"], title="Not auto", description=script("run true"))
    runner = start_runner(server)

    # Only A starts at first: the others wait on it.
    wait_until(lambda: bool(sessions_of(http, a["id"])), 30, "A to be dispatched")
    assert not sessions_of(http, b["id"]) and not sessions_of(http, d["id"])
    wait_completed(http, a["id"], [runner])
    wait_completed(http, b["id"], [runner])
    wait_completed(http, c["id"], [runner])
    wait_completed(http, d["id"], [runner])

    first, second, third, last = (only_session(http, t["id"]) for t in (a, b, c, d))
    assert all(s["status"] == "completed" for s in (first, second, third, last))
    assert [s["metadata"]["spawnSource"] for s in (first, second, last)] == ["dispatch"] * 3
    assert second["startedAt"] >= first["completedAt"]
    assert last["startedAt"] >= max(second["completedAt"], third["completedAt"])
    # D waited while B ran (B sleeps): it started after B finished, not before.
    # B and D saw their dependencies' files (their scripts test for them), and
    # D's branch holds everything, merged in dependency order.
    assert last["metadata"]["mergedBranches"] == [
        second["metadata"]["branch"],
        third["metadata"]["branch"],
    ]
    files = git(repo, "ls-tree", "--name-only", last["metadata"]["branch"]).split()
    assert {"a.txt", "b.txt", "c.txt", "d.txt"} <= set(files)
    assert second["metadata"]["spawnReason"] == f"dependencies completed: {a['id']}"
    # A task without autoStart is never dispatched.
    assert not sessions_of(http, manual["id"])
    assert git(repo, "branch", "--show-current") == "main"


def test_a_merge_conflict_blocks_the_dependent_task_with_the_reason(
    http: httpx.Client,
    repo: Path,
    server: RunningServer,
    start_runner: Callable[..., RunnerProcess],
) -> None:
    project = make_project(http, workingDir=str(repo), agent="custom", maxConcurrent=4)
    left = auto_task(http, project, "Left", "run echo left > README.md")
    right = auto_task(http, project, "Right", "run echo right > README.md")
    both = auto_task(http, project, "Both", "run true", after=(left["id"], right["id"]))
    runner = start_runner(server)
    for task in (left, right):
        wait_completed(http, task["id"], [runner])

    def failed() -> bool:
        sessions = sessions_of(http, both["id"])
        return bool(sessions) and sessions[0]["status"] == "failed"

    wait_until(failed, SESSION_SECONDS, "the conflicting task's session to fail")
    session = only_session(http, both["id"])
    reason = " ".join(e["data"].get("reason", "") for e in session["events"])
    assert "conflicts in README.md" in reason
    blockers = [
        e for e in ok(http.get(f"/api/tasks/{both['id']}"))["timeline"] if e["type"] == "blocker"
    ]
    assert blockers and "README.md" in blockers[0]["message"]
    branches = [only_session(http, t["id"])["metadata"]["branch"] for t in (left, right)]
    assert any(branch in blockers[0]["message"] for branch in branches)
    # Dispatched once: a failed dispatch is left to a person (a few passes later,
    # still one session).
    time.sleep(3 * EventFollower.TICK_SECONDS + 1)
    assert len(sessions_of(http, both["id"])) == 1


def test_dispatchers_racing_on_one_chain_spawn_each_task_once(
    http: httpx.Client,
    repo: Path,
    server: RunningServer,
    start_runner: Callable[..., RunnerProcess],
) -> None:
    """The runner's dispatcher and three more (the same ``Dispatcher``, each with
    its own client, passing as fast as they can) decide on one chain at once:
    the spawn's idempotency key makes each task one session. (One runner opens
    the terminals here; several runner processes, each dispatching and claiming,
    are the next test.)"""
    project = make_project(http, workingDir=str(repo), agent="custom", maxConcurrent=4)
    a = auto_task(http, project, "A", "run echo a > a.txt")
    b = auto_task(http, project, "B", "run test -f a.txt", after=(a["id"],))
    c = auto_task(http, project, "C", "run true", after=(b["id"],))
    stop = threading.Event()

    def race() -> None:
        with MaestroClient(server.url, token="") as client:
            dispatcher = Dispatcher(client)
            while not stop.is_set():
                dispatcher.run_once()

    racers = [threading.Thread(target=race, daemon=True) for _ in range(3)]
    for racer in racers:
        racer.start()
    runner = start_runner(server)
    try:
        for task in (a, b, c):
            wait_completed(http, task["id"], [runner])
    finally:
        stop.set()
        for racer in racers:
            racer.join(timeout=10)
    for task in (a, b, c):
        assert only_session(http, task["id"])["status"] == "completed"
    assert len(ok(http.get("/api/sessions", params={"projectId": project["id"]}))) == 3


def test_two_runners_dispatching_one_chain_start_each_task_once_and_open_it_once(
    http: httpx.Client,
    repo: Path,
    server: RunningServer,
    start_runner: Callable[..., RunnerProcess],
    tmp_path: Path,
) -> None:
    """Two runner processes (each its own home and name), both dispatching: the
    idempotency key makes each task of A -> B -> C one session, and the claim
    makes each session opened by one of them."""
    project = make_project(http, workingDir=str(repo), agent="custom", maxConcurrent=4)
    a = auto_task(http, project, "A", "run echo a > a.txt")
    b = auto_task(http, project, "B", "run test -f a.txt && echo b > b.txt", after=(a["id"],))
    c = auto_task(http, project, "C", "run test -f b.txt", after=(b["id"],))
    runners = [
        start_runner(server, "--name", name, home_dir=tmp_path / name) for name in ("one", "two")
    ]

    for task in (a, b, c):
        wait_completed(http, task["id"], runners)

    sessions = [only_session(http, task["id"]) for task in (a, b, c)]
    assert [s["status"] for s in sessions] == ["completed"] * 3
    assert len(ok(http.get("/api/sessions", params={"projectId": project["id"]}))) == 3
    opened = runners[0].opened() + runners[1].opened()
    assert sorted(opened) == sorted(s["id"] for s in sessions)  # each once, by one runner
    names = {r["id"]: r["name"] for r in ok(http.get("/api/runners"))}
    for session in sessions:
        opener = "one" if session["id"] in runners[0].opened() else "two"
        assert names[session["metadata"]["runnerId"]] == opener


def test_max_concurrent_bounds_the_dispatched_sessions(
    http: httpx.Client,
    repo: Path,
    server: RunningServer,
    start_runner: Callable[..., RunnerProcess],
) -> None:
    project = make_project(http, workingDir=str(repo), agent="custom", maxConcurrent=1)
    tasks = [auto_task(http, project, f"T{n}", "sleep 2") for n in range(3)]
    runner = start_runner(server)
    most = 0

    def all_done() -> bool:
        nonlocal most
        sessions = ok(http.get("/api/sessions", params={"projectId": project["id"]}))
        active = [s for s in sessions if s["status"] in ("spawning", "running")]
        most = max(most, len(active))
        return all(task_status(http, t["id"]) == "completed" for t in tasks)

    try:
        wait_until(all_done, SESSION_SECONDS * 3, "the three tasks")
    except AssertionError:
        raise AssertionError(runner.log()) from None
    assert most == 1
