"""A person in the loop of a real Claude Code: approvals and follow-ups.

The real ``claude`` (under ``maestro runner`` and ``worker init``, as a user runs
them) asks to run a command its project's policy does not allow; Claude Code's
``PermissionRequest`` hook (Maestro's plugin: ``maestro hook
permission-request``) files an approval, which shows up in the API and on the
WebSocket, and waits. A person allows, denies with a message, or nobody
answers; what the fake model then receives shows what the agent was told.

A follow-up of a finished session resumes the same Claude conversation: the fake
model sees the earlier turns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.e2e.wsclient import EventStream
from tests.helpers import ok, wait_until
from tests.realagents.fake_anthropic import FakeAnthropic
from tests.realagents.harness import (
    AgentSetup,
    Runner,
    maestro_cli,
    running,
    session_files,
    wait_for_session,
)
from tests.realagents.scripting import Reply, ToolCall

UNASKED = "sh -c 'echo touched-it && echo made > approved.txt'"
"""A command no rule of the default policy allows (nor does `acceptEdits`, which
lets file commands such as `touch` through by itself)."""


def bash(command: str, text: str = "") -> Reply:
    return Reply(text, [ToolCall("Bash", {"command": command, "description": command[:30]})])


@pytest.fixture
def events(server: RunningServer) -> Iterator[EventStream]:
    """The server's event stream, from before anything happens."""
    token = server.env["MAESTRO_TOKEN"]
    with EventStream(server.url.replace("http", "ws", 1) + f"/ws?token={token}") as stream:
        yield stream


def of(messages: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [m["data"] for m in messages if m.get("event") == name]


def asked(http: httpx.Client, session_id: str, runner: Runner) -> dict[str, Any]:
    """The approval the session's agent filed, once it has filed it."""
    found: list[dict[str, Any]] = []

    def filed() -> bool:
        found[:] = ok(http.get("/api/approvals", params={"sessionId": session_id}))
        return bool(found)

    try:
        wait_until(filed, 90, f"session {session_id} to ask for approval")
    except AssertionError:
        raise AssertionError(f"no approval; runner log:\n{runner.log()}") from None
    return found[0]


def spawn_asking(
    claude: AgentSetup, fake_anthropic: FakeAnthropic, after: list[Reply]
) -> tuple[dict[str, Any], str, Runner]:
    """Start a runner and a worker whose model asks to run ``UNASKED``, then goes
    on with ``after``."""
    project = claude.project()
    task = claude.task(project, "Make the marker file")
    fake_anthropic.add(bash(UNASKED, "I need to create the marker."), *after)
    runner = claude.runner()
    runner.start()
    return project, claude.spawn(project, task), runner


def test_an_allowed_command_runs_and_the_model_sees_its_output(
    claude: AgentSetup,
    fake_anthropic: FakeAnthropic,
    server: RunningServer,
    http: httpx.Client,
    workdir: Path,
    events: EventStream,
) -> None:
    project, session_id, runner = spawn_asking(
        claude, fake_anthropic, [bash('maestro report complete "marker made"'), Reply("Done.")]
    )
    try:
        approval = asked(http, session_id, runner)
        assert approval["status"] == "pending"
        assert approval["tool"] == "Bash"
        assert approval["input"]["command"] == UNASKED
        assert approval["projectId"] == project["id"]
        assert ok(http.get(f"/api/sessions/{session_id}"))["attention"] == "approval"
        seen = events.sync()
        assert [a["id"] for a in of(seen, "approval:created")] == [approval["id"]]
        updates = [s["attention"] for s in of(seen, "session:updated") if s["id"] == session_id]
        assert "approval" in updates
        assert not (workdir / "approved.txt").exists()  # the agent waits

        allowed = maestro_cli(server, "approval", "allow", approval["id"], "--json")
        assert allowed.returncode == 0, allowed.stderr

        session = wait_for_session(http, session_id, runner)
    finally:
        runner.stop()
    assert session["status"] == "completed", runner.log()
    assert session["attention"] is None
    assert (workdir / "approved.txt").exists()
    assert any("touched-it" in result for result in fake_anthropic.tool_results())
    decided = ok(http.get(f"/api/approvals/{approval['id']}"))
    assert (decided["status"], decided["decision"]) == ("allowed", "allow")
    assert decided["decidedBy"].endswith("(cli)")
    # What the agent did reached the session's live activity log, line by line.
    activity = ok(http.get(f"/api/sessions/{session_id}/activity"))["entries"]
    lines = [(entry["kind"], entry["text"]) for entry in activity]
    assert ("assistant", "I need to create the marker.") in lines
    assert ("tool", f"→ Bash: {UNASKED}") in lines
    decisions = of(events.sync(), "approval:decided")
    assert [(a["id"], a["status"]) for a in decisions] == [(approval["id"], "allowed")]


def test_a_denied_command_does_not_run_and_the_model_reads_why(
    claude: AgentSetup,
    fake_anthropic: FakeAnthropic,
    server: RunningServer,
    http: httpx.Client,
    workdir: Path,
) -> None:
    _, session_id, runner = spawn_asking(
        claude, fake_anthropic, [Reply("Understood, I will not create it.")]
    )
    try:
        approval = asked(http, session_id, runner)
        answer = http.post(
            f"/api/approvals/{approval['id']}/decision",
            json={"decision": "deny", "message": "No marker files; use the Makefile target."},
        )
        assert ok(answer)["status"] == "denied"
        session = wait_for_session(http, session_id, runner)
    finally:
        runner.stop()
    assert session["status"] == "completed", runner.log()
    assert not (workdir / "approved.txt").exists()
    assert any(
        "No marker files; use the Makefile target." in result
        for result in fake_anthropic.tool_results()
    ), fake_anthropic.tool_results()


@pytest.mark.parametrize("approval_timeout", ["3"])
def test_an_unanswered_approval_expires_and_the_agent_is_denied(
    claude: AgentSetup,
    fake_anthropic: FakeAnthropic,
    http: httpx.Client,
    workdir: Path,
) -> None:
    _, session_id, runner = spawn_asking(claude, fake_anthropic, [Reply("Nobody answered.")])
    try:
        approval = asked(http, session_id, runner)
        session = wait_for_session(http, session_id, runner)
    finally:
        runner.stop()
    assert session["status"] == "completed", runner.log()
    expired = ok(http.get(f"/api/approvals/{approval['id']}"))
    assert (expired["status"], expired["decision"]) == ("expired", "deny")
    assert not (workdir / "approved.txt").exists()
    told = [r for r in fake_anthropic.tool_results() if expired["message"] in r]
    assert told, (expired["message"], fake_anthropic.tool_results())


def test_a_follow_up_resumes_the_claude_conversation(
    claude: AgentSetup, fake_anthropic: FakeAnthropic, server: RunningServer, http: httpx.Client
) -> None:
    project = claude.project()
    task = claude.task(project, "Pick a codeword")
    fake_anthropic.add(
        bash('maestro report complete "codeword chosen"'),
        Reply("The codeword is PINEAPPLE-42."),
        bash('maestro report progress "asked again"'),
        Reply("As I said before: PINEAPPLE-42."),
    )
    with running(claude.runner()) as runner:
        first = wait_for_session(http, claude.spawn(project, task), runner)
        assert first["status"] == "completed", runner.log()
        assert first["agentSessionId"]
        requests_before = len(fake_anthropic.main_requests())

        spawned = maestro_cli(
            server, "session", "follow-up", first["id"], "Which codeword did you pick?", "--json"
        )
        assert spawned.returncode == 0, spawned.stderr
        second_id = json.loads(spawned.stdout)["data"]["sessionId"]
        second = wait_for_session(http, second_id, runner)

    assert second["status"] == "completed", runner.log()
    assert second["metadata"]["followUpOf"] == first["id"]
    assert second["taskIds"] == first["taskIds"]
    # The model got the earlier conversation back, and the new question.
    resumed = json.dumps(fake_anthropic.main_requests()[requests_before].body)
    assert "The codeword is PINEAPPLE-42." in resumed
    assert "Which codeword did you pick?" in resumed
    assert second["agentSessionId"] == first["agentSessionId"]
    # Usage per invocation: the follow-up's cost is its own, while Claude Code's
    # total for the conversation includes the first session's.
    result = json.loads((session_files(claude.home, second_id) / "result.json").read_text())
    assert second["usage"]["costUsd"] > 0
    assert result["total_cost_usd"] == pytest.approx(
        first["usage"]["costUsd"] + second["usage"]["costUsd"], rel=0.01
    )
