"""Assertions, waits and entity makers shared by the API tests."""

from __future__ import annotations

import time
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
