"""Hostile clients, beyond the request table of ``tests/test_bad_input.py`` and the
WebSocket cases of ``tests/e2e/test_websocket.py`` (SPEC sections 2, 5 and 11):

- with ``MAESTRO_TOKEN`` set, a missing, wrong or malformed token on any REST
  endpoint is 401 ``UNAUTHORIZED`` and changes nothing stored, while ``/health``
  and the UI's static files stay open;
- (a server started on a non-loopback address without a token generates one:
  ``tests/deploy/test_first_token.py``);
- 1,000 idle WebSocket connections held open do not stop the API or a live
  client;
- a WebSocket message over 64 KiB closes that client, and only that client.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import socket
import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from maestro.server.app import ENDPOINTS
from tests.conftest import RunningServer, StoreBackend
from tests.e2e.wsclient import EventStream, names
from tests.helpers import created, seed_one_of_each, wait_for_files
from tests.test_bad_input import Reply, send, snapshot

pytestmark = pytest.mark.slow  # starts servers

TOKEN = "s3cret-token-for-hostile-tests"

# -- a missing or wrong token ------------------------------------------------------


class Guarded:
    """A token-protected server holding one of everything, and requests it would
    accept from a client that has the token."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.ids = self.seed()

    def seed(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=self.server.url, headers=headers, timeout=10) as api:
            ids = seed_one_of_each(api, "Guarded")
            # A runner of its own (by name), and a spawning session it may claim.
            runner = {"name": f"guarded {ids['project']}", "host": "h", "capacity": 1}
            ids["runner"] = created(api.post("/api/runners", json=runner))["id"]
            spawned = {"projectId": ids["project"], "taskIds": [ids["task"]]}
            ids["spawned"] = created(api.post("/api/sessions/spawn", json=spawned))["sessionId"]
            # And a runner token to revoke.
            ids["token"] = created(api.post("/api/tokens", json={"runner": "guarded"}))["id"]
            return ids

    def target(self, path: str) -> str:
        """``path`` of the endpoint table with the seeded ids filled in: ``{id}`` is
        the entity the path is about, ``{taskId}`` the task, ``{name}`` a skill."""
        filled = path.replace("{taskId}", self.ids["task"]).replace("{name}", "maestro-worker")
        if "{id}" not in filled:
            return filled
        if "/subtasks/" in path:
            about = "subtask"
        elif path.endswith("/claim"):
            about = "spawned"
        else:
            about = path.split("/")[2].removesuffix("s")
        return filled.replace("{id}", self.ids[about])

    def body(self, method: str, path: str) -> bytes | None:
        """A body the endpoint accepts, or ``None`` for one that takes none."""
        bodies: dict[str, dict[str, Any]] = {
            "POST /api/projects": {"name": "n"},
            "PUT /api/projects/{id}": {"name": "n"},
            "PATCH /api/projects/{id}": {"name": "n"},
            "POST /api/tasks": {"projectId": self.ids["project"], "title": "t"},
            "PATCH /api/tasks/{id}": {"title": "t"},
            "POST /api/tasks/{id}/timeline": {"message": "m"},
            "POST /api/tasks/{taskId}/subtasks": {"title": "s"},
            "PATCH /api/tasks/{taskId}/subtasks/{id}": {"title": "s"},
            "POST /api/sessions": {"projectId": self.ids["project"], "taskIds": [self.ids["task"]]},
            "PATCH /api/sessions/{id}": {"name": "n"},
            "POST /api/sessions/spawn": {
                "projectId": self.ids["project"],
                "taskIds": [self.ids["task"]],
            },
            "POST /api/sessions/{id}/approvals": {"tool": "Bash", "input": {"command": "ls"}},
            "POST /api/approvals/{id}/decision": {"decision": "deny"},
            "POST /api/sessions/{id}/activity": {"entries": [{"kind": "tool", "text": "x"}]},
            "POST /api/runners": {"name": "n", "host": "h", "capacity": 1},
            "POST /api/runners/{id}/heartbeat": {},
            "POST /api/sessions/{id}/claim": {"runnerId": self.ids["runner"]},
            "POST /api/tokens": {"runner": "r"},
        }
        body = bodies.get(f"{method} {path}")
        return None if body is None else json.dumps(body).encode()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, backend: StoreBackend) -> Iterator[Guarded]:
    server = backend.server(tmp_path_factory.mktemp("token") / "data", MAESTRO_TOKEN=TOKEN)
    server.start()
    try:
        yield Guarded(server)
    finally:
        server.stop()
        backend.discard(server)


GUARDED = [e for e in ENDPOINTS if e.path != "/health"]

# How a request may carry the token wrongly: the Authorization header (None: none
# at all) and a query string.
BAD_TOKENS: dict[str, tuple[str | None, str]] = {
    "missing": (None, ""),
    "wrong": ("Bearer wrong-token", ""),
    "empty": ("Bearer ", ""),
    "scheme only": ("Bearer", ""),
    "no scheme": (TOKEN, ""),
    "basic scheme": ("Basic " + base64.b64encode(f"user:{TOKEN}".encode()).decode(), ""),
    "prefix of the token": (f"Bearer {TOKEN[:-1]}", ""),
    "token plus more": (f"Bearer {TOKEN}x", ""),
    "non-ascii": ("Bearer s3cr\xe9t", ""),
    "in the query string": (None, f"?token={TOKEN}"),  # only WebSocket clients may
}


def token_cases() -> Iterator[Any]:
    for endpoint in GUARDED:
        for name in BAD_TOKENS:
            yield pytest.param(
                endpoint.method, endpoint.path, name, id=f"{endpoint.method} {endpoint.path} {name}"
            )


def request(
    guarded: Guarded, method: str, path: str, authorization: str | None, query: str = ""
) -> Reply:
    return send(
        guarded.server.port,
        method,
        guarded.target(path) + query,
        guarded.body(method, path),
        headers={"Authorization": authorization},
    )


@pytest.mark.json_only
@pytest.mark.parametrize(("method", "path", "how"), list(token_cases()))
def test_rest_call_without_the_right_token_is_unauthorized_and_changes_nothing(
    guarded: Guarded, method: str, path: str, how: str
) -> None:
    authorization, query = BAD_TOKENS[how]
    wait_for_files(guarded.server.data_dir)  # the seed's checkpoint, not ours
    before = snapshot(guarded.server.data_dir)
    reply = request(guarded, method, path, authorization, query)
    after = snapshot(guarded.server.data_dir)

    assert reply.status == 401, str(reply)
    error = json.loads(reply.body)
    assert error["code"] == "UNAUTHORIZED" and error["error"] is True
    assert "MAESTRO_TOKEN" in error["message"]
    assert set(error) <= {"error", "code", "message", "details"}
    assert reply.headers.get("www-authenticate") == "Bearer"
    assert TOKEN not in reply.body.decode(), "the answer must not echo the token"
    assert after == before, "a refused request changed files under the data dir"


def test_every_guarded_request_is_served_with_the_token(guarded: Guarded) -> None:
    """The control for the table above: with the token, each request is served, so
    the 401 there is the token's doing. Deletes run last, children first, on
    entities of their own."""
    own = Guarded(guarded.server)
    deletes = [
        "/api/tokens/{id}",
        "/api/runners/{id}",
        "/api/tasks/{taskId}/subtasks/{id}",
        "/api/sessions/{id}/tasks/{taskId}",
        "/api/sessions/{id}",
        "/api/tasks/{id}",
        "/api/projects/{id}",
    ]
    ordered = sorted(
        GUARDED, key=lambda e: deletes.index(e.path) + 1 if e.method == "DELETE" else 0
    )
    for endpoint in ordered:
        reply = request(own, endpoint.method, endpoint.path, f"Bearer {TOKEN}")
        if endpoint.method == "DELETE" and endpoint.path == "/api/projects/{id}":
            # The requests above left tasks and sessions in it.
            assert json.loads(reply.body)["code"] == "PROJECT_HAS_DEPENDENCIES", str(reply)
        else:
            assert 200 <= reply.status < 300, f"{endpoint.method} {endpoint.path} -> {reply}"


def test_the_bearer_scheme_name_is_case_insensitive(guarded: Guarded) -> None:
    reply = request(guarded, "GET", "/api/projects", f"bearer {TOKEN}")
    assert reply.status == 200, str(reply)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token"])
def test_health_stays_open_without_the_token(guarded: Guarded, authorization: str | None) -> None:
    reply = send(guarded.server.port, "GET", "/health", headers={"Authorization": authorization})
    assert reply.status == 200, str(reply)
    assert json.loads(reply.body)["status"] == "ok"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html"),
        ("/index.html", "text/html"),
        ("/styles.css", "text/css"),
        ("/js/app.js", "javascript"),
    ],
)
def test_the_ui_files_stay_open_without_the_token(
    guarded: Guarded, path: str, content_type: str
) -> None:
    """The page must load to ask the user for the token."""
    reply = send(guarded.server.port, "GET", path)
    assert reply.status == 200, str(reply)
    assert content_type in reply.headers.get("content-type", "")
    assert reply.body


# -- 1,000 idle WebSocket connections ----------------------------------------------------

IDLE = 1000


@pytest.fixture
def many_files() -> Iterator[int]:
    """The open-file soft limit raised to the hard limit (servers started after
    this inherit it): 1,000 connections are 1,000 files on each side."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 4 * IDLE)
    if wanted < 2 * IDLE + 200:
        pytest.skip(f"the open-file hard limit ({hard}) is too low for {IDLE} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield wanted
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_idle(port: int, count: int) -> list[socket.socket]:
    """``count`` WebSocket connections that complete the handshake and then neither
    send nor read anything."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        sockets.append(sock)
    for sock in sockets:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, "the server closed an idle connection during its handshake"
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head[:100]
    return sockets


def timed_writes(api: httpx.Client, project: str, count: int) -> list[float]:
    """Create ``count`` tasks; the seconds each took."""
    took = []
    for i in range(count):
        started = time.perf_counter()
        response = api.post("/api/tasks", json={"projectId": project, "title": f"T{i}"})
        took.append(time.perf_counter() - started)
        assert response.status_code == 201, response.text
    return took


@pytest.mark.timeout(120)
def test_a_thousand_idle_websocket_clients_do_not_stop_the_api_or_a_live_client(
    many_files: int, server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    server: RunningServer = server_factory(MAESTRO_WS_MAX_CLIENTS=str(IDLE + 1))
    writes = 50
    with httpx.Client(base_url=server.url, timeout=30) as api:
        project = api.post("/api/projects", json={"name": "Idle crowd"}).json()["id"]
        alone = timed_writes(api, project, writes)
        started = time.perf_counter()
        idle = open_idle(server.port, IDLE)
        opened = time.perf_counter() - started
        try:
            with EventStream(server.ws_url, timeout=30) as live:
                # The server holds every one of them: the limit is reached.
                with pytest.raises(InvalidStatus) as refused:
                    connect(server.ws_url, open_timeout=10)
                assert refused.value.response.status_code == 503

                crowded = timed_writes(api, project, writes)
                received = live.sync()
                assert names(received) == ["task:created"] * writes
                assert [m["data"]["title"] for m in received] == [f"T{i}" for i in range(writes)]
                assert api.get("/health").status_code == 200
        finally:
            for sock in idle:
                sock.close()
    with capsys.disabled():
        print(
            f"\n{IDLE} idle WebSocket clients opened in {opened:.1f}s; POST /api/tasks median "
            f"{statistics.median(alone) * 1000:.1f} ms alone, "
            f"{statistics.median(crowded) * 1000:.1f} ms with them connected "
            f"(every event also went to the {IDLE}); the live client got {writes}/{writes}"
        )
    assert statistics.median(crowded) < 1.0, "writes crawl with idle clients connected"


# -- an oversized WebSocket message ------------------------------------------------------

MAX_MESSAGE = 64 * 1024


def test_a_message_over_64_kib_closes_that_client_only(server: RunningServer) -> None:
    with (
        EventStream(server.ws_url) as bystander,
        connect(server.ws_url, max_size=None, open_timeout=10) as offender,
    ):
        offender.send("x" * (MAX_MESSAGE + 1))
        with pytest.raises(ConnectionClosed) as closed:
            offender.recv(timeout=10)
        assert closed.value.rcvd is not None, "the server must close with a close frame"
        assert closed.value.rcvd.code == 1009  # message too big

        with httpx.Client(base_url=server.url, timeout=10) as api:
            api.post("/api/projects", json={"name": "Still live"}).raise_for_status()
        assert names(bystander.sync()) == ["project:created"]


def test_a_message_of_exactly_64_kib_is_taken(server: RunningServer) -> None:
    with EventStream(server.ws_url, max_size=None) as client:
        client.connection.send("x" * MAX_MESSAGE)
        client.ping()
        assert client.receive() == {"type": "pong"}
