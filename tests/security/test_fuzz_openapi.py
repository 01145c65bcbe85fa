"""API fuzzing: schemathesis generates requests from the OpenAPI document and holds
every answer of a live server to that document (SPEC section 4).

For every operation, the coverage phase's boundary cases and ``FUZZ_EXAMPLES``
generated ones, valid and invalid: no answer is a 5xx, every status code is one
the operation documents, and every body is JSON matching the documented schema
for its status. In about half of the cases the generated ids (in the path and in
id fields of the body) are swapped for ids of real entities, so the handlers
behind the 404 are fuzzed too.

Then the answers of the guards in front of every route (a foreign ``Origin``, a
non-JSON body, a missing token) are held to the document the same way.

Only the test servers on 127.0.0.1 are ever contacted.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from maestro.server.app import ENDPOINTS
from maestro.server.openapi import build_openapi
from tests.conftest import RunningServer, StoreBackend

FUZZ_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# The document the server serves (test_the_server_serves_this_document checks it
# byte for byte): schemathesis needs it when the tests are collected, before any
# server runs.
DOCUMENT = build_openapi(ENDPOINTS)
schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT))


@dataclass
class Fuzzed:
    """The server under fuzzing, the real ids it holds, and the answers it gave."""

    server: RunningServer
    ids: dict[str, str] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)

    def seed(self, headers: dict[str, str] | None = None) -> None:
        with httpx.Client(base_url=self.server.url, headers=headers, timeout=10) as api:

            def create(path: str, body: dict[str, Any]) -> str:
                response = api.post(path, json=body)
                assert response.status_code == 201, response.text
                made: str = response.json()["id"]
                return made

            project = create("/api/projects", {"name": "Fuzzed", "workingDir": "/tmp"})
            task = create("/api/tasks", {"projectId": project, "title": "Fuzzed task"})
            subtask = create(f"/api/tasks/{task}/subtasks", {"title": "Fuzzed step"})
            session = create("/api/sessions", {"projectId": project, "taskIds": [task]})
            approval = create(f"/api/sessions/{session}/approvals", {"tool": "Edit", "input": {}})
            # Decided, so that a generated ?wait= on it answers at once instead of
            # holding the case for up to a minute.
            decided = api.post(f"/api/approvals/{approval}/decision", json={"decision": "deny"})
            assert decided.status_code == 200, decided.text
            # A runner of a name of its own: a generated registration is another runner.
            registration = {"name": f"fuzzed {project}", "host": "h", "capacity": 1}
            runner = create("/api/runners", registration)
            token = create("/api/tokens", {"runner": f"fuzzed {project}"})
        self.ids = {
            "project": project,
            "task": task,
            "subtask": subtask,
            "session": session,
            "approval": approval,
            "runner": runner,
            "token": token,
        }

    def real_path_id(self, path: str, name: str) -> str:
        """An existing entity for path parameter ``name`` of ``path``."""
        if name == "taskId":
            return self.ids["task"]
        if path.startswith("/api/skills/"):
            return "maestro-worker"
        if "/subtasks/" in path:
            return self.ids["subtask"]
        kind = path.split("/")[2]  # projects, tasks, sessions, approvals, runners or tokens
        return self.ids[kind.removesuffix("s")]

    def real_body_ids(self, body: dict[str, Any]) -> None:
        """Id fields of a body, pointed at existing entities."""
        single = {
            "projectId": "project",
            "taskId": "task",
            "sessionId": "session",
            "runnerId": "runner",
        }
        for name, kind in single.items():
            if isinstance(body.get(name), str):
                body[name] = self.ids[kind]
        for name, kind in {"taskIds": "task", "sessionIds": "session"}.items():
            if isinstance(body.get(name), list):
                body[name] = [self.ids[kind]]


@pytest.fixture(scope="module")
def fuzzed(
    tmp_path_factory: pytest.TempPathFactory,
    backend: StoreBackend,
    request: pytest.FixtureRequest,
) -> Iterator[Fuzzed]:
    server = backend.server(tmp_path_factory.mktemp("fuzz") / "data").start()
    state = Fuzzed(server)
    try:
        state.seed()
        yield state
    finally:
        server.stop()
        backend.discard(server)
    if state.statuses:
        answers = ", ".join(f"{n} x {status}" for status, n in sorted(state.statuses.items()))
        terminal = request.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line(
                f"\nAPI fuzzing: {sum(state.statuses.values())} requests over "
                f"{len(list(schema.get_all_operations()))} "
                f"operations; answers: {answers}"
            )


def test_the_server_serves_this_document(fuzzed: Fuzzed) -> None:
    served = httpx.get(f"{fuzzed.server.url}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.content == DOCUMENT


def flip(case: Any) -> bool:
    """A stable coin for this case: whether to use real ids."""
    generated = json.dumps([case.path_parameters, case.body], sort_keys=True, default=str)
    return zlib.crc32(generated.encode()) % 2 == 0


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_answer_matches_the_openapi_document(case: Any, fuzzed: Fuzzed) -> None:
    if flip(case):
        for name in case.path_parameters or {}:
            case.path_parameters[name] = fuzzed.real_path_id(case.path, name)
        if isinstance(case.body, dict):
            fuzzed.real_body_ids(case.body)
    response = case.call(base_url=fuzzed.server.url, timeout=30)
    fuzzed.statuses[response.status_code] += 1
    if case.method.upper() == "DELETE" and response.status_code == 200:
        fuzzed.seed()  # it may have deleted a real entity: fresh ones for what follows
    case.validate_response(response, checks=CHECKS)


# -- the guards' answers ---------------------------------------------------------------

TOKEN = "s3cret-token-for-fuzz-tests"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, backend: StoreBackend) -> Iterator[Fuzzed]:
    """A server with ``MAESTRO_TOKEN`` set (seeded with the token)."""
    data_dir = tmp_path_factory.mktemp("fuzz-token") / "data"
    server = backend.server(data_dir, MAESTRO_TOKEN=TOKEN).start()
    state = Fuzzed(server)
    try:
        state.seed({"Authorization": f"Bearer {TOKEN}"})
        yield state
    finally:
        server.stop()
        backend.discard(server)


MUTATING = ("POST", "PUT", "PATCH", "DELETE")
REFUSALS: dict[str, tuple[int, dict[str, str]]] = {
    "foreign Origin": (403, {"Origin": "http://evil.example"}),
    "non-JSON body": (415, {"Content-Type": "application/x-www-form-urlencoded"}),
    "missing token": (401, {}),
}


def refused_by(refusal: str, operation: Any) -> bool:
    """Whether the guards answer ``refusal`` for ``operation``."""
    if refusal == "non-JSON body":
        return str(operation.method).upper() in MUTATING  # requests that change something
    if refusal == "missing token":
        return str(operation.path) != "/health"  # /health stays open
    return True


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_the_guards_answers_are_documented(fuzzed: Fuzzed, guarded: Fuzzed, refusal: str) -> None:
    """Every route sits behind the same guards; a client built from the document
    must find their answers in it (status code and error body)."""
    status, headers = REFUSALS[refusal]
    target = guarded if refusal == "missing token" else fuzzed
    undocumented = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        if not refused_by(refusal, operation):
            continue
        path_parameters = {
            name: target.real_path_id(operation.path, name)
            for name in re.findall(r"{(\w+)}", operation.path)
        }
        case = operation.Case(path_parameters=path_parameters, headers=headers)
        form = "name=x" if refusal == "non-JSON body" else None
        response = case.call(base_url=target.server.url, timeout=30, data=form)
        assert response.status_code == status, f"{operation.label}: {response.text}"
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup:
            undocumented.append(operation.label)
    assert not undocumented, (
        f"{len(undocumented)} operations do not document the {status} of a {refusal}: "
        + ", ".join(undocumented)
    )
