"""Assertions, waits and entity makers shared by the API tests."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

# Every field of a session as the API returns it (SPEC section 3).
SESSION_FIELDS = {
    "id",
    "projectId",
    "taskIds",
    "name",
    "agentId",
    "status",
    "env",
    "events",
    "metadata",
    "startedAt",
    "lastActivity",
    "completedAt",
    "hostname",
    "platform",
    "usage",  # SPEC section 12: what the agent used, null until it reports
    "agentSessionId",
    "attention",  # SPEC section 12 (approvals): why the session needs a person, or null
}

# What an agent reports it used, every field set (SPEC section 12). The CLI and
# UI tests check how it is shown: "in 1,234", "$0.0123", "1m 23s"...
SAMPLE_USAGE = {
    "inputTokens": 1234,
    "outputTokens": 567,
    "cacheReadTokens": 8900,
    "cacheWriteTokens": 120,
    "costUsd": 0.0123,
    "turns": 7,
    "durationMs": 83_000,
    "model": "claude-sonnet-4-5",
}


def assert_error(
    response: httpx.Response, status: int, code: str, message: str | None = None
) -> Any:
    """The documented error body, and nothing else in it."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"error", "code", "message", "details"}
    assert body["error"] is True
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    if message is not None:
        assert body["message"] == message
    return body


def new_folder(path: Path) -> Path:
    """``path``, made as an empty folder (its parent must exist)."""
    path.mkdir()
    return path


def wait_for_files(data_dir: Path, timeout: float = 10.0) -> None:
    """Wait until a JSON store's files hold everything it committed: every journal
    segment is empty (a checkpoint removes the segments it has written)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        segments = list((data_dir / "journal").glob("*.jsonl"))
        try:
            if all(segment.stat().st_size == 0 for segment in segments):
                return
        except FileNotFoundError:
            pass  # removed by the checkpoint as we looked
        time.sleep(0.01)
    raise AssertionError(f"the files under {data_dir} did not catch up in {timeout}s")


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 10) -> None:
    """Graceful stop (SIGTERM), then ``kill -9`` if it has not exited in ``timeout`` s."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The body of a response that must have ``status`` (asserted, showing the
    body if not)."""
    assert response.status_code == status, response.text
    return response.json()


def created(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    """The body of a response that must have created something."""
    body: dict[str, Any] = ok(response, status)
    return body


def make_project(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    """A new project named "Project"; ``fields`` override or add to the body."""
    return created(api.post("/api/projects", json={"name": "Project", **fields}))


def make_task(api: httpx.Client, project_id: str, **fields: Any) -> dict[str, Any]:
    """A new task titled "Task" in the project; ``fields`` override or add to the body."""
    return created(
        api.post("/api/tasks", json={"projectId": project_id, "title": "Task", **fields})
    )


def make_session(
    api: httpx.Client, project_id: str, task_ids: list[str], **fields: Any
) -> dict[str, Any]:
    """A new session in the project linked to ``task_ids``; ``fields`` add to the body."""
    body = {"projectId": project_id, "taskIds": task_ids, **fields}
    return created(api.post("/api/sessions", json=body))


def make_subtask(api: httpx.Client, task_id: str, **fields: Any) -> dict[str, Any]:
    """A new subtask titled "Subtask" of the task; ``fields`` override or add to the body."""
    return created(api.post(f"/api/tasks/{task_id}/subtasks", json={"title": "Subtask", **fields}))


def request_spawn(api: httpx.Client, project_id: str, task_ids: list[str], **fields: Any) -> str:
    """Ask for a spawned session on ``task_ids`` (``fields`` add to the body); its id."""
    body = {"projectId": project_id, "taskIds": task_ids, **fields}
    session_id: str = created(api.post("/api/sessions/spawn", json=body))["sessionId"]
    return session_id


def seed_one_of_each(api: httpx.Client, name: str) -> dict[str, str]:
    """A project working in /tmp, a task in it with one subtask, a session linked
    to the task and a pending approval of that session, all named after ``name``:
    their ids by kind (``project``, ``task``, ``subtask``, ``session``,
    ``approval``)."""
    project = make_project(api, name=name, workingDir="/tmp")["id"]
    task = make_task(api, project, title=f"{name} task")["id"]
    session = make_session(api, project, [task])["id"]
    asked = {"tool": "Bash", "input": {"command": f"echo {name}"}}
    return {
        "project": project,
        "task": task,
        "subtask": make_subtask(api, task, title=f"{name} step")["id"],
        "session": session,
        "approval": created(api.post(f"/api/sessions/{session}/approvals", json=asked))["id"],
    }


def git(cwd: Path, *args: str) -> str:
    """Run ``git ARGS`` in ``cwd`` (failing the test if it fails); its output."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_repo(path: Path, files: dict[str, str], ignored: dict[str, str] | None = None) -> Path:
    """A git repository at ``path`` on ``main``: ``files`` in one commit by "Dev",
    then ``ignored`` written (and listed in ``.gitignore``, committed too)."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "config", "user.name", "Dev")
    git(path, "config", "user.email", "dev@example.com")
    ignored = ignored or {}
    if ignored:
        files = {**files, ".gitignore": "".join(f"{name}\n" for name in ignored)}
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", ".")
    git(path, "commit", "--quiet", "-m", "start")
    for name, text in ignored.items():
        (path / name).write_text(text)
    return path
