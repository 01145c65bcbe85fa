"""The real Codex CLI at work in Maestro, end to end: ``maestro serve``, a
``maestro runner`` started the way the README says, ``maestro worker init`` with
``--agent codex``, and the real ``codex`` binary talking to a scripted fake
OpenAI Responses API on loopback (its base URL and key in ``$CODEX_HOME`` and the
runner's environment only)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.helpers import ok
from tests.realagents.fake_openai import API_KEY, FakeOpenAI, codex_environment, shell
from tests.realagents.harness import (
    Runner,
    bare_path,
    event_types,
    events_of,
    maestro_cli,
    running,
    session_files,
    wait_for_session,
)
from tests.realagents.scripting import HttpError, Reply, Usage


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def codex_runner(
    server: RunningServer,
    codex_bin: Path,
    fake_openai: FakeOpenAI,
    agent_home: Path,
    tmp_path: Path,
) -> Callable[..., Runner]:
    """The runner as a user starts it, ``codex`` (and the node it runs on) on PATH,
    its base URL and key in ``$CODEX_HOME`` and the runner's environment only."""

    def make(launcher: str = "pty") -> Runner:
        env = codex_environment(fake_openai.url, agent_home)
        node = shutil.which("node")
        assert node is not None, "the Codex CLI's launcher runs on node"
        env["PATH"] = bare_path(codex_bin.parent, Path(node).parent)
        return Runner(server, launcher, tmp_path / "maestro-home", env, tmp_path / "runner.log")

    return make


def make_task(http: httpx.Client, workdir: Path, title: str) -> tuple[Any, Any]:
    body = {"name": "Codex shop", "workingDir": str(workdir)}
    project = ok(http.post("/api/projects", json=body), 201)
    task = ok(http.post("/api/tasks", json={"projectId": project["id"], "title": title}), 201)
    return project, task


def spawn_codex(http: httpx.Client, project: Any, task: Any) -> str:
    body = {"projectId": project["id"], "taskIds": [task["id"]], "agent": "codex"}
    session_id: str = ok(http.post("/api/sessions/spawn", json=body), 201)["sessionId"]
    return session_id


@pytest.mark.parametrize("launcher", ["pty", "tmux"])
def test_a_codex_worker_does_its_task_and_reports_it(
    launcher: str,
    server: RunningServer,
    http: httpx.Client,
    fake_openai: FakeOpenAI,
    workdir: Path,
    codex_runner: Callable[..., Runner],
) -> None:
    project, task = make_task(http, workdir, "Write hello.txt")
    fake_openai.add(
        shell('maestro report progress "Starting with codex"', "On it."),
        shell("echo hi > hello.txt"),
        shell('maestro report complete "hello.txt written by codex"'),
        Reply("Wrote hello.txt.", usage=Usage(300, 40)),
    )
    runner = codex_runner(launcher)
    with running(runner):
        session_id = spawn_codex(http, project, task)
        session = wait_for_session(http, session_id, runner)

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
    server: RunningServer,
    http: httpx.Client,
    fake_openai: FakeOpenAI,
    workdir: Path,
    codex_runner: Callable[..., Runner],
) -> None:
    project, task = make_task(http, workdir, "Doomed")
    fake_openai.add(HttpError(400, "fake openai refuses", times=20))
    runner = codex_runner("pty")
    with running(runner):
        session_id = spawn_codex(http, project, task)
        session = wait_for_session(http, session_id, runner)
        waited = maestro_cli(server, "session", "wait", session_id, "--json")

    assert session["status"] == "failed"
    assert waited.returncode == 1
    (exited,) = events_of(session, "agent_exited")
    assert exited["exitCode"] != 0
    assert "fake openai refuses" in exited["reason"]


def test_a_brief_of_140_kb_reaches_codex(
    server: RunningServer,
    http: httpx.Client,
    fake_openai: FakeOpenAI,
    workdir: Path,
    codex_runner: Callable[..., Runner],
) -> None:
    project, task = make_task(http, workdir, "Huge spec")
    description = "".join(f"Requirement {i}: keep the API stable.\n" for i in range(4000))
    assert len(description.encode()) > 140_000
    ok(http.patch(f"/api/tasks/{task['id']}", json={"description": description + "END-OF-SPEC"}))
    fake_openai.add(shell('maestro report complete "read it all"'), Reply("Read it."))
    runner = codex_runner("pty")
    with running(runner):
        session = wait_for_session(http, spawn_codex(http, project, task), runner)

    assert session["status"] == "completed", runner.log()
    assert "END-OF-SPEC" in fake_openai.all_text()
    assert ok(http.get(f"/api/tasks/{task['id']}"))["status"] == "completed"
