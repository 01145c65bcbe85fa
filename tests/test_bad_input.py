"""Hostile and malformed requests (SPEC sections 3, 4 and 11).

Every request here must be refused with its documented 4xx status and the error
body ``{"error": true, "code", "message", "details"?}`` -- never a 5xx, never a
stack trace -- and must leave every byte under the data directory as it was
(``events.jsonl`` included).

Requests go over a raw socket, so the request line reaches the server exactly as
written: httpx would resolve ``..`` segments and re-encode escapes, and would add
headers of its own. One seeded server serves the whole module; each test compares
a snapshot of the data directory taken just before and just after its request.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tests.conftest import RunningServer
from tests.helpers import seed_one_of_each, wait_for_files

pytestmark = pytest.mark.slow  # one server process for the module

ONE_MIB = 1024 * 1024
DEPTH = 100_000


# -- a raw HTTP/1.1 client ----------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def __str__(self) -> str:
        return f"{self.status} {self.body[:300]!r}"


def send(
    port: int,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str | None] | None = None,
    stream: Iterable[bytes] | None = None,
) -> Reply:
    """One request on a fresh connection, sent byte for byte as given.

    ``headers`` override the defaults (``Host``, ``Connection: close`` and, with a
    body, ``Content-Type: application/json`` and ``Content-Length``); ``None``
    leaves a header out. ``stream`` sends these pieces after the head instead of
    ``body`` (the caller frames them), and stops quietly if the server hangs up.
    """
    wanted: dict[str, str | None] = {"Host": f"127.0.0.1:{port}", "Connection": "close"}
    if body is not None:
        wanted["Content-Type"] = "application/json"
        wanted["Content-Length"] = str(len(body))
    wanted.update(headers or {})
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in wanted.items() if value is not None
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n")
        try:
            for piece in stream if stream is not None else [body or b""]:
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and hung up; its answer is read below
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass  # an early answer followed by a reset of the unread upload
    head_bytes, _, payload = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head_bytes.decode("latin-1").split("\r\n")
    parsed = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    reply_headers = {name.lower(): value for name, value in parsed.items()}
    length = reply_headers.get("content-length")
    return Reply(
        int(status_line.split(" ")[1]),
        reply_headers,
        payload[: int(length)] if length is not None else payload,
    )


def chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """``data`` framed as ``Transfer-Encoding: chunked``."""
    for start in range(0, len(data), size):
        piece = data[start : start + size]
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


# -- the seeded server and the check every test makes --------------------------

Expected = tuple[tuple[int, str], ...]
VALIDATION: Expected = ((400, "VALIDATION_ERROR"),)
NOT_FOUND: Expected = ((404, "NOT_FOUND"),)
UNSUPPORTED: Expected = ((415, "UNSUPPORTED_MEDIA_TYPE"),)
TOO_LARGE: Expected = ((413, "PAYLOAD_TOO_LARGE"),)
FORBIDDEN: Expected = ((403, "FORBIDDEN"),)

BAD = "<BAD>"  # where a case puts its hostile value


@dataclass
class Seeded:
    """A server holding one project, task, subtask and linked session; ``ids`` maps
    the placeholders of the tables below (``<P>``, ``<T>``, ``<ST>``, ``<S>``, and
    ``<K>`` for a skill) to them."""

    server: RunningServer
    ids: dict[str, str] = field(default_factory=lambda: {"K": "maestro-worker"})

    def path(self, template: str) -> str:
        for name, value in self.ids.items():
            template = template.replace(f"<{name}>", value)
        return template

    def body(self, template: Any, bad: Any = None) -> Any:
        """``template`` with ``<P>``-style placeholders and ``BAD`` filled in."""
        if isinstance(template, dict):
            return {key: self.body(value, bad) for key, value in template.items()}
        if isinstance(template, list):
            return [self.body(value, bad) for value in template]
        if template == BAD:
            return bad
        if isinstance(template, str):
            return self.path(template)
        return template


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (``None``) under ``root``."""
    return {
        str(path.relative_to(root)): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def seed(server: RunningServer) -> Seeded:
    seeded = Seeded(server)
    with httpx.Client(base_url=server.url, timeout=10) as api:
        made = seed_one_of_each(api, "Seed")
    seeded.ids.update(P=made["project"], T=made["task"], ST=made["subtask"], S=made["session"])
    return seeded


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    server = RunningServer(tmp_path_factory.mktemp("bad-input") / "data").start()
    yield seed(server)
    server.stop()


def encode(body: Any) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    return json.dumps(body).encode()


def assert_refused(
    seeded: Seeded,
    method: str,
    target: str,
    expected: Expected,
    body: bytes | None = None,
    headers: dict[str, str | None] | None = None,
    stream: Iterable[bytes] | None = None,
) -> dict[str, Any]:
    """Send the request; check the status, the error body and the untouched store.

    Returns the error body for checks of its own.
    """
    server = seeded.server
    log_before = len(server.log())
    # The files follow the journal in the background: let them settle, so the
    # snapshots around the refused request see only what it changed.
    wait_for_files(server.data_dir)
    before = snapshot(server.data_dir)
    reply = send(server.port, method, target, body, headers, stream)
    after = snapshot(server.data_dir)

    assert reply.status < 500, f"{method} {target} -> {reply}"
    assert reply.headers.get("content-type", "").startswith("application/json"), str(reply)
    error = json.loads(reply.body)
    assert (reply.status, error.get("code")) in expected, f"{method} {target} -> {reply}"
    assert error["error"] is True
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"error", "code", "message", "details"}, error
    assert "Traceback" not in reply.body.decode("utf-8", "replace")
    assert after == before, "the refused request changed files under the data dir"
    assert "Traceback" not in server.log()[log_before:]
    return dict(error)


# -- the endpoints -------------------------------------------------------------

# Every endpoint that takes a body, with a body it accepts.
BODY_ENDPOINTS: dict[str, dict[str, Any]] = {
    "POST /api/projects": {"name": "n"},
    "PUT /api/projects/<P>": {"name": "n"},
    "PATCH /api/projects/<P>": {"name": "n"},
    "POST /api/tasks": {"projectId": "<P>", "title": "t"},
    "PATCH /api/tasks/<T>": {"title": "t"},
    "POST /api/tasks/<T>/timeline": {"message": "m"},
    "POST /api/tasks/<T>/subtasks": {"title": "s"},
    "PATCH /api/tasks/<T>/subtasks/<ST>": {"title": "s"},
    "POST /api/sessions": {"projectId": "<P>", "taskIds": ["<T>"]},
    "PATCH /api/sessions/<S>": {"name": "n"},
    "POST /api/sessions/spawn": {"projectId": "<P>", "taskIds": ["<T>"]},
}

# POST/PUT/PATCH endpoints: those with a body, and the link endpoint without one.
WRITE_ENDPOINTS: dict[str, dict[str, Any] | None] = {
    **BODY_ENDPOINTS,
    "POST /api/sessions/<S>/tasks/<T>": None,
}

# Every endpoint with a path parameter (the placeholders).
PATH_ENDPOINTS = [
    "GET /api/projects/<P>",
    "PUT /api/projects/<P>",
    "PATCH /api/projects/<P>",
    "DELETE /api/projects/<P>",
    "GET /api/projects/<P>/usage",
    "GET /api/tasks/<T>",
    "PATCH /api/tasks/<T>",
    "DELETE /api/tasks/<T>",
    "POST /api/tasks/<T>/timeline",
    "GET /api/tasks/<T>/children",
    "GET /api/tasks/<T>/usage",
    "GET /api/tasks/<T>/subtasks",
    "POST /api/tasks/<T>/subtasks",
    "PATCH /api/tasks/<T>/subtasks/<ST>",
    "DELETE /api/tasks/<T>/subtasks/<ST>",
    "GET /api/sessions/<S>",
    "PATCH /api/sessions/<S>",
    "DELETE /api/sessions/<S>",
    "POST /api/sessions/<S>/tasks/<T>",
    "DELETE /api/sessions/<S>/tasks/<T>",
    "GET /api/skills/<K>",
]
SLOTS = ("<P>", "<T>", "<ST>", "<S>", "<K>")


def split(endpoint: str) -> tuple[str, str]:
    method, template = endpoint.split(" ", 1)
    return method, template


def assert_endpoint_refused(
    seeded: Seeded,
    endpoint: str,
    expected: Expected,
    body: bytes | None = None,
    headers: dict[str, str | None] | None = None,
    stream: Iterable[bytes] | None = None,
) -> dict[str, Any]:
    """``assert_refused`` for ``endpoint`` of the tables ("METHOD /path/<P>"), its
    placeholders filled with the seeded ids."""
    method, template = split(endpoint)
    return assert_refused(seeded, method, seeded.path(template), expected, body, headers, stream)


def test_the_tables_hold_requests_the_server_accepts(server: RunningServer) -> None:
    """The control for every test below: with nothing hostile, each request succeeds,
    so a refusal there is due to the one thing a test changed."""
    control = seed(server)
    for endpoint in [*PATH_ENDPOINTS, *WRITE_ENDPOINTS]:
        method, template = split(endpoint)
        if method == "DELETE":
            continue  # the seed must survive for the rest of the loop
        body = WRITE_ENDPOINTS.get(endpoint)
        reply = send(server.port, method, control.path(template), encode(control.body(body)))
        assert reply.status in (200, 201), f"{endpoint} -> {reply}"


# -- ids -----------------------------------------------------------------------

# As they appear in a request line (percent-escapes are decoded by the server).
HOSTILE_PATH_IDS = {
    "dot-dot": "..",
    "dot": ".",
    "escaped-dot-dot": "%2e%2e",
    "escaped-dot-dot-upper": "%2E%2E",
    "double-escaped-dot-dot": "%252e%252e",
    "escaped-traversal": "..%2f..%2fetc",
    "escaped-backslash-traversal": "..%5c..%5cetc",
    "nul": "%00",
    "nul-inside": "a%00b",
    "129-chars": "a" * 129,
    "space": "a%20b",
    "slash": "a%2Fb",
    "backslash": "a%5Cb",
    "unicode": "t%C3%A2che",
    "trailing-newline": "abc%0A",
    "leading-dash": "-rf",
    "leading-dot": ".hidden",
    "invalid-utf8": "%ff",
}

# As they appear inside a JSON body or a decoded query string.
HOSTILE_IDS = {
    "dot-dot": "..",
    "dot": ".",
    "traversal": "../../etc/passwd",
    "backslash-traversal": "..\\..\\etc",
    "absolute": "/etc/passwd",
    "nul": "\x00",
    "nul-inside": "a\x00b",
    "129-chars": "a" * 129,
    "space": "a b",
    "slash": "a/b",
    "backslash": "a\\b",
    "unicode": "tâche",
    "empty": "",
    "leading-dash": "-rf",
    "leading-dot": ".hidden",
    "trailing-newline": "abc\n",
    "escaped-dot-dot": "%2e%2e",
}


def path_id_cases() -> Iterator[Any]:
    for endpoint in PATH_ENDPOINTS:
        for slot in (s for s in SLOTS if s in endpoint):
            for name, raw in HOSTILE_PATH_IDS.items():
                yield pytest.param(endpoint, slot, raw, id=f"{endpoint} {slot}={name}")


@pytest.mark.parametrize(("endpoint", "slot", "raw_id"), list(path_id_cases()))
def test_invalid_id_in_path_is_refused(
    seeded: Seeded, endpoint: str, slot: str, raw_id: str
) -> None:
    method, template = split(endpoint)
    target = seeded.path(template.replace(slot, raw_id))
    # An escaped '/' makes a path that no route has: 404 is as good as 400 for it.
    expected = VALIDATION + NOT_FOUND if "/" in unquote(raw_id) else VALIDATION
    body = BODY_ENDPOINTS.get(f"{method} {template}")
    assert_refused(seeded, method, target, expected, encode(seeded.body(body)))


QUERY_ID_FILTERS = [
    "GET /api/tasks?projectId=",
    "GET /api/tasks?sessionId=",
    "GET /api/tasks?parentId=",
    "GET /api/sessions?projectId=",
    "GET /api/sessions?taskId=",
]


@pytest.mark.parametrize("raw_id", HOSTILE_PATH_IDS.values(), ids=HOSTILE_PATH_IDS.keys())
@pytest.mark.parametrize("request_line", QUERY_ID_FILTERS)
def test_invalid_id_in_query_is_refused(seeded: Seeded, request_line: str, raw_id: str) -> None:
    method, target = split(request_line)
    assert_refused(seeded, method, target + raw_id, VALIDATION)


SPAWN_TASKS = ((400, "invalid_task_ids"),)

# (endpoint, body with BAD where the id goes, the errors it may give)
BODY_ID_FIELDS: list[tuple[str, str, dict[str, Any], Expected]] = [
    ("POST /api/sessions", "id", {"projectId": "<P>", "taskIds": [], "id": BAD}, VALIDATION),
    ("POST /api/sessions", "projectId", {"projectId": BAD, "taskIds": []}, VALIDATION),
    ("POST /api/sessions", "taskIds", {"projectId": "<P>", "taskIds": [BAD]}, VALIDATION),
    ("POST /api/sessions", "taskId", {"projectId": "<P>", "taskId": BAD}, VALIDATION),
    ("POST /api/tasks", "projectId", {"projectId": BAD, "title": "t"}, VALIDATION),
    (
        "POST /api/tasks",
        "parentId",
        {"projectId": "<P>", "title": "t", "parentId": BAD},
        VALIDATION,
    ),
    (
        "POST /api/tasks",
        "dependencies",
        {"projectId": "<P>", "title": "t", "dependencies": [BAD]},
        VALIDATION,
    ),
    ("PATCH /api/tasks/<T>", "sessionIds", {"sessionIds": ["<S>", BAD]}, VALIDATION),
    ("PATCH /api/tasks/<T>", "parentId", {"parentId": BAD}, VALIDATION),
    ("PATCH /api/tasks/<T>", "dependencies", {"dependencies": [BAD]}, VALIDATION),
    (
        "PATCH /api/tasks/<T>",
        "timeline.sessionId",
        {"timeline": [{"message": "m", "sessionId": BAD}]},
        VALIDATION,
    ),
    ("POST /api/tasks/<T>/timeline", "sessionId", {"message": "m", "sessionId": BAD}, VALIDATION),
    ("PATCH /api/sessions/<S>", "taskIds", {"taskIds": ["<T>", BAD]}, VALIDATION),
    ("POST /api/sessions/spawn", "projectId", {"projectId": BAD, "taskIds": ["<T>"]}, VALIDATION),
    ("POST /api/sessions/spawn", "taskIds", {"projectId": "<P>", "taskIds": [BAD]}, SPAWN_TASKS),
    (
        "POST /api/sessions/spawn",
        "spawnedBy",
        {"projectId": "<P>", "taskIds": ["<T>"], "spawnedBy": BAD},
        VALIDATION,
    ),
    (
        "POST /api/sessions/spawn",
        "skills",
        {"projectId": "<P>", "taskIds": ["<T>"], "skills": [BAD]},
        VALIDATION,
    ),
    # SPEC 3: "ids inside arrays" -- skills and agents are named by id too.
    (
        "POST /api/tasks",
        "skillIds",
        {"projectId": "<P>", "title": "t", "skillIds": [BAD]},
        VALIDATION,
    ),
    (
        "POST /api/tasks",
        "agentIds",
        {"projectId": "<P>", "title": "t", "agentIds": [BAD]},
        VALIDATION,
    ),
    ("PATCH /api/tasks/<T>", "skillIds", {"skillIds": [BAD]}, VALIDATION),
    ("PATCH /api/tasks/<T>", "agentIds", {"agentIds": [BAD]}, VALIDATION),
]


def body_id_cases() -> Iterator[Any]:
    for endpoint, label, body, expected in BODY_ID_FIELDS:
        for name, value in HOSTILE_IDS.items():
            wanted = expected
            if endpoint.endswith("spawn") and label == "projectId" and value == "":
                wanted = ((400, "missing_project_id"),)  # an empty projectId is a missing one
            yield pytest.param(endpoint, body, value, wanted, id=f"{endpoint} {label}={name}")


@pytest.mark.parametrize(("endpoint", "body", "bad_id", "expected"), list(body_id_cases()))
def test_invalid_id_in_body_is_refused(
    seeded: Seeded, endpoint: str, body: dict[str, Any], bad_id: str, expected: Expected
) -> None:
    assert_endpoint_refused(seeded, endpoint, expected, encode(seeded.body(body, bad_id)))


# -- wrong types -----------------------------------------------------------------

# Values of the wrong type (or outside an enum) for each kind of field.
WRONG_VALUES: dict[str, list[Any]] = {
    "str": [1, True, None, [], {}],
    "nullable str": [1, True, [], {}],
    "ids": ["x", 1, None, {}, [1], [None]],
    "bool": ["true", 1, None, []],
    "int": ["1", 1.5, True, None, []],
    "enum": [1, None, [], "bogus"],
    "str map": [[], "x", 1, None, {"k": 1}],
    "object": [[], "x", 1, None],
    "timeline": ["x", None, [1], [{}], [{"message": 1}], [{"type": "bogus", "message": "m"}]],
    "events": ["x", None, [1], [{}], [{"type": 1}]],
    "spawn projectId": [1, True, [], {}],
    "spawn taskIds": ["x", 1, None, {}, [], [1], [None]],
    "policy": [
        "x",
        None,
        [],
        {"mode": "ask"},
        {"mode": None},
        {"allow": "Edit"},
        {"allow": [1]},
        {"allow": ["Bash(npm test:*"]},
        {"deny": ["Edit\n"]},
        {"deny": ["Bash(a\u0000b)"]},
        {"allow": [""]},
        {"allow": ["Edit"] * 201},
        {"deny": ["Bash(" + "x" * 500 + ")"]},
    ],
    "usage": [
        "x",
        1,
        [],
        {"inputTokens": -1},
        {"outputTokens": "5"},
        {"costUsd": -0.01},
        {"costUsd": "0.5"},
        {"turns": 1.5},
        {"durationMs": 2**53},
        {"model": 1},
        {"permissionDenials": None},
    ],
    "agent session id": [1, True, [], {}, "", "-rf", "a b", "abc\n", "a" * 201],
}

FIELD_KINDS: dict[str, dict[str, str]] = {
    **{
        endpoint: {
            "name": "str",
            "workingDir": "str",
            "description": "str",
            "permissions": "policy",
            "worktrees": "enum",
            "baseBranch": "nullable str",
            "setupCommand": "nullable str",
            "setupTimeout": "int",
            "worktreeInclude": "ids",
            "agent": "nullable str",
            "model": "nullable str",
            "maxConcurrent": "int",
        }
        for endpoint in ("POST /api/projects", "PUT /api/projects/<P>", "PATCH /api/projects/<P>")
    },
    "POST /api/tasks": {
        "projectId": "str",
        "title": "str",
        "parentId": "nullable str",
        "description": "str",
        "initialPrompt": "str",
        "status": "enum",
        "priority": "enum",
        "skillIds": "ids",
        "agentIds": "ids",
        "dependencies": "ids",
        "autoStart": "bool",
    },
    "PATCH /api/tasks/<T>": {
        "title": "str",
        "description": "str",
        "initialPrompt": "str",
        "status": "enum",
        "priority": "enum",
        "parentId": "nullable str",
        "sessionIds": "ids",
        "skillIds": "ids",
        "agentIds": "ids",
        "dependencies": "ids",
        "autoStart": "bool",
        "timeline": "timeline",
    },
    "POST /api/tasks/<T>/timeline": {"type": "enum", "message": "str", "sessionId": "nullable str"},
    "POST /api/tasks/<T>/subtasks": {"title": "str", "description": "str"},
    "PATCH /api/tasks/<T>/subtasks/<ST>": {
        "title": "str",
        "description": "str",
        "completed": "bool",
        "order": "int",
    },
    "POST /api/sessions": {
        "id": "nullable str",
        "projectId": "str",
        "taskIds": "ids",
        "taskId": "str",
        "name": "nullable str",
        "agentId": "nullable str",
        "status": "enum",
        "env": "str map",
        "metadata": "object",
        "hostname": "nullable str",
        "platform": "nullable str",
    },
    "PATCH /api/sessions/<S>": {
        "status": "enum",
        "name": "str",
        "agentId": "nullable str",
        "env": "str map",
        "metadata": "object",
        "taskIds": "ids",
        "events": "events",
        "usage": "usage",
        "agentSessionId": "agent session id",
    },
    "POST /api/sessions/spawn": {
        "projectId": "spawn projectId",
        "taskIds": "spawn taskIds",
        "skills": "ids",
        "sessionName": "nullable str",
        "role": "enum",
        "agent": "nullable str",  # null: the project's agent
        "model": "nullable str",
        "spawnSource": "enum",
        "spawnedBy": "nullable str",
        "spawnReason": "nullable str",
        "context": "object",
    },
}


def wrong_type_cases() -> Iterator[Any]:
    for endpoint, fields in FIELD_KINDS.items():
        for name, kind in fields.items():
            for value in WRONG_VALUES[kind]:
                expected = VALIDATION
                if kind == "spawn taskIds":
                    expected = SPAWN_TASKS
                label = f"{endpoint} {name}={json.dumps(value)}"
                yield pytest.param(endpoint, name, value, expected, id=label)


@pytest.mark.parametrize(("endpoint", "name", "value", "expected"), list(wrong_type_cases()))
def test_wrong_type_in_body_is_refused_naming_the_field(
    seeded: Seeded, endpoint: str, name: str, value: Any, expected: Expected
) -> None:
    body = {**seeded.body(BODY_ENDPOINTS[endpoint]), name: value}
    error = assert_endpoint_refused(seeded, endpoint, expected, encode(body))
    assert error["message"].startswith(name), error["message"]


# -- bodies that are not a JSON object ---------------------------------------------

# <F> is a field the endpoint reads (an unknown field may be skipped unread).
MALFORMED = {
    "open-brace": b"{",
    "missing-value": b'{"<F>": }',
    "single-quotes": b"{'<F>': 'x'}",
    "trailing-comma": b'{"<F>": "x",}',
    "bare-word": b"nul",
    "nan": b'{"<F>": NaN}',
    "trailing-garbage": b'{"<F>": "x"} x',
    "two-objects": b'{"<F>": "x"}{"<F>": "y"}',
    "invalid-utf8": b'{"<F>": "\xff"}',
    "truncated-utf8": b'{"<F>": "\xc3"}',
    "lone-surrogate": b'{"<F>": "\\ud800"}',
    "utf16": '{"x": 1}'.encode("utf-16"),
}
NOT_AN_OBJECT = {
    "array": b"[]",
    "array-of-object": b'[{"name": "x"}]',
    "string": b'"x"',
    "number": b"1",
    "true": b"true",
    "null": b"null",
}
EMPTY = {"empty": b"", "spaces": b"   ", "newline": b"\n"}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_malformed_json_body_is_refused(seeded: Seeded, endpoint: str, raw: bytes) -> None:
    first_field = next(iter(BODY_ENDPOINTS[endpoint]))
    raw = raw.replace(b"<F>", first_field.encode())
    assert_endpoint_refused(seeded, endpoint, VALIDATION, raw)


@pytest.mark.parametrize("raw", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_json_body_that_is_not_an_object_is_refused(
    seeded: Seeded, endpoint: str, raw: bytes
) -> None:
    assert_endpoint_refused(seeded, endpoint, VALIDATION, raw)


@pytest.mark.parametrize("raw", EMPTY.values(), ids=EMPTY.keys())
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_empty_body_is_refused(seeded: Seeded, endpoint: str, raw: bytes) -> None:
    assert_endpoint_refused(seeded, endpoint, VALIDATION, raw)


def nested_arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"{}" + b"}" * depth


def deep_cases() -> Iterator[Any]:
    for endpoint in BODY_ENDPOINTS:
        yield pytest.param(endpoint, nested_arrays(DEPTH), id=f"{endpoint} arrays")
        yield pytest.param(endpoint, nested_objects(DEPTH), id=f"{endpoint} objects")
        valid = json.dumps(BODY_ENDPOINTS[endpoint]).encode()[:-1]
        yield pytest.param(
            endpoint,
            valid + b', "unknown": ' + nested_arrays(DEPTH) + b"}",
            id=f"{endpoint} in-an-unknown-field",
        )
    # Free-form fields, where any JSON value is allowed, but not an unbounded depth.
    free_form = [
        ("POST /api/sessions", "metadata", b'{"projectId": "<P>", "metadata": {"a": %s}}'),
        ("PATCH /api/sessions/<S>", "metadata", b'{"metadata": {"a": %s}}'),
        ("PATCH /api/sessions/<S>", "event-data", b'{"events": [{"type": "x", "data": %s}]}'),
        (
            "POST /api/sessions/spawn",
            "context",
            b'{"projectId": "<P>", "taskIds": ["<T>"], "context": {"a": %s}}',
        ),
    ]
    for endpoint, label, template in free_form:
        yield pytest.param(endpoint, template % nested_arrays(DEPTH), id=f"{endpoint} in-{label}")


@pytest.mark.parametrize(("endpoint", "raw"), list(deep_cases()))
def test_deeply_nested_json_is_refused(seeded: Seeded, endpoint: str, raw: bytes) -> None:
    raw = seeded.path(raw.decode()).encode()
    assert_endpoint_refused(seeded, endpoint, VALIDATION, raw)


# -- content types and sizes -----------------------------------------------------

NON_JSON_TYPES = {
    "text-plain": "text/plain",
    "form-urlencoded": "application/x-www-form-urlencoded",
    "multipart": "multipart/form-data; boundary=xyz",
    "xml": "application/xml",
    "empty": "",
}


@pytest.mark.parametrize("content_type", NON_JSON_TYPES.values(), ids=NON_JSON_TYPES.keys())
@pytest.mark.parametrize("endpoint", WRITE_ENDPOINTS)
def test_non_json_content_type_is_unsupported(
    seeded: Seeded, endpoint: str, content_type: str
) -> None:
    body = encode(seeded.body(WRITE_ENDPOINTS[endpoint])) or b""
    assert_endpoint_refused(seeded, endpoint, UNSUPPORTED, body, {"Content-Type": content_type})


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_body_without_content_type_is_unsupported(seeded: Seeded, endpoint: str) -> None:
    body = encode(seeded.body(BODY_ENDPOINTS[endpoint]))
    assert_endpoint_refused(seeded, endpoint, UNSUPPORTED, body, {"Content-Type": None})


def oversized_body(endpoint: str, seeded: Seeded) -> bytes:
    """A body the endpoint would accept, padded with an unknown field past 1 MiB."""
    valid = json.dumps(seeded.body(BODY_ENDPOINTS[endpoint])).encode()[:-1]
    return valid + b', "padding": "' + b"x" * ONE_MIB + b'"}'


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_body_declared_over_one_mib_is_too_large(seeded: Seeded, endpoint: str) -> None:
    body = oversized_body(endpoint, seeded)
    # The declared length alone must be enough: only the first part is sent.
    assert_endpoint_refused(
        seeded,
        endpoint,
        TOO_LARGE,
        headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
        stream=[body[: 64 * 1024]],
    )


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_chunked_body_over_one_mib_is_too_large(seeded: Seeded, endpoint: str) -> None:
    assert_endpoint_refused(
        seeded,
        endpoint,
        TOO_LARGE,
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        stream=chunked(oversized_body(endpoint, seeded)),
    )


# -- routes, hosts, origins ------------------------------------------------------------

UNKNOWN_ROUTES = [
    "GET /nope",
    "GET /api",
    "GET /api/nope",
    "POST /api/nope",
    "GET /api/v2/projects",
    "GET /api/projects/<P>/nope",
    "GET /api/tasks/<T>/subtasks/<ST>/nope",
    "DELETE /api/sessions/<S>/tasks/<T>/nope",
    "GET /api/projects/<P>/../../../etc/passwd",
    "GET /%2e%2e/%2e%2e/etc/passwd",
    # The web UI's files are served from the package: nothing beside them is.
    "GET /%2e%2e/server/app.py",
    "GET /..%2fserver%2fapp.py",
    "GET /%2e%2e%2f%2e%2e%2f%2e%2e%2fpyproject.toml",
]


@pytest.mark.parametrize("request_line", UNKNOWN_ROUTES)
def test_unknown_route_is_not_found(seeded: Seeded, request_line: str) -> None:
    assert_endpoint_refused(seeded, request_line, NOT_FOUND)


WRONG_METHODS = [
    "PUT /api/tasks/<T>",
    "POST /api/projects/<P>",
    "PATCH /api/projects",
    "POST /api/tasks/<T>/usage",
    "DELETE /api/projects",
    "PUT /api/sessions/<S>",
    "PUT /api/sessions/spawn",
    "DELETE /api/tasks/<T>/timeline",
]


@pytest.mark.parametrize("request_line", WRONG_METHODS)
def test_method_a_route_does_not_have_is_refused(seeded: Seeded, request_line: str) -> None:
    assert_endpoint_refused(seeded, request_line, ((405, "METHOD_NOT_ALLOWED"),), b"{}")


# Requests a hostile page would most like to make, each valid but for its origin.
GUARDED_REQUESTS: dict[str, Any] = {
    "GET /api/projects": None,
    "POST /api/projects": {"name": "n"},
    "PATCH /api/tasks/<T>": {"title": "hijacked"},
    "DELETE /api/sessions/<S>": None,
    "POST /api/sessions/spawn": {"projectId": "<P>", "taskIds": ["<T>"]},
}

FOREIGN_HOSTS = {
    "other-name": "evil.example",
    "other-name-and-port": "evil.example:{port}",
    "loopback-prefix": "127.0.0.1.evil.example:{port}",
    "localhost-prefix": "localhost.evil.example",
    "any-address": "0.0.0.0:{port}",
    "empty": "",
    "absent": None,
}


@pytest.mark.parametrize("host", FOREIGN_HOSTS.values(), ids=FOREIGN_HOSTS.keys())
@pytest.mark.parametrize("endpoint", GUARDED_REQUESTS)
def test_foreign_host_is_forbidden(seeded: Seeded, endpoint: str, host: str | None) -> None:
    header = None if host is None else host.format(port=seeded.server.port)
    body = encode(seeded.body(GUARDED_REQUESTS[endpoint]))
    assert_endpoint_refused(seeded, endpoint, FORBIDDEN, body, {"Host": header})


FOREIGN_ORIGINS = {
    "other-site": "http://evil.example",
    "null": "null",
    "loopback-other-port": "http://127.0.0.1:1",
    "localhost-other-port": "http://localhost:1",
    "loopback-prefix": "http://127.0.0.1.evil.example",
}


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS.values(), ids=FOREIGN_ORIGINS.keys())
@pytest.mark.parametrize("endpoint", GUARDED_REQUESTS)
def test_foreign_origin_is_forbidden(seeded: Seeded, endpoint: str, origin: str) -> None:
    body = encode(seeded.body(GUARDED_REQUESTS[endpoint]))
    assert_endpoint_refused(seeded, endpoint, FORBIDDEN, body, {"Origin": origin})
