"""The real Claude Code CLI at work in Maestro, end to end: ``maestro serve``, a
``maestro runner`` (PTY and tmux) started the way the README says, ``maestro
worker init`` in the terminal it opens, and the real ``claude`` binary talking
to a scripted fake Anthropic API on loopback.

Outcomes are read from Maestro's REST API, the session's files, and what the
fake model received.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer
from tests.helpers import ok
from tests.realagents.fake_anthropic import API_KEY, FakeAnthropic
from tests.realagents.harness import (
    HUGE_DESCRIPTION,
    AgentSetup,
    bare_path,
    event_types,
    events_of,
    maestro_cli,
    running,
    session_files,
    wait_for_session,
)
from tests.realagents.scripting import HttpError, Reply, ToolCall, Usage

LAUNCHERS = ("pty", "tmux")


def bash(command: str, text: str = "") -> Reply:
    return Reply(text, [ToolCall("Bash", {"command": command, "description": command[:30]})])


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_a_claude_worker_does_its_task_and_reports_it(
    launcher: str,
    claude: AgentSetup,
    fake_anthropic: FakeAnthropic,
    server: RunningServer,
    http: httpx.Client,
    workdir: Path,
) -> None:
    project = claude.project()
    task = claude.task(project, "Add a greeting", description="Write hello.txt.")
    fake_anthropic.add(
        bash('maestro report progress "Starting: writing hello.txt"', "On it."),
        Reply(
            "", [ToolCall("Write", {"file_path": str(workdir / "hello.txt"), "content": "hi\n"})]
        ),
        bash('maestro report complete "hello.txt written"'),
        Reply("Wrote hello.txt and reported."),
    )

    session, runner = claude.run(project, task, launcher)

    session_id = session["id"]
    assert session["status"] == "completed", runner.log()
    assert (workdir / "hello.txt").read_text() == "hi\n"
    # The reports reached Maestro from inside the agent, with no virtualenv on PATH.
    stored = ok(http.get(f"/api/tasks/{task['id']}"))
    assert stored["status"] == "completed"
    reports = [(e["type"], e.get("message"), e.get("sessionId")) for e in stored["timeline"]]
    assert ("update", "Starting: writing hello.txt", session_id) in reports
    assert ("milestone", "hello.txt written", session_id) in reports
    assert "report:complete" in event_types(session)
    assert {"path": str(workdir / "hello.txt"), "tool": "Write"} in events_of(
        session, "file_modified"
    )
    # The brief and the worker skill reached the model.
    received = fake_anthropic.all_text()
    assert f"# Maestro session {session_id}" in received
    assert "Working as a Maestro worker" in received
    assert "Write hello.txt." in received
    # Each tool result the model saw came from a command that really ran.
    results = fake_anthropic.tool_results()
    assert any("in_progress" in r for r in results), results
    # The credentials came from the runner's environment: the server never had them.
    for request in fake_anthropic.main_requests():
        assert "x-api-key" in {name.lower() for name in request.headers}
    assert server.process is not None
    server_env = Path(f"/proc/{server.process.pid}/environ").read_bytes()
    assert API_KEY.encode() not in server_env
    assert b"ANTHROPIC_BASE_URL" not in server_env
    # Claude's own session id, the usage, and the readable transcript.
    files = session_files(claude.home, session_id)
    result = json.loads((files / "result.json").read_text())
    assert session["agentSessionId"] == result["session_id"]
    expected: Usage = fake_anthropic.reported_usage()
    usage = session["usage"]
    assert usage["inputTokens"] >= expected.input_tokens
    assert usage["outputTokens"] >= expected.output_tokens
    assert usage["costUsd"] == pytest.approx(result["total_cost_usd"])
    assert usage["turns"] == result["num_turns"]
    transcript = (files / "output.log").read_text()
    assert '→ Bash: maestro report progress "Starting: writing hello.txt"' in transcript
    assert "● done: Wrote hello.txt and reported." in transcript
    assert "{" not in transcript.splitlines()[0]
    assert (files / "stream.jsonl").read_text().count('"type":"result"') == 1


def test_usage_is_rolled_up_per_task_tree_and_project(
    claude: AgentSetup, fake_anthropic: FakeAnthropic, server: RunningServer, http: httpx.Client
) -> None:
    project = claude.project()
    parent = claude.task(project, "Parent")
    child = claude.task(project, "Child", parentId=parent["id"])
    fake_anthropic.add(
        bash('maestro report complete "parent done"'),
        Reply("Parent done.", usage=Usage(1000, 50)),
        bash('maestro report complete "child done"'),
        Reply("Child done.", usage=Usage(2000, 70)),
    )
    runner = claude.runner()
    with running(runner):
        first = wait_for_session(http, claude.spawn(project, parent), runner)
        second = wait_for_session(http, claude.spawn(project, child), runner)

    assert first["status"] == second["status"] == "completed"
    tree = ok(http.get(f"/api/tasks/{parent['id']}/usage"))
    assert tree["sessions"] == 2
    for field in ("inputTokens", "outputTokens", "costUsd", "turns"):
        assert tree["usage"][field] == pytest.approx(first["usage"][field] + second["usage"][field])
    assert tree["usage"]["inputTokens"] >= 3000
    only_child = ok(http.get(f"/api/tasks/{child['id']}/usage"))
    assert only_child["usage"]["inputTokens"] == second["usage"]["inputTokens"]
    whole = ok(http.get(f"/api/projects/{project['id']}/usage"))
    assert whole["usage"] == tree["usage"]
    shown = maestro_cli(server, "session", "show", second["id"])
    assert f"in {second['usage']['inputTokens']:,}" in shown.stdout


def test_a_brief_of_140_kb_reaches_claude(
    claude: AgentSetup, fake_anthropic: FakeAnthropic, http: httpx.Client
) -> None:
    assert len(HUGE_DESCRIPTION.encode()) > 140_000
    project = claude.project()
    task = claude.task(project, "Huge spec", description=HUGE_DESCRIPTION + "END-OF-SPEC")
    fake_anthropic.add(bash('maestro report complete "read it all"'), Reply("Read it."))

    session, runner = claude.run(project, task)

    assert session["status"] == "completed", runner.log()
    first = fake_anthropic.main_requests()[0]
    assert "END-OF-SPEC" in json.dumps(first.body)
    assert ok(http.get(f"/api/tasks/{task['id']}"))["status"] == "completed"


def test_a_model_that_answers_400_fails_the_session_and_session_wait(
    claude: AgentSetup, fake_anthropic: FakeAnthropic, server: RunningServer, http: httpx.Client
) -> None:
    project = claude.project()
    task = claude.task(project, "Doomed")
    fake_anthropic.add(HttpError(400, "fake model refuses", times=50))
    runner = claude.runner()
    with running(runner):
        session_id = claude.spawn(project, task)
        # Waiting as fast as a script can: the session never looks completed.
        waited = maestro_cli(server, "session", "wait", session_id, "--interval", "0.05", "--json")
        session = wait_for_session(http, session_id, runner)

    assert session["status"] == "failed"
    assert waited.returncode == 1, waited.stdout
    assert json.loads(waited.stdout)["error"] == "SESSION_FAILED"
    (exited,) = events_of(session, "agent_exited")
    assert exited["exitCode"] != 0
    assert "fake model refuses" in exited["reason"]
    assert "completed" not in [s for s in event_types(session) if s == "completed"]
    assert ok(http.get(f"/api/tasks/{task['id']}"))["status"] == "pending"


def test_a_session_whose_reports_all_fail_is_not_a_success(
    claude: AgentSetup, fake_anthropic: FakeAnthropic
) -> None:
    project = claude.project()
    task = claude.task(project, "Reports go nowhere")
    # Every report names a task that does not exist, so none reaches Maestro.
    fake_anthropic.add(
        bash('maestro report progress "hello" --task task_1_nosuchtask'),
        bash('maestro report complete "done" --task task_1_nosuchtask'),
        Reply("Finished."),
    )

    session, runner = claude.run(project, task)

    assert session["status"] == "failed"
    (failed,) = events_of(session, "reports_failed")
    assert failed["attempts"] == 2
    terminal = runner.log() + _terminal_text(claude.home, session["id"])
    assert "none reached Maestro" in terminal


def _terminal_text(home: Path, session_id: str) -> str:
    log = session_files(home, session_id) / "terminal.log"
    return log.read_text(errors="replace") if log.exists() else ""


@pytest.mark.parametrize("approval_timeout", ["2"])
def test_the_policy_lets_tests_run_and_refuses_what_it_denies_by_name(
    claude: AgentSetup, fake_anthropic: FakeAnthropic, workdir: Path
) -> None:
    (workdir / "check.sh").write_text("echo all-checks-passed\n")
    policy = {"mode": "acceptEdits", "allow": ["Bash(sh check.sh:*)"], "deny": ["Bash(curl:*)"]}
    project = claude.project(permissions=policy)
    task = claude.task(project, "Run the checks")
    fake_anthropic.add(
        bash("sh check.sh"),
        bash("curl http://127.0.0.1:9/exfiltrate"),
        bash("git push origin main"),
        bash('maestro report complete "checks pass"'),
        Reply("Done."),
    )

    session, runner = claude.run(project, task)

    assert session["status"] == "completed", runner.log()
    ran, curl, push, *_ = fake_anthropic.tool_results()
    assert "all-checks-passed" in ran
    assert "has been denied" in curl
    # In no list: a person is asked (an approval); nobody answers here, so it
    # expires and the agent is denied, saying so (test_claude_approvals.py has
    # the answered cases).
    assert "denied automatically" in push
    denials = events_of(session, "permission_denied")
    by_rule = {d["rule"]: d for d in denials}
    assert "Bash(curl:*)" in by_rule
    assert by_rule["Bash(curl:*)"]["policy"].startswith(
        f"project {project['id']} permission policy"
    )
    assert session["usage"]["permissionDenials"] == len(denials) >= 2
    # The brief told the agent what its policy allows.
    assert "`Bash(sh check.sh:*)`" in fake_anthropic.all_text()


def test_the_generated_plugin_passes_strict_validation(
    claude_bin: Path, tmp_path: Path, agent_home: Path
) -> None:
    from maestro.agents.plugin import write_plugin
    from maestro.skills import discover

    skills, _ = discover(None)
    folder = write_plugin(tmp_path / "plugin", skills.values())
    env = {"HOME": str(agent_home), "PATH": bare_path()}
    result = subprocess.run(
        [str(claude_bin), "plugin", "validate", str(folder), "--strict"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation passed" in result.stdout
