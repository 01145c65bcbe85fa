"""``MAESTRO_NOTIFY_URL``: the webhook hears of approvals and finished sessions,
retries what failed on the way, gives up on what the receiver refused, and
never holds up a request. Against a real local HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from maestro.config import ConfigError, Settings
from maestro.server import notify
from tests.helpers import created, ok
from tests.server.in_process import InProcessApi


@dataclass
class Receiver:
    """A webhook endpoint: records each POST body; answers ``statuses`` in turn
    (then 200), after ``delay`` seconds."""

    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.bodies.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.http.server_address[1]}/hook"

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.stop()


@pytest.fixture
def start_api(tmp_path: Path, receiver: Receiver) -> Iterator[Callable[[], InProcessApi]]:
    apis: list[InProcessApi] = []

    def start() -> InProcessApi:
        apis.append(InProcessApi(tmp_path / f"data{len(apis)}", notify_url=receiver.start()))
        return apis[-1]

    yield start
    for api in apis:
        api.close()


def run_until(api: InProcessApi, done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the server's background tasks (the sender) run until ``done()``."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the webhook did not hear in time"
        api._runner.run(asyncio.sleep(0.02))


def session_in_new_project(api: InProcessApi) -> dict[str, Any]:
    project = created(api.post("/api/projects", json={"name": "P"}))
    task = created(api.post("/api/tasks", json={"projectId": project["id"], "title": "T"}))
    body = {"projectId": project["id"], "taskIds": [task["id"]], "name": "fixer"}
    return created(api.post("/api/sessions", json=body))


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "FIRST_BACKOFF_SECONDS", 0.01)


def test_an_approval_and_a_finished_session_are_told_once_each(
    start_api: Callable[[], InProcessApi], receiver: Receiver
) -> None:
    api = start_api()
    session = session_in_new_project(api)
    body = {"tool": "Bash", "input": {"command": "npm install left-pad"}}
    approval = created(api.post(f"/api/sessions/{session['id']}/approvals", json=body))
    ok(api.patch(f"/api/sessions/{session['id']}", json={"status": "completed"}))
    # Touched again after it finished (its usage lands): not told again.
    ok(api.patch(f"/api/sessions/{session['id']}", json={"usage": {"turns": 2}}))
    run_until(api, lambda: len(receiver.bodies) >= 2)
    api._runner.run(asyncio.sleep(0.2))
    told, finished = receiver.bodies
    assert told["event"] == "approval.created"
    assert told["approval"]["id"] == approval["id"]
    assert "npm install left-pad" in told["text"]
    assert finished["event"] == "session.completed"
    assert finished["session"]["id"] == session["id"]
    assert finished["text"] == f"Maestro: session {session['id']} (fixer) completed"
    assert len(receiver.bodies) == 2


def test_a_failed_delivery_is_tried_again(
    start_api: Callable[[], InProcessApi], receiver: Receiver
) -> None:
    receiver.statuses = [503, 500]
    api = start_api()
    session = session_in_new_project(api)
    ok(api.patch(f"/api/sessions/{session['id']}", json={"status": "failed"}))
    run_until(api, lambda: len(receiver.bodies) == 1)
    assert receiver.attempts == 3
    assert receiver.bodies[0]["event"] == "session.failed"


def test_a_refusal_is_not_tried_again(
    start_api: Callable[[], InProcessApi], receiver: Receiver
) -> None:
    receiver.statuses = [404]
    api = start_api()
    first = session_in_new_project(api)
    ok(api.patch(f"/api/sessions/{first['id']}", json={"status": "failed"}))
    second = session_in_new_project(api)
    ok(api.patch(f"/api/sessions/{second['id']}", json={"status": "completed"}))
    run_until(api, lambda: len(receiver.bodies) == 1)
    assert receiver.attempts == 2  # the refused one once, then the next one
    assert receiver.bodies[0]["session"]["id"] == second["id"]


def test_a_slow_webhook_holds_up_no_request(
    start_api: Callable[[], InProcessApi], receiver: Receiver
) -> None:
    receiver.delay = 1.0
    api = start_api()
    session = session_in_new_project(api)
    ok(api.patch(f"/api/sessions/{session['id']}", json={"status": "completed"}))
    started = time.monotonic()
    for _ in range(5):
        session_in_new_project(api)
    assert time.monotonic() - started < receiver.delay
    run_until(api, lambda: len(receiver.bodies) == 1)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "http://"])
def test_a_notify_url_that_is_not_http_stops_the_server_at_start(url: str) -> None:
    with pytest.raises(ConfigError, match="MAESTRO_NOTIFY_URL must be an http"):
        Settings.load(env={"MAESTRO_NOTIFY_URL": url})
