"""``agents.approval.ask``: what the PermissionRequest hook answers Claude Code,
against a scripted server (the real-server flow is in tests/realagents)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from maestro.agents import approval
from maestro.client import HttpClient
from tests.cli.test_client import Answer, ScriptedServer

HOOK = {
    "session_id": "claude-1",
    "tool_name": "Bash",
    "tool_input": {"command": "npm install left-pad"},
    "permission_suggestions": [{"type": "addRules", "rules": [{"toolName": "Bash"}]}],
}


def pending(**changes: Any) -> dict[str, Any]:
    return {
        "id": "appr_1",
        "status": "pending",
        "createdAt": 1_000,
        "expiresAt": 601_000,
        **changes,
    }


class FakeTime:
    """A clock that moves only when the hook sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.stop()


def ask(url: str, time: FakeTime | None = None) -> dict[str, Any]:
    time = time or FakeTime()
    with HttpClient(url, token="", retries=0) as client:
        return approval.ask(client, "sess_1", HOOK, time.clock, time.sleep)


def behavior(answer: dict[str, Any]) -> dict[str, Any]:
    output = answer["hookSpecificOutput"]
    assert output["hookEventName"] == "PermissionRequest"
    decision: dict[str, Any] = output["decision"]
    return decision


def test_files_the_tool_call_and_allows_when_a_person_allows(scripted: ScriptedServer) -> None:
    scripted.answers += [
        Answer(status=201, body=pending()),
        Answer(body=pending()),  # a long poll that ended undecided
        Answer(body=pending(status="allowed", decision="allow")),
    ]
    assert behavior(ask(scripted.url)) == {"behavior": "allow"}
    filed, *polls = scripted.seen
    assert (filed.method, filed.path) == ("POST", "/api/sessions/sess_1/approvals")
    assert json.loads(filed.body) == {
        "tool": "Bash",
        "input": {"command": "npm install left-pad"},
        "suggestions": HOOK["permission_suggestions"],
    }
    assert [p.path for p in polls] == ["/api/approvals/appr_1?wait=50"] * 2


def test_a_deny_carries_the_persons_message_to_the_model(scripted: ScriptedServer) -> None:
    denied = pending(status="denied", decision="deny", message="use pnpm instead")
    scripted.answers += [Answer(status=201, body=pending()), Answer(body=denied)]
    assert behavior(ask(scripted.url)) == {"behavior": "deny", "message": "use pnpm instead"}


def test_an_expired_approval_is_a_deny_saying_so(scripted: ScriptedServer) -> None:
    expired = pending(status="expired", decision="deny", message="no decision within 600 s")
    scripted.answers += [Answer(status=201, body=pending()), Answer(body=expired)]
    assert behavior(ask(scripted.url))["message"] == "no decision within 600 s"


def test_the_wait_survives_the_server_going_away(scripted: ScriptedServer) -> None:
    scripted.answers += [
        Answer(status=201, body=pending()),
        Answer(drop=True),  # restarting
        Answer(status=503, body={"error": True, "code": "X", "message": "starting"}),
        Answer(body=pending(status="allowed", decision="allow")),
    ]
    time = FakeTime()
    assert behavior(ask(scripted.url, time)) == {"behavior": "allow"}
    assert time.slept == [approval.UNREACHABLE_PAUSE] * 2


def test_a_deleted_approval_is_a_deny(scripted: ScriptedServer) -> None:
    gone = {"error": True, "code": "APPROVAL_NOT_FOUND", "message": "no approval appr_1"}
    scripted.answers += [Answer(status=201, body=pending()), Answer(status=404, body=gone)]
    assert "withdrawn" in behavior(ask(scripted.url))["message"]


def test_a_refused_filing_is_a_deny_with_the_servers_reason(scripted: ScriptedServer) -> None:
    finished = {"error": True, "code": "SESSION_FINISHED", "message": "session sess_1 completed"}
    scripted.answers.append(Answer(status=409, body=finished))
    decision = behavior(ask(scripted.url))
    assert decision["behavior"] == "deny"
    assert "session sess_1 completed" in decision["message"]


def test_no_server_at_all_is_a_deny_after_a_while() -> None:
    time = FakeTime()
    decision = behavior(ask("http://127.0.0.1:9", time))  # port 9: nothing listens
    assert decision["behavior"] == "deny"
    assert "could not ask for approval" in decision["message"]
    assert sum(time.slept) >= approval.FILING_PATIENCE


def test_the_hook_gives_up_after_the_approvals_deadline(scripted: ScriptedServer) -> None:
    """The server never answers the polls (always undecided) yet never expires it:
    the hook stops at the approval's deadline plus grace, with a deny."""
    scripted.answers.append(Answer(status=201, body=pending(expiresAt=1_000 + 5_000)))
    time = FakeTime()

    def ask_slowly() -> dict[str, Any]:
        with HttpClient(scripted.url, token="", retries=0) as client:

            def clock() -> float:
                time.now += 10  # each poll takes ten seconds
                return time.now

            return approval.ask(client, "sess_1", HOOK, clock, time.sleep)

    decision = behavior(ask_slowly())
    assert decision["behavior"] == "deny" and "in time" in decision["message"]
    polls = len(scripted.seen) - 1
    assert 0 < polls <= (5 + approval.GRACE_SECONDS) / 10 + 1
