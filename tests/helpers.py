"""Assertions and waits shared by the API tests."""

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
