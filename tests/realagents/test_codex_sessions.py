"""The real Codex CLI at work in Maestro, end to end: ``maestro serve``, a
``maestro runner`` started the way the README says, ``maestro worker init`` with
``--agent codex``, and the real ``codex`` binary talking to a scripted fake
OpenAI Responses API on loopback (its base URL and key in ``$CODEX_HOME`` and the
runner's environment only)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer
from tests.helpers import ok
from tests.realagents.fake_openai import API_KEY, FakeOpenAI, shell
from tests.realagents.harness import (
    HUGE_DESCRIPTION,
    AgentSetup,
    event_types,
    events_of,
    maestro_cli,
    running,
    session_files,
    wait_for_session,
)
from tests.realagents.scripting import HttpError, Reply, Usage


@pytest.mark.parametrize("launcher", ["pty", "tmux"])
def test_a_codex_worker_does_its_task_and_reports_it(
    launcher: str,
    codex: AgentSetup,
    fake_openai: FakeOpenAI,
    server: RunningServer,
    http: httpx.Client,
    workdir: Path,
) -> None:
    project = codex.project()
    task = codex.task(project, "Write hello.txt")
    fake_openai.add(
        shell('maestro report progress "Starting with codex"', "On it."),
        shell("echo hi > hello.txt"),
        shell('maestro report complete "hello.txt written by codex"'),
        Reply("Wrote hello.txt.", usage=Usage(300, 40)),
    )

    session, runner = codex.run(project, task, launcher)

    session_id = session["id"]
    assert session["status"] == "completed", runner.log()
    assert (workdir / "hello.txt").read_text() == "hi\n"
    stored = ok(http.get(f"/api/tasks/{task['id']}"))
    assert stored["status"] == "completed"
    messages = [e.get("message") for e in stored["timeline"]]
    assert "Starting with codex" in messages and "hello.txt written by codex" in messages
    assert "report:complete" in event_types(session)
    # The brief and the worker skill reached the model (skills are inlined for Codex).
    received = fake_openai.all_text()
    assert f"# Maestro session {session_id}" in received
    assert "Working as a Maestro worker" in received
    # Usage as Codex reports it (tokens; Codex gives no price) and its thread id.
    usage = session["usage"]
    assert usage["inputTokens"] > 0 and usage["outputTokens"] > 0
    assert usage["costUsd"] == 0
    assert session["agentSessionId"]
    transcript = (session_files(runner.home, session_id) / "output.log").read_text()
    assert "maestro report progress" in transcript
    assert "● turn done" in transcript
    assert (
        ok(http.get(f"/api/tasks/{task['id']}/usage"))["usage"]["inputTokens"]
        == usage["inputTokens"]
    )
    assert server.process is not None
    assert API_KEY.encode() not in Path(f"/proc/{server.process.pid}/environ").read_bytes()


def test_a_codex_model_that_answers_400_fails_the_session(
    codex: AgentSetup, fake_openai: FakeOpenAI, server: RunningServer, http: httpx.Client
) -> None:
    project = codex.project()
    task = codex.task(project, "Doomed")
    fake_openai.add(HttpError(400, "fake openai refuses", times=20))
    runner = codex.runner()
    with running(runner):
        session_id = codex.spawn(project, task)
        session = wait_for_session(http, session_id, runner)
        waited = maestro_cli(server, "session", "wait", session_id, "--json")

    assert session["status"] == "failed"
    assert waited.returncode == 1
    (exited,) = events_of(session, "agent_exited")
    assert exited["exitCode"] != 0
    assert "fake openai refuses" in exited["reason"]


def test_a_brief_of_140_kb_reaches_codex(
    codex: AgentSetup, fake_openai: FakeOpenAI, http: httpx.Client
) -> None:
    project = codex.project()
    task = codex.task(project, "Huge spec")
    assert len(HUGE_DESCRIPTION.encode()) > 140_000
    description = HUGE_DESCRIPTION + "END-OF-SPEC"
    ok(http.patch(f"/api/tasks/{task['id']}", json={"description": description}))
    fake_openai.add(shell('maestro report complete "read it all"'), Reply("Read it."))

    session, runner = codex.run(project, task)

    assert session["status"] == "completed", runner.log()
    assert "END-OF-SPEC" in fake_openai.all_text()
    assert ok(http.get(f"/api/tasks/{task['id']}"))["status"] == "completed"
