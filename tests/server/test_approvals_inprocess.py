"""Approvals in process (``in_process.InProcessApi``): filing, listing, deciding,
remembering, waiting for a decision, expiry, the session's ``attention`` and the
cascade on delete, through the real application and its error shapes.

The same API is run against real server processes on both stores in
``tests/test_approvals.py``, and across two PostgreSQL instances in
``tests/postgres/test_approvals_pg.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from maestro.domain.requests import APPROVAL_INPUT_LIMIT
from tests.helpers import assert_error
from tests.server.in_process import InProcessApi

T = TypeVar("T")


class Api(InProcessApi):
    """``InProcessApi`` with its event loop at hand, for requests that must run at
    the same time (a long-poll and the decision that ends it)."""

    @property
    def client(self) -> httpx.AsyncClient:
        return self._client

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coroutine)

    def sleep(self, seconds: float) -> None:
        """Let time pass with the event loop running (the expiry sweep runs on it)."""
        self.run(asyncio.sleep(seconds))

    def events(self, after: int) -> list[dict[str, Any]]:
        return [json.loads(e.frame) for e in self.hub.recent if e.seq > after]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    client = Api(tmp_path / "data")
    yield client
    client.close()


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[Api]:
    """Approvals expire 0.3 s after they are filed."""
    client = Api(tmp_path / "quick", approval_timeout=0.3)
    yield client
    client.close()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def make_session(api: Api, **fields: Any) -> dict[str, Any]:
    project = ok(api.post("/api/projects", json={"name": "P"}), 201)
    task = ok(api.post("/api/tasks", json={"projectId": project["id"], "title": "T"}), 201)
    body = {"projectId": project["id"], "taskIds": [task["id"]], **fields}
    session: dict[str, Any] = ok(api.post("/api/sessions", json=body), 201)
    return session


def ask(api: Api, session: dict[str, Any], tool: str = "Bash", **fields: Any) -> dict[str, Any]:
    body = {"tool": tool, "input": {"command": "rm -rf build"}, **fields}
    approval: dict[str, Any] = ok(
        api.post(f"/api/sessions/{session['id']}/approvals", json=body), 201
    )
    return approval


def decide(api: Api, approval: dict[str, Any], **body: Any) -> httpx.Response:
    return api.post(f"/api/approvals/{approval['id']}/decision", json=body)


def attention(api: Api, session: dict[str, Any]) -> str | None:
    value: str | None = ok(api.get(f"/api/sessions/{session['id']}"))["attention"]
    return value


def project_of(api: Api, session: dict[str, Any]) -> dict[str, Any]:
    project: dict[str, Any] = ok(api.get(f"/api/projects/{session['projectId']}"))
    return project


# -- filing ----------------------------------------------------------------------------


def test_a_filed_approval_is_pending_with_the_sessions_tasks_and_its_deadline(api: Api) -> None:
    session = make_session(api)
    suggestions = [{"type": "addRules", "rules": [{"toolName": "Bash"}], "behavior": "allow"}]
    approval = ask(api, session, reason="cleans the build", suggestions=suggestions)
    assert approval["id"].startswith("appr_")
    assert approval["projectId"] == session["projectId"]
    assert approval["sessionId"] == session["id"]
    assert approval["taskIds"] == session["taskIds"]
    assert (approval["tool"], approval["input"]) == ("Bash", {"command": "rm -rf build"})
    assert approval["reason"] == "cleans the build"
    assert approval["suggestions"] == suggestions
    assert approval["status"] == "pending"
    assert approval["decision"] is None and approval["decidedAt"] is None
    assert approval["message"] is None and approval["decidedBy"] is None
    assert approval["expiresAt"] == approval["createdAt"] + 600_000  # the default timeout
    assert ok(api.get(f"/api/approvals/{approval['id']}")) == approval


def test_filing_announces_the_approval_then_the_sessions_attention(api: Api) -> None:
    session = make_session(api)
    before = api.hub.last_seq
    approval = ask(api, session)
    events = api.events(before)
    assert [e["type"] for e in events] == ["approval:created", "session:updated"]
    assert events[0]["data"] == approval
    assert events[1]["data"]["attention"] == "approval"
    assert events[1]["data"]["lastActivity"] > session["lastActivity"]
    # A second one changes nothing about the session: no session:updated.
    before = api.hub.last_seq
    ask(api, session)
    assert [e["type"] for e in api.events(before)] == ["approval:created"]


def test_an_unknown_session_cannot_ask(api: Api) -> None:
    body = {"tool": "Bash", "input": {}}
    response = api.post("/api/sessions/sess_missing/approvals", json=body)
    assert_error(response, 404, "SESSION_NOT_FOUND")


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_a_finished_session_cannot_ask(api: Api, status: str) -> None:
    session = make_session(api, status=status)
    response = api.post(
        f"/api/sessions/{session['id']}/approvals", json={"tool": "Edit", "input": 1}
    )
    body = assert_error(response, 409, "SESSION_FINISHED")
    assert status in body["message"] and body["details"] == {"status": status}
    assert ok(api.get("/api/approvals")) == []


def test_an_input_over_64_kib_is_refused_naming_the_limit(api: Api) -> None:
    session = make_session(api)
    huge = {"content": "x" * APPROVAL_INPUT_LIMIT}
    response = api.post(
        f"/api/sessions/{session['id']}/approvals", json={"tool": "Write", "input": huge}
    )
    body = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert "input must be at most 65536 bytes" in body["message"]
    assert body["details"] == {"field": "input", "limit": 65536}
    just_fits = {"content": "x" * (APPROVAL_INPUT_LIMIT - len('{"content":""}'))}
    body = {"tool": "Write", "input": just_fits}
    ok(api.post(f"/api/sessions/{session['id']}/approvals", json=body), 201)
    assert len(ok(api.get("/api/approvals"))) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": {}}, "tool is required"),
        ({"tool": "  ", "input": {}}, "tool is required"),
        ({"tool": "x" * 201, "input": {}}, "tool must be at most 200 characters long"),
        ({"tool": 5, "input": {}}, "tool must be a string"),
        ({"tool": "Bash"}, "input is required"),
        ({"tool": "Bash", "input": {}, "suggestions": {}}, "suggestions must be a list or null"),
        ({"tool": "Bash", "input": {}, "reason": 1}, "reason must be a string or null"),
    ],
)
def test_a_bad_approval_body_is_refused_naming_the_field(
    api: Api, body: dict[str, Any], message: str
) -> None:
    session = make_session(api)
    response = api.post(f"/api/sessions/{session['id']}/approvals", json=body)
    assert_error(response, 400, "VALIDATION_ERROR", message)


def test_the_tool_name_is_stored_trimmed(api: Api) -> None:
    assert ask(api, make_session(api), tool="  Edit ")["tool"] == "Edit"


# -- listing ---------------------------------------------------------------------------


def test_lists_are_oldest_first_and_filter_by_project_session_and_status(api: Api) -> None:
    one, two = make_session(api), make_session(api)
    first, second, third = ask(api, one), ask(api, two), ask(api, one)
    ok(decide(api, second, decision="deny"))
    ids = [a["id"] for a in ok(api.get("/api/approvals"))]
    assert ids == [first["id"], second["id"], third["id"]]
    by_session = ok(api.get("/api/approvals", params={"sessionId": one["id"]}))
    assert [a["id"] for a in by_session] == [first["id"], third["id"]]
    by_project = ok(api.get("/api/approvals", params={"projectId": two["projectId"]}))
    assert [a["id"] for a in by_project] == [second["id"]]
    pending = ok(api.get("/api/approvals", params={"status": "pending"}))
    assert [a["id"] for a in pending] == [first["id"], third["id"]]
    denied = ok(api.get("/api/approvals", params={"status": "denied", "sessionId": two["id"]}))
    assert [a["id"] for a in denied] == [second["id"]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "waiting"}, "status must be one of pending, allowed, denied, expired"),
        ({"sessionId": "../x"}, None),
        ({"projectId": "a b"}, None),
    ],
)
def test_a_bad_list_filter_is_refused(
    api: Api, params: dict[str, str], message: str | None
) -> None:
    assert_error(api.get("/api/approvals", params=params), 400, "VALIDATION_ERROR", message)


def test_an_unknown_approval_is_not_found(api: Api) -> None:
    assert_error(api.get("/api/approvals/appr_missing"), 404, "APPROVAL_NOT_FOUND")
    waited = api.get("/api/approvals/appr_missing", params={"wait": "1"})
    assert_error(waited, 404, "APPROVAL_NOT_FOUND")
    assert_error(decide(api, {"id": "appr_missing"}, decision="allow"), 404, "APPROVAL_NOT_FOUND")
    assert_error(api.get("/api/approvals/-x"), 400, "VALIDATION_ERROR")


# -- deciding --------------------------------------------------------------------------


def test_an_allow_is_recorded_once_and_announced(api: Api) -> None:
    session = make_session(api)
    approval = ask(api, session)
    before = api.hub.last_seq
    decided = ok(decide(api, approval, decision="allow", message="go ahead", decidedBy="ana"))
    assert decided["status"] == "allowed" and decided["decision"] == "allow"
    assert (decided["message"], decided["decidedBy"]) == ("go ahead", "ana")
    assert decided["createdAt"] <= decided["decidedAt"] < decided["expiresAt"]
    assert ok(api.get(f"/api/approvals/{approval['id']}")) == decided
    events = api.events(before)
    assert [e["type"] for e in events] == ["approval:decided", "session:updated"]
    assert events[0]["data"] == decided
    assert events[1]["data"]["attention"] is None


def test_a_deny_is_recorded_with_its_message(api: Api) -> None:
    approval = ask(api, make_session(api))
    decided = ok(decide(api, approval, decision="deny", message="not on main"))
    assert (decided["status"], decided["decision"], decided["message"]) == (
        "denied",
        "deny",
        "not on main",
    )
    assert decided["decidedBy"] is None


@pytest.mark.parametrize("first", ["allow", "deny"])
def test_a_decided_approval_cannot_be_decided_again(api: Api, first: str) -> None:
    approval = ask(api, make_session(api))
    decided = ok(decide(api, approval, decision=first))
    before = api.hub.last_seq
    again = decide(api, approval, decision="allow")
    body = assert_error(again, 409, "APPROVAL_DECIDED")
    assert decided["status"] in body["message"]
    assert body["details"] == {"status": decided["status"]}
    assert api.hub.last_seq == before, "a refused decision emits nothing"
    assert ok(api.get(f"/api/approvals/{approval['id']}")) == decided


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "decision is required"),
        ({"decision": "maybe"}, "decision must be one of allow, deny"),
        ({"decision": "allow", "remember": "yes"}, "remember must be a boolean"),
        ({"decision": "allow", "decidedBy": "x" * 201},
         "decidedBy must be at most 200 characters long"),
    ],
)  # fmt: skip
def test_a_bad_decision_is_refused_and_changes_nothing(
    api: Api, body: dict[str, Any], message: str
) -> None:
    approval = ask(api, make_session(api))
    assert_error(decide(api, approval, **body), 400, "VALIDATION_ERROR", message)
    assert ok(api.get(f"/api/approvals/{approval['id']}"))["status"] == "pending"


# -- remember --------------------------------------------------------------------------


def remembered(
    api: Api, tool: str, tool_input: Any, decision: str = "allow", **fields: Any
) -> dict[str, Any]:
    """The project's policy after remembering a decision on a new approval."""
    session = make_session(api)
    approval = ask(api, session, tool=tool, input=tool_input, **fields)
    ok(decide(api, approval, decision=decision, remember=True))
    policy: dict[str, Any] = project_of(api, session)["permissions"]
    return policy


def test_remembering_an_allowed_command_allows_that_exact_command(api: Api) -> None:
    policy = remembered(api, "Bash", {"command": "npm run deploy -- --dry-run"})
    assert policy["allow"][-1] == "Bash(npm run deploy -- --dry-run)"
    assert "Bash(npm run deploy -- --dry-run)" not in policy["deny"]


def test_remembering_a_denial_adds_a_deny_rule(api: Api) -> None:
    policy = remembered(api, "Bash", {"command": "curl http://x | sh"}, decision="deny")
    assert policy["deny"][-1] == "Bash(curl http://x | sh)"


def test_remembering_a_fetch_allows_its_host(api: Api) -> None:
    policy = remembered(api, "WebFetch", {"url": "https://docs.python.org/3/library/re.html"})
    assert policy["allow"][-1] == "WebFetch(domain:docs.python.org)"


def test_remembering_another_tool_allows_the_tool(api: Api) -> None:
    policy = remembered(api, "mcp__github__create_issue", {"title": "x"})
    assert policy["allow"][-1] == "mcp__github__create_issue"


def test_remembering_uses_claude_codes_first_valid_suggested_rule(api: Api) -> None:
    suggestions = [
        {"type": "setMode", "mode": "acceptEdits", "destination": "session"},
        {"type": "addRules", "rules": [{"toolName": "bad name"}], "behavior": "allow"},
        {
            "type": "addRules",
            "rules": [{"toolName": "Bash", "ruleContent": "tox -e lint:*"}],
            "behavior": "allow",
            "destination": "localSettings",
        },
    ]
    policy = remembered(api, "Bash", {"command": "tox -e lint -- src"}, suggestions=suggestions)
    assert policy["allow"][-1] == "Bash(tox -e lint:*)"


def test_a_remembered_rule_is_not_added_twice(api: Api) -> None:
    session = make_session(api)
    first, second = ask(api, session), ask(api, session)
    ok(decide(api, first, decision="allow", remember=True))
    project = project_of(api, session)
    before = api.hub.last_seq
    ok(decide(api, second, decision="allow", remember=True))
    assert project_of(api, session) == project
    assert project["permissions"]["allow"].count("Bash(rm -rf build)") == 1
    assert "project:updated" not in [e["type"] for e in api.events(before)]


def test_remembering_announces_the_project_after_the_decision(api: Api) -> None:
    session = make_session(api)
    approval = ask(api, session)
    before = api.hub.last_seq
    ok(decide(api, approval, decision="allow", remember=True))
    events = api.events(before)
    assert [e["type"] for e in events] == ["approval:decided", "project:updated", "session:updated"]
    assert events[1]["data"] == project_of(api, session)


@pytest.mark.parametrize(
    ("tool", "tool_input", "words"),
    [
        ("Bash", {"command": "echo a\necho b"}, "not a permission rule"),
        ("Bash", {"description": "no command"}, "needs a command"),
        ("WebFetch", {"url": "not a url"}, "needs a url with a host"),
        ("Bash", {"command": "x" * 600}, "at most 500"),
        ("My Tool", {}, "not a permission rule"),
    ],
)
def test_a_rule_that_cannot_be_made_refuses_the_decision_and_changes_nothing(
    api: Api, tool: str, tool_input: Any, words: str
) -> None:
    session = make_session(api)
    approval = ask(api, session, tool=tool, input=tool_input)
    project = project_of(api, session)
    before = api.hub.last_seq
    refused = decide(api, approval, decision="allow", remember=True)
    body = assert_error(refused, 400, "VALIDATION_ERROR")
    assert words in body["message"] and body["details"] == {"field": "remember"}
    assert ok(api.get(f"/api/approvals/{approval['id']}"))["status"] == "pending"
    assert project_of(api, session) == project
    assert api.hub.last_seq == before
    # The same decision without remember goes through.
    assert ok(decide(api, approval, decision="allow"))["status"] == "allowed"


def test_remembering_into_a_full_rule_list_is_refused(api: Api) -> None:
    session = make_session(api)
    rules = [f"Bash(tool{i}:*)" for i in range(200)]
    ok(api.patch(f"/api/projects/{session['projectId']}", json={"permissions": {"allow": rules}}))
    approval = ask(api, session)
    refused = decide(api, approval, decision="allow", remember=True)
    body = assert_error(refused, 400, "VALIDATION_ERROR")
    assert "permissions.allow longer than 200 rules" in body["message"]


# -- waiting for a decision --------------------------------------------------------------


def test_a_long_poll_is_answered_by_the_decision(api: Api) -> None:
    approval = ask(api, make_session(api))

    async def scenario() -> tuple[httpx.Response, float]:
        started = time.monotonic()
        waiting = asyncio.create_task(
            api.client.get(f"/api/approvals/{approval['id']}", params={"wait": "30"})
        )
        await asyncio.sleep(0.2)
        assert not waiting.done(), "it should wait for the decision"
        decided = await api.client.post(
            f"/api/approvals/{approval['id']}/decision", json={"decision": "deny"}
        )
        assert decided.status_code == 200
        return await waiting, time.monotonic() - started

    answer, elapsed = api.run(scenario())
    assert ok(answer)["status"] == "denied"
    assert elapsed < 5, f"the decision did not wake the long-poll ({elapsed:.1f}s)"


def test_a_long_poll_ends_with_the_pending_approval_when_the_wait_is_over(api: Api) -> None:
    approval = ask(api, make_session(api))
    started = time.monotonic()
    answer = ok(api.get(f"/api/approvals/{approval['id']}", params={"wait": "0.3"}))
    elapsed = time.monotonic() - started
    assert answer == approval
    assert 0.25 < elapsed < 5


def test_a_long_poll_on_a_decided_approval_answers_at_once(api: Api) -> None:
    approval = ask(api, make_session(api))
    decided = ok(decide(api, approval, decision="allow"))
    started = time.monotonic()
    assert ok(api.get(f"/api/approvals/{approval['id']}", params={"wait": "60"})) == decided
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("wait", ["0", "61", "-1", "abc", "nan", "inf", "1e1", " 5", "60.5"])
def test_a_wait_out_of_range_or_not_a_number_is_refused(api: Api, wait: str) -> None:
    approval = ask(api, make_session(api))
    response = api.get(f"/api/approvals/{approval['id']}", params={"wait": wait})
    message = "wait must be a number of seconds greater than 0 and at most 60"
    assert_error(response, 400, "VALIDATION_ERROR", message)


def test_a_long_poll_ends_when_its_session_is_deleted(api: Api) -> None:
    session = make_session(api)
    approval = ask(api, session)

    async def scenario() -> httpx.Response:
        waiting = asyncio.create_task(
            api.client.get(f"/api/approvals/{approval['id']}", params={"wait": "30"})
        )
        await asyncio.sleep(0.2)
        assert (await api.client.delete(f"/api/sessions/{session['id']}")).status_code == 200
        return await asyncio.wait_for(waiting, 5)

    assert_error(api.run(scenario()), 404, "APPROVAL_NOT_FOUND")


def test_long_polls_end_at_once_with_the_current_approval_when_the_server_stops(
    api: Api,
) -> None:
    approval = ask(api, make_session(api))
    inbox = api.app.state.approvals

    async def scenario() -> list[httpx.Response]:
        path = f"/api/approvals/{approval['id']}"
        waiting = [
            asyncio.create_task(api.client.get(path, params={"wait": "60"})) for _ in range(3)
        ]
        await asyncio.sleep(0.2)
        inbox.watch.close()  # what the server does on SIGTERM/SIGINT (server.stopping)
        answers = await asyncio.wait_for(asyncio.gather(*waiting), 5)
        # Waits that start while it stops do not wait either.
        answers.append(await asyncio.wait_for(api.client.get(path, params={"wait": "60"}), 5))
        return answers

    assert [ok(a) for a in api.run(scenario())] == [approval] * 4


# -- expiry ----------------------------------------------------------------------------


def test_an_approval_nobody_decides_expires_denied_by_maestro(quick: Api) -> None:
    session = make_session(quick)
    approval = ask(quick, session)
    assert approval["expiresAt"] == approval["createdAt"] + 300
    assert attention(quick, session) == "approval"
    before = quick.hub.last_seq
    expired = ok(quick.get(f"/api/approvals/{approval['id']}", params={"wait": "10"}))
    assert expired["status"] == "expired" and expired["decision"] == "deny"
    assert expired["decidedBy"] == "maestro"
    assert expired["message"] == "no decision within 0.3 s; denied automatically"
    assert expired["decidedAt"] >= expired["expiresAt"]
    events = quick.events(before)
    assert [e["type"] for e in events] == ["approval:decided", "session:updated"]
    assert events[0]["data"] == expired
    assert attention(quick, session) is None
    body = assert_error(decide(quick, approval, decision="allow"), 409, "APPROVAL_DECIDED")
    assert "expired" in body["message"]


def test_a_decision_after_the_deadline_is_too_late(quick: Api) -> None:
    approval = ask(quick, make_session(quick))
    time.sleep(0.4)  # the loop is idle: the sweep may or may not have run when it arrives
    body = assert_error(decide(quick, approval, decision="allow"), 409, "APPROVAL_DECIDED")
    assert body["details"] == {"status": "expired"}
    assert ok(quick.get(f"/api/approvals/{approval['id']}"))["status"] == "expired"


def test_the_sweep_expires_each_approval_once(quick: Api) -> None:
    session = make_session(quick)
    approvals = [ask(quick, session) for _ in range(3)]
    before = quick.hub.last_seq
    last = ok(quick.get(f"/api/approvals/{approvals[-1]['id']}", params={"wait": "10"}))
    assert last["status"] == "expired"
    assert quick.run(quick.app.state.approvals.expire_due()) == [], "nothing is left to expire"
    decided = [e for e in quick.events(before) if e["type"] == "approval:decided"]
    assert sorted(e["data"]["id"] for e in decided) == sorted(a["id"] for a in approvals)
    statuses = ok(quick.get("/api/approvals", params={"sessionId": session["id"]}))
    assert {a["status"] for a in statuses} == {"expired"}


# -- attention -------------------------------------------------------------------------


def test_attention_follows_the_pending_approvals(api: Api) -> None:
    session = make_session(api)
    assert session["attention"] is None
    first, second = ask(api, session), ask(api, session)
    assert attention(api, session) == "approval"
    ok(decide(api, first, decision="allow"))
    assert attention(api, session) == "approval", "one is still pending"
    ok(decide(api, second, decision="deny"))
    assert attention(api, session) is None


def test_the_agent_says_it_waits_for_input_and_takes_it_back(api: Api) -> None:
    session = make_session(api)
    patched = ok(api.patch(f"/api/sessions/{session['id']}", json={"attention": "input"}))
    assert patched["attention"] == "input"
    assert patched["lastActivity"] > session["lastActivity"]
    # Other changes keep it.
    ok(api.patch(f"/api/sessions/{session['id']}", json={"name": "renamed"}))
    assert attention(api, session) == "input"
    assert (
        ok(api.patch(f"/api/sessions/{session['id']}", json={"attention": None}))["attention"]
        is None
    )


def test_a_pending_approval_outranks_waiting_for_input(api: Api) -> None:
    session = make_session(api)
    ok(api.patch(f"/api/sessions/{session['id']}", json={"attention": "input"}))
    approval = ask(api, session)
    assert attention(api, session) == "approval"
    ok(api.patch(f"/api/sessions/{session['id']}", json={"attention": "input"}))
    assert attention(api, session) == "approval"
    ok(api.patch(f"/api/sessions/{session['id']}", json={"attention": None}))
    assert attention(api, session) == "approval", "the approval still waits"
    ok(decide(api, approval, decision="allow"))
    assert attention(api, session) is None  # the agent goes on once it has its answer


def test_a_failed_session_needs_attention_and_a_completed_one_does_not(api: Api) -> None:
    session = make_session(api)
    ask(api, session)
    failed = ok(api.patch(f"/api/sessions/{session['id']}", json={"status": "failed"}))
    assert failed["attention"] == "failed"
    ok(api.patch(f"/api/sessions/{session['id']}", json={"attention": "input"}))
    assert attention(api, session) == "failed", "a failed session stays failed"
    resumed = ok(api.patch(f"/api/sessions/{session['id']}", json={"status": "running"}))
    assert resumed["attention"] == "approval", "its approval is still pending"
    done = ok(api.patch(f"/api/sessions/{session['id']}", json={"status": "completed"}))
    assert done["attention"] is None
    created_failed = make_session(api, status="failed")
    assert created_failed["attention"] == "failed"


def test_deciding_an_approval_of_a_finished_session_leaves_its_attention(api: Api) -> None:
    session = make_session(api)
    approval = ask(api, session)
    ok(api.patch(f"/api/sessions/{session['id']}", json={"status": "failed"}))
    before = api.hub.last_seq
    ok(decide(api, approval, decision="deny"))
    assert [e["type"] for e in api.events(before)] == ["approval:decided"]
    assert attention(api, session) == "failed"


@pytest.mark.parametrize("value", ["approval", "failed", "busy", 1])
def test_only_input_or_null_can_be_asked_for(api: Api, value: Any) -> None:
    session = make_session(api)
    response = api.patch(f"/api/sessions/{session['id']}", json={"attention": value})
    assert_error(response, 400, "VALIDATION_ERROR")
    assert attention(api, session) is None


# -- deletes ---------------------------------------------------------------------------


def test_a_sessions_approvals_go_with_it_without_events_of_their_own(api: Api) -> None:
    session = make_session(api)
    other = make_session(api)
    doomed = [ask(api, session), ask(api, session)]
    kept = ask(api, other)
    ok(decide(api, doomed[0], decision="allow"))
    before = api.hub.last_seq
    ok(api.delete(f"/api/sessions/{session['id']}"))
    types = [e["type"] for e in api.events(before)]
    unlinked = ["session:task_removed", "task:session_removed", "task:updated"]
    assert types == ["session:deleted", *unlinked]
    for approval in doomed:
        assert_error(api.get(f"/api/approvals/{approval['id']}"), 404, "APPROVAL_NOT_FOUND")
    assert [a["id"] for a in ok(api.get("/api/approvals"))] == [kept["id"]]
    assert ok(api.get("/api/approvals", params={"sessionId": session["id"]})) == []


def test_a_project_is_deleted_once_its_sessions_and_their_approvals_are(api: Api) -> None:
    session = make_session(api)
    ask(api, session)
    project_id = session["projectId"]
    assert_error(api.delete(f"/api/projects/{project_id}"), 400, "PROJECT_HAS_DEPENDENCIES")
    ok(api.delete(f"/api/sessions/{session['id']}"))
    for task_id in session["taskIds"]:
        ok(api.delete(f"/api/tasks/{task_id}"))
    ok(api.delete(f"/api/projects/{project_id}"))
    assert ok(api.get("/api/approvals", params={"projectId": project_id})) == []


def test_approvals_survive_a_restart(tmp_path: Path) -> None:
    first = Api(tmp_path / "data")
    session = make_session(first)
    pending, decided = ask(first, session), ask(first, session)
    decided = ok(decide(first, decided, decision="allow", message="ok"))
    first.close()
    again = Api(tmp_path / "data")
    try:
        assert ok(again.get("/api/approvals")) == [pending, decided]
        assert (tmp_path / "data" / "approvals" / f"{pending['id']}.json").is_file()
        assert attention(again, session) == "approval"
    finally:
        again.close()
