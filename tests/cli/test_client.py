"""``MaestroClient``, the one HTTP client of the CLI and the runner, in-process:
against the real shared server, and against a scripted local server for what a
real one rarely does (5xx, dropped connections, slow answers, closed idle
connections)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from maestro.cli.errors import exit_code_of
from maestro.client import ApiError, ClientError, MaestroClient, ServerUnreachable, api_path
from tests.conftest import RunningServer, free_port


@dataclass
class Answer:
    """What the scripted server does with one request."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None  # sent as is instead of ``body`` as JSON
    drop: bool = False  # close the connection without answering
    delay: float = 0.0
    close_after: bool = False  # close the connection after answering, without saying so


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int  # the client's port: one per TCP connection


class ScriptedServer:
    """A local HTTP/1.1 server that answers from ``answers`` (then 200 ``{}``) and
    records what it was sent in ``seen``."""

    def __init__(self, port: int = 0) -> None:
        self.answers: list[Answer] = []
        self.seen: list[Seen] = []
        self.http = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                script.seen.append(
                    Seen(self.command, self.path, dict(self.headers), body, self.client_address[1])
                )
                answer = script.answers.pop(0) if script.answers else Answer(body={})
                time.sleep(answer.delay)
                if answer.drop:
                    self.close_connection = True
                    return
                raw = answer.raw
                if raw is None:
                    raw = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                self.close_connection = answer.close_after

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = answer

        return Handler


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.stop()


def client(url: str, **options: Any) -> MaestroClient:
    return MaestroClient(url, **{"token": "", "retries": 3, "backoff": 0.01, **options})


# Against the real server


def test_a_round_trip_against_the_real_server(shared_server: RunningServer) -> None:
    with client(shared_server.url) as maestro:
        project = maestro.post("/api/projects", {"name": "Client test", "workingDir": "/tmp"})
        task = maestro.post("/api/tasks", {"projectId": project["id"], "title": "Über café"})
        updated = maestro.patch(f"/api/tasks/{task['id']}", {"status": "in_progress"})
        listed = maestro.get("/api/tasks", projectId=project["id"], status=None)
    assert updated["status"] == "in_progress"
    assert [t["title"] for t in listed] == ["Über café"]


def test_the_documented_error_body_becomes_an_api_error(shared_server: RunningServer) -> None:
    with client(shared_server.url) as maestro, pytest.raises(ApiError) as raised:
        maestro.get("/api/tasks/task_missing")
    assert raised.value.status == 404
    assert raised.value.code == "TASK_NOT_FOUND"
    assert exit_code_of(raised.value) == 2
    assert "task_missing" in raised.value.message


# Requests as sent


def test_the_token_is_sent_as_a_bearer_and_the_body_as_json(scripted: ScriptedServer) -> None:
    with client(scripted.url, token="s3cret") as maestro:
        maestro.post("/api/tasks", {"title": "café"})
    (seen,) = scripted.seen
    assert seen.headers["Authorization"] == "Bearer s3cret"
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == {"title": "café"}


def test_no_token_sends_no_authorization(scripted: ScriptedServer) -> None:
    with client(scripted.url) as maestro:
        maestro.get("/health")
    assert "Authorization" not in scripted.seen[0].headers


def test_query_parameters_drop_none_and_spell_booleans_as_the_server_reads_them(
    scripted: ScriptedServer,
) -> None:
    with client(scripted.url) as maestro:
        maestro.get("/api/sessions", status=None, active=True, stale=False, ids=["a", "b"])
    assert scripted.seen[0].path == "/api/sessions?active=true&stale=false&ids=a&ids=b"


def test_a_path_with_a_space_is_percent_encoded_not_refused(scripted: ScriptedServer) -> None:
    with client(scripted.url) as maestro:
        maestro.get("/api/tasks/task x")
    assert scripted.seen[0].path == "/api/tasks/task%20x"


def test_a_base_url_with_a_path_keeps_it(scripted: ScriptedServer) -> None:
    with client(scripted.url + "/maestro/") as maestro:
        maestro.get("/api/projects")
    assert scripted.seen[0].path == "/maestro/api/projects"


def test_requests_share_one_kept_alive_connection(scripted: ScriptedServer) -> None:
    with client(scripted.url) as maestro:
        for _ in range(3):
            maestro.get("/health")
    assert len({seen.connection for seen in scripted.seen}) == 1


# Answers


def test_an_empty_success_body_is_none(scripted: ScriptedServer) -> None:
    scripted.answers.append(Answer(status=204))
    with client(scripted.url) as maestro:
        assert maestro.delete("/api/things/1") is None


def test_the_error_body_details_are_kept(scripted: ScriptedServer) -> None:
    details = {"field": "title", "errors": [{"path": "title", "message": "required"}]}
    body = {"error": True, "code": "VALIDATION_ERROR", "message": "no", "details": details}
    scripted.answers.append(Answer(status=400, body=body))
    with client(scripted.url) as maestro, pytest.raises(ApiError) as raised:
        maestro.post("/api/tasks", {})
    assert (raised.value.status, raised.value.details, raised.value.path) == (
        400,
        details,
        "/api/tasks",
    )


def test_an_undocumented_error_is_named_by_its_status(scripted: ScriptedServer) -> None:
    scripted.answers.append(Answer(status=502, raw=b"<html>Bad gateway</html>"))
    with client(scripted.url) as maestro, pytest.raises(ApiError) as raised:
        maestro.post("/api/tasks", {})
    assert (raised.value.code, exit_code_of(raised.value)) == ("HTTP_502", 1)
    assert raised.value.message == "the server answered 502 to /api/tasks"


@pytest.mark.parametrize(
    ("status", "code", "path", "exit_code"),
    [
        (401, "UNAUTHORIZED", "/api/tasks", 4),
        (403, "FORBIDDEN_HOST", "/api/tasks", 4),
        (404, "PROJECT_NOT_FOUND", "/api/projects/p", 2),
        # A refused spawn exits 5: the spawn command's decision (tests/cli/test_spawn.py).
        (400, "VALIDATION_ERROR", "/api/sessions/spawn", 1),
        (400, "VALIDATION_ERROR", "/api/tasks", 1),
    ],
)
def test_error_codes_map_to_exit_codes(
    scripted: ScriptedServer, status: int, code: str, path: str, exit_code: int
) -> None:
    body = {"error": True, "code": code, "message": "no"}
    scripted.answers.append(Answer(status=status, body=body))
    with client(scripted.url) as maestro, pytest.raises(ApiError) as raised:
        maestro.post(path, {})
    assert (raised.value.code, raised.value.message, exit_code_of(raised.value)) == (
        code,
        "no",
        exit_code,
    )


# Retries


def test_a_5xx_is_retried_for_an_idempotent_request(scripted: ScriptedServer) -> None:
    scripted.answers += [Answer(status=503), Answer(status=500), Answer(body={"ok": 1})]
    with client(scripted.url) as maestro:
        assert maestro.get("/api/tasks") == {"ok": 1}
    assert len(scripted.seen) == 3


def test_a_5xx_is_not_retried_for_a_post(scripted: ScriptedServer) -> None:
    scripted.answers += [Answer(status=503), Answer(body={"ok": 1})]
    with client(scripted.url) as maestro, pytest.raises(ApiError):
        maestro.post("/api/tasks", {"title": "once"})
    assert len(scripted.seen) == 1


def test_a_dropped_connection_is_retried_for_get(scripted: ScriptedServer) -> None:
    scripted.answers += [Answer(drop=True), Answer(body=[1])]
    with client(scripted.url) as maestro:
        assert maestro.get("/api/tasks") == [1]


def test_a_dropped_connection_fails_a_patch_without_sending_it_twice(
    scripted: ScriptedServer,
) -> None:
    scripted.answers += [Answer(drop=True)]
    with client(scripted.url) as maestro, pytest.raises(ClientError) as raised:
        maestro.patch("/api/tasks/t", {"timeline": []})
    assert raised.value.code == "NETWORK_ERROR"
    assert raised.value.message.startswith(f"the request to {scripted.url}/api/tasks/t failed: ")
    assert len(scripted.seen) == 1


def test_a_slow_answer_times_out(scripted: ScriptedServer) -> None:
    scripted.answers += [Answer(delay=1.0)]
    with client(scripted.url, timeout=0.2) as maestro, pytest.raises(ClientError) as raised:
        maestro.post("/api/tasks", {})
    assert raised.value.code == "NETWORK_ERROR"


def test_an_idle_connection_the_server_closed_is_replaced_not_failed(
    scripted: ScriptedServer,
) -> None:
    # The server closes the kept-alive connection after answering (as uvicorn does
    # after its keep-alive timeout); a POST sent on it would be lost.
    scripted.answers += [Answer(body={}, close_after=True)]
    with client(scripted.url) as maestro:
        maestro.get("/health")
        time.sleep(0.1)
        assert maestro.post("/api/tasks", {"title": "x"}) == {}
    assert len({seen.connection for seen in scripted.seen}) == 2


def test_a_refused_connection_is_unreachable_after_the_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with (
        client(url, retries=2, backoff=0.05) as maestro,
        pytest.raises(ServerUnreachable) as raised,
    ):
        maestro.post("/api/tasks", {})
    assert time.monotonic() - started >= 0.05 + 0.1  # backoff 0.05, then 0.1
    assert exit_code_of(raised.value) == 3
    assert raised.value.message.startswith(f"cannot reach the Maestro server at {url};")


def test_a_refused_connection_is_retried_even_for_a_post() -> None:
    # Nothing reached the server, so a POST is safe to send again: the port
    # starts answering while the client backs off.
    port = free_port()
    started: list[ScriptedServer] = []
    opener = threading.Timer(0.1, lambda: started.append(ScriptedServer(port)))
    opener.start()
    try:
        with client(f"http://127.0.0.1:{port}", retries=6, backoff=0.05) as maestro:
            assert maestro.post("/api/tasks", {"title": "x"}) == {}
    finally:
        opener.join()
        for server in started:
            server.stop()
    assert [seen.method for seen in started[0].seen] == ["POST"]


def test_an_url_without_http_is_a_clear_error() -> None:
    with client("localhost:3000") as maestro, pytest.raises(ClientError) as raised:
        maestro.get("/health")
    assert raised.value.code == "INVALID_SERVER_URL"


def test_a_port_that_is_not_a_number_is_unreachable_not_a_crash() -> None:
    with client("http://127.0.0.1:abc", retries=0) as maestro, pytest.raises(ServerUnreachable):
        maestro.get("/health")


@pytest.mark.parametrize(
    ("segments", "path"),
    [
        (("tasks", "task_1"), "/api/tasks/task_1"),
        (("tasks", "a/../b", "usage"), "/api/tasks/a%2F..%2Fb/usage"),
        (("tasks", "x?cascade=true"), "/api/tasks/x%3Fcascade%3Dtrue"),
        (("sessions", "s 1#frag"), "/api/sessions/s%201%23frag"),
    ],
)
def test_an_id_stays_one_path_segment_whatever_it_holds(
    segments: tuple[str, ...], path: str
) -> None:
    assert api_path(*segments) == path


def test_a_quoted_path_reaches_the_server_as_it_is(scripted: ScriptedServer) -> None:
    scripted.answers.append(Answer(status=200, body={}))
    with client(scripted.url) as maestro:
        maestro.delete(api_path("tasks", "x?cascade=true"))
    assert scripted.seen[-1].path == "/api/tasks/x%3Fcascade%3Dtrue"


# The typed methods


SUBTASK = {"id": "sub_1", "taskId": "task_1", "title": "a", "completed": True}
TASK = {
    "id": "task_1",
    "projectId": "proj_1",
    "title": "Typed",
    "status": "in_progress",
    "subtasks": [SUBTASK],
    "timeline": [{"id": "tl_1", "type": "update", "timestamp": 5, "message": "hi"}],
    "createdAt": 1,
    "updatedAt": 2,
}


def test_a_typed_read_answers_with_the_domain_struct(scripted: ScriptedServer) -> None:
    from maestro.domain.models import Task

    scripted.answers.append(Answer(body=TASK))
    with client(scripted.url) as maestro:
        task = maestro.get_task("task_1")
    assert isinstance(task, Task)
    assert (task.project_id, task.status, task.subtasks[0].completed) == (
        "proj_1",
        "in_progress",
        True,
    )
    assert task.timeline[0].message == "hi"


def test_typed_methods_put_each_id_in_one_path_segment(scripted: ScriptedServer) -> None:
    scripted.answers += [
        Answer(body=SUBTASK),
        Answer(body={"success": True, "id": "x"}),
    ]
    with client(scripted.url) as maestro:
        maestro.update_subtask("a/../b", "x?cascade=true", {"completed": True})
        maestro.delete_task("t 1", cascade=True)
    assert [s.path for s in scripted.seen] == [
        "/api/tasks/a%2F..%2Fb/subtasks/x%3Fcascade%3Dtrue",
        "/api/tasks/t%201?cascade=true",
    ]


def test_typed_list_filters_go_in_the_query_and_unset_ones_stay_out(
    scripted: ScriptedServer,
) -> None:
    scripted.answers += [Answer(body=[TASK]), Answer(body=[])]
    with client(scripted.url) as maestro:
        tasks = maestro.list_tasks(project_id="proj_1", parent_id="null")
        sessions = maestro.list_sessions(status="spawning", active=True)
    assert [t.id for t in tasks] == ["task_1"] and sessions == []
    assert [s.path for s in scripted.seen] == [
        "/api/tasks?projectId=proj_1&parentId=null",
        "/api/sessions?status=spawning&active=true",
    ]


def test_an_answer_of_another_shape_is_a_clear_client_error(scripted: ScriptedServer) -> None:
    scripted.answers.append(Answer(body={**TASK, "status": "someday"}))
    with client(scripted.url) as maestro, pytest.raises(ClientError) as raised:
        maestro.get_task("task_1")
    assert raised.value.code == "BAD_RESPONSE"
    assert "GET /api/tasks/task_1" in raised.value.message
    assert "$.status" in raised.value.message


def test_a_typed_call_refused_by_the_server_keeps_code_and_details(
    scripted: ScriptedServer,
) -> None:
    body = {"error": True, "code": "VALIDATION_ERROR", "message": "bad", "details": {"f": 1}}
    scripted.answers.append(Answer(status=400, body=body))
    with client(scripted.url) as maestro, pytest.raises(ApiError) as raised:
        maestro.create_task({"title": ""})
    assert (raised.value.status, raised.value.code, raised.value.details) == (
        400,
        "VALIDATION_ERROR",
        {"f": 1},
    )
    assert raised.value.path == "/api/tasks"
