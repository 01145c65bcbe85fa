"""Spawning end to end, with real processes only: ``maestro serve``,
``maestro runner --pty``, ``maestro worker init`` / ``orchestrator init`` in the
terminals the runner opens, and scripted fake agents (``fake_agent.py``,
``fake_orchestrator.py``) that drive the real CLI, chosen with the ``custom``
adapter through ``MAESTRO_AGENT_COMMAND``.

Outcomes are checked through the REST API and a WebSocket client.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.e2e.conftest import SESSION_SECONDS, RunnerProcess
from tests.e2e.wsclient import EventStream, Message
from tests.helpers import make_project, make_task, ok, request_spawn, wait_until


@pytest.fixture
def runner(server: RunningServer, start_runner: Callable[..., RunnerProcess]) -> RunnerProcess:
    return start_runner(server)


def spawn(http: httpx.Client, project: Any, task: Any, **fields: Any) -> str:
    """Spawn a session on ``task`` with the fake agent (the ``custom`` adapter)."""
    return request_spawn(http, project["id"], [task["id"]], agent="custom", **fields)


def get(http: httpx.Client, path: str) -> Any:
    return ok(http.get(path))


def wait_for_status(
    http: httpx.Client, session_id: str, wanted: str, timeout: float = SESSION_SECONDS
) -> Any:
    record: dict[str, Any] = {}

    def reached() -> bool:
        record.update(get(http, f"/api/sessions/{session_id}"))
        return record["status"] in (wanted, "failed", "completed")

    wait_until(reached, timeout, f"session {session_id} to be {wanted}")
    assert record["status"] == wanted, record["events"]
    return record


def session_statuses(messages: list[Message], session_id: str) -> list[str]:
    """The session's status as the stream told it, repeats dropped."""
    seen: list[str] = []
    for message in messages:
        data = message["data"]
        if message["event"] == "session:spawn_request":
            data = data["session"]
        elif message["event"] not in ("session:created", "session:updated"):
            continue
        if data["id"] == session_id and (not seen or seen[-1] != data["status"]):
            seen.append(data["status"])
    return seen


def read_until_finished(stream: EventStream, session_id: str) -> list[Message]:
    """Every message until the session is completed or failed."""
    messages: list[Message] = []
    deadline = time.monotonic() + SESSION_SECONDS
    while session_statuses(messages, session_id)[-1:] not in (["completed"], ["failed"]):
        left = deadline - time.monotonic()
        assert left > 0, (
            f"session {session_id} did not finish: {session_statuses(messages, session_id)}"
        )
        messages.append(stream.receive(timeout=left))
    return messages


# -- the happy paths ----------------------------------------------------------------


def test_a_spawned_worker_runs_to_completion(
    server: RunningServer, http: httpx.Client, runner: RunnerProcess, home: Path, workdir: Path
) -> None:
    project = make_project(http, workingDir=str(workdir))
    task = make_task(
        http, project["id"], title="Fix the login bug", description="Users cannot log in."
    )
    ok(http.post(f"/api/tasks/{task['id']}/subtasks", json={"title": "Write a test"}), 201)

    with EventStream(server.ws_url, timeout=SESSION_SECONDS) as stream:
        session_id = spawn(http, project, task)
        messages = read_until_finished(stream, session_id)

    assert session_statuses(messages, session_id) == ["spawning", "running", "completed"]
    session = get(http, f"/api/sessions/{session_id}")
    assert session["status"] == "completed" and session["completedAt"] is not None
    assert [e["type"] for e in session["events"]] == [
        "agent_started",
        "report:progress",
        "report:complete",
        "agent_exited",
    ]
    assert session["events"][-1]["data"] == {"exitCode": 0}

    task = get(http, f"/api/tasks/{task['id']}")
    assert task["status"] == "completed"
    assert [s["completed"] for s in task["subtasks"]] == [True]
    assert [(e["type"], e.get("message")) for e in task["timeline"]] == [
        ("created", "Task created"),
        ("session_started", f"Session {session_id} started"),
        ("status_changed", "Status changed from pending to in_progress"),
        ("update", "Fake agent started"),
        ("status_changed", "Status changed from in_progress to completed"),
        ("milestone", "Fake agent finished"),
    ]

    files = home / "sessions" / session_id
    output = (files / "output.log").read_text()
    assert f"fake agent: session {session_id} working on {task['id']}" in output
    assert "fake agent: ticked subtask Write a test" in output
    assert output.rstrip().endswith("fake agent: done")
    assert "Fix the login bug" in (files / "brief.md").read_text()
    wait_until(lambda: "fake agent: done" in (files / "terminal.log").read_text(), 5, "the PTY log")
    assert f"opened session {session_id} in {workdir} (pty pid" in runner.log()


def test_an_orchestrator_splits_its_task_between_two_workers(
    http: httpx.Client, runner: RunnerProcess, workdir: Path
) -> None:
    orchestrate_and_check(http, workdir)


def test_an_orchestrator_and_its_workers_keep_within_their_session_tokens(
    server_factory: Callable[..., RunningServer],
    start_runner: Callable[..., RunnerProcess],
    workdir: Path,
) -> None:
    """The same split with a token required: the runner holds a runner token, the
    orchestrator and each worker the token of their own session (which could
    not, say, change a sibling's task: tests/test_tokens.py)."""
    server = server_factory(MAESTRO_TOKEN="admin-token-for-the-orchestrator-test")
    headers = {"Authorization": "Bearer admin-token-for-the-orchestrator-test"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        issued = http.post("/api/tokens", json={"runner": "fleet"}).json()
        start_runner(server, "--name", "fleet", "--token", issued["token"])
        orchestrate_and_check(http, workdir)
        orchestrator = next(
            s for s in get(http, "/api/sessions") if s["metadata"]["role"] == "orchestrator"
        )
    url = f"{server.ws_url}?token=admin-token-for-the-orchestrator-test&since=0"
    with EventStream(url, timeout=10) as stream:
        events = stream.sync()
    # The child tasks were made with the orchestrator's token, each worker's end
    # with its own; the runner token only registered and claimed.
    children = [e for e in events if e["event"] == "task:created" and e["data"]["parentId"]]
    assert [e["actor"]["sessionId"] for e in children] == [orchestrator["id"]] * 2
    ends = [
        e for e in events if e["event"] == "session:updated" and e["data"]["status"] == "completed"
    ]
    assert len(ends) == 3
    assert all(
        e["actor"] == {**e["actor"], "kind": "session", "sessionId": e["data"]["id"]} for e in ends
    )
    by_runner = {e["event"] for e in events if e["actor"]["kind"] == "runner"}
    assert by_runner <= {"runner:created", "runner:updated", "runner:deleted", "session:updated"}


def orchestrate_and_check(http: httpx.Client, workdir: Path) -> None:
    """An orchestrator splits its task in two child tasks, spawns a worker for
    each, waits for them and completes its own task."""
    project = make_project(http, workingDir=str(workdir))
    parent = make_task(http, project["id"], title="Build the feature")

    orchestrator_id = spawn(
        http, project, parent, role="orchestrator", skills=["maestro-orchestrator"]
    )
    orchestrator = wait_for_status(http, orchestrator_id, "completed", timeout=60)

    sessions = {s["id"]: s for s in get(http, f"/api/sessions?projectId={project['id']}")}
    workers = [s for s in sessions.values() if s["id"] != orchestrator_id]
    assert len(sessions) == 3 and orchestrator["metadata"]["role"] == "orchestrator"
    assert [s["status"] for s in sessions.values()] == ["completed"] * 3
    for worker in workers:
        assert worker["metadata"]["role"] == "worker"
        assert worker["metadata"]["spawnedBy"] == orchestrator_id
        assert worker["metadata"]["spawnSource"] == "orchestrator"

    tasks = get(http, f"/api/tasks?projectId={project['id']}")
    assert len(tasks) == 3 and [t["status"] for t in tasks] == ["completed"] * 3
    children = get(http, f"/api/tasks/{parent['id']}/children")
    assert sorted(c["title"] for c in children) == ["Child A", "Child B"]
    assert sorted(w["taskIds"][0] for w in workers) == sorted(c["id"] for c in children)
    for child in children:
        assert [s["completed"] for s in child["subtasks"]] == [True]
    # The parent completed only after both children had.
    parent_done = get(http, f"/api/tasks/{parent['id']}")["completedAt"]
    assert all(child["completedAt"] <= parent_done for child in children)
    assert orchestrator["completedAt"] >= max(w["completedAt"] for w in workers)


# -- failure paths ----------------------------------------------------------------------


def test_an_agent_exiting_non_zero_fails_the_session(
    http: httpx.Client, runner: RunnerProcess, workdir: Path
) -> None:
    project = make_project(http, workingDir=str(workdir))
    task = make_task(http, project["id"], title="Doomed", description="fake-agent: exit 3")

    session = wait_for_status(http, spawn(http, project, task), "failed")

    assert session["events"][-1]["type"] == "agent_exited"
    assert session["events"][-1]["data"]["exitCode"] == 3
    assert get(http, f"/api/tasks/{task['id']}")["status"] == "in_progress"


def test_a_missing_working_directory_fails_the_session_with_the_reason(
    http: httpx.Client, runner: RunnerProcess, tmp_path: Path
) -> None:
    check_missing_directory_fails(http, runner, tmp_path)


def test_a_runner_with_a_runner_token_fails_what_it_cannot_open_too(
    server_factory: Callable[..., RunningServer],
    start_runner: Callable[..., RunnerProcess],
    tmp_path: Path,
) -> None:
    """Marking the session failed is a change to a session its runner claimed:
    within a runner token's scope."""
    server = server_factory(MAESTRO_TOKEN="admin-token-for-the-failing-spawn")
    headers = {"Authorization": "Bearer admin-token-for-the-failing-spawn"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        issued = http.post("/api/tokens", json={"runner": "careful"}).json()
        runner = start_runner(server, "--name", "careful", "--token", issued["token"])
        check_missing_directory_fails(http, runner, tmp_path)


def check_missing_directory_fails(
    http: httpx.Client, runner: RunnerProcess, tmp_path: Path
) -> None:
    missing = tmp_path / "deleted-checkout"
    project = make_project(http, workingDir=str(missing))
    task = make_task(http, project["id"], title="Nowhere to work")

    session = wait_for_status(http, spawn(http, project, task), "failed")

    [event] = session["events"]
    assert event["type"] == "spawn_failed"
    assert event["data"] == {"reason": f"working directory {missing} does not exist"}
    assert f"failed: working directory {missing} does not exist" in runner.log()


def test_the_runner_reconnects_and_catches_up_after_a_server_restart(
    server: RunningServer, http: httpx.Client, runner: RunnerProcess, home: Path, workdir: Path
) -> None:
    project = make_project(http, workingDir=str(workdir))
    before = spawn(http, project, make_task(http, project["id"], title="Before the restart"))
    wait_for_status(http, before, "completed")

    server.restart()
    after = spawn(http, project, make_task(http, project["id"], title="After the restart"))
    wait_for_status(http, after, "completed")

    runner.wait_for_log("replaying events after seq")
    log = runner.log()
    assert log.count(f"opened session {before}") == 1
    assert log.count(f"opened session {after}") == 1

    # The runner caught up with the whole stream: its saved seq reaches the latest.
    with EventStream(f"{server.ws_url}?since=0") as stream:
        latest = stream.sync()[-1]["seq"]

    def saved_seq() -> Any:
        state = json.loads((home / "runner" / "state.json").read_text())
        return state[server.url]["lastSeq"]

    wait_until(lambda: saved_seq() == latest, 5, f"the runner to save seq {latest}")


# -- following the server ---------------------------------------------------------------


def test_the_runner_and_its_sessions_work_with_a_token(
    server_factory: Callable[..., RunningServer],
    start_runner: Callable[..., RunnerProcess],
    workdir: Path,
) -> None:
    server = server_factory(MAESTRO_TOKEN="s3cret-token")
    headers = {"Authorization": "Bearer s3cret-token"}
    start_runner(server, MAESTRO_TOKEN="s3cret-token")  # its WebSocket is authorized too

    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        project = make_project(http, workingDir=str(workdir))
        task = make_task(http, project["id"], title="Behind a token")
        session = wait_for_status(http, spawn(http, project, task), "completed")

    # The agent's own CLI calls got the token from the runner, too.
    assert [e["type"] for e in session["events"]][1:3] == ["report:progress", "report:complete"]


def test_a_runner_ahead_of_the_server_resyncs_and_still_opens_spawns(
    server: RunningServer,
    http: httpx.Client,
    start_runner: Callable[..., RunnerProcess],
    home: Path,
    workdir: Path,
) -> None:
    # As if the server's store had been replaced since the runner last ran.
    (home / "runner").mkdir(parents=True)
    state = {server.url: {"lastSeq": 1_000_000, "opened": []}}
    (home / "runner" / "state.json").write_text(json.dumps(state))
    runner = start_runner(server)
    runner.wait_for_log("the server no longer holds events after seq 1000000")

    project = make_project(http, workingDir=str(workdir))
    wait_for_status(
        http,
        spawn(http, project, make_task(http, project["id"], title="After resync")),
        "completed",
    )

    def saved_seq() -> Any:
        return json.loads((home / "runner" / "state.json").read_text())[server.url]["lastSeq"]

    wait_until(lambda: saved_seq() < 1_000, 5, "the runner to follow the server's seq again")
