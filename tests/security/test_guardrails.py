"""Spawn guardrails and connection limits: a retried spawn never starts a second
agent, a project cannot pile up unbounded active sessions, and the number of
WebSocket clients is capped."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import RunningServer
from tests.helpers import assert_error


def spawn(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    body = {"projectId": project["id"], "taskIds": [task["id"]]}
    return api.post("/api/sessions/spawn", json=body, headers=headers)


def test_a_retried_spawn_with_the_same_key_returns_the_first_session(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any]
) -> None:
    first = spawn(api, project, task, "retry-1")
    again = spawn(api, project, task, "retry-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["sessionId"] == first.json()["sessionId"]
    sessions = api.get("/api/sessions", params={"projectId": project["id"]}).json()
    assert [s["id"] for s in sessions] == [first.json()["sessionId"]]
    assert api.get(f"/api/tasks/{task['id']}").json()["sessionIds"] == [first.json()["sessionId"]]


def test_different_keys_spawn_different_sessions(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any]
) -> None:
    first = spawn(api, project, task, "key-a").json()["sessionId"]
    second = spawn(api, project, task, "key-b").json()["sessionId"]
    assert first != second


def test_spawns_without_a_key_are_never_merged(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any]
) -> None:
    assert (
        spawn(api, project, task).json()["sessionId"]
        != spawn(api, project, task).json()["sessionId"]
    )


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "non-ascii-é"])
def test_a_malformed_idempotency_key_is_refused(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], key: str
) -> None:
    response = api.post(
        "/api/sessions/spawn",
        content=httpx.Request(
            "POST", "http://x", json={"projectId": project["id"], "taskIds": [task["id"]]}
        ).content,
        headers={b"Content-Type": b"application/json", b"Idempotency-Key": key.encode("utf-8")},
    )
    assert_error(response, 400, "VALIDATION_ERROR")
    assert api.get("/api/sessions", params={"projectId": project["id"]}).json() == []


@pytest.fixture
def capped(server_factory: Any) -> RunningServer:
    made: RunningServer = server_factory(MAESTRO_MAX_ACTIVE_SESSIONS="2")
    return made


def test_spawning_past_the_active_session_cap_is_refused_with_429(capped: RunningServer) -> None:
    with httpx.Client(base_url=capped.url) as api:
        project = api.post("/api/projects", json={"name": "Capped"}).json()
        task = api.post("/api/tasks", json={"projectId": project["id"], "title": "T"}).json()
        ids = [spawn(api, project, task).json()["sessionId"] for _ in range(2)]
        refused = spawn(api, project, task)
        body = assert_error(refused, 429, "TOO_MANY_SESSIONS")
        assert body["details"] == {"active": 2, "limit": 2}
        api.patch(f"/api/sessions/{ids[0]}", json={"status": "completed"})
        assert spawn(api, project, task).status_code == 201


def test_a_retry_is_answered_even_when_the_cap_is_reached(capped: RunningServer) -> None:
    with httpx.Client(base_url=capped.url) as api:
        project = api.post("/api/projects", json={"name": "Capped"}).json()
        task = api.post("/api/tasks", json={"projectId": project["id"], "title": "T"}).json()
        first = spawn(api, project, task, "k1")
        spawn(api, project, task)
        again = spawn(api, project, task, "k1")
        assert again.status_code == 201
        assert again.json()["sessionId"] == first.json()["sessionId"]


def test_websocket_clients_past_the_limit_are_refused_with_503(server_factory: Any) -> None:
    server: RunningServer = server_factory(MAESTRO_WS_MAX_CLIENTS="2")
    with connect(server.ws_url), connect(server.ws_url):
        with pytest.raises(InvalidStatus) as refused:
            connect(server.ws_url)
        assert refused.value.response.status_code == 503
    # Once the two have gone (the server notices within moments), there is room again.
    deadline = time.monotonic() + 10
    while True:
        try:
            with connect(server.ws_url) as again:
                again.send('{"type":"ping"}')
                assert again.recv(timeout=5) == '{"type":"pong"}'
                return
        except InvalidStatus:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
