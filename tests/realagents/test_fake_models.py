"""The fake model servers drive the real CLIs: Claude Code (``claude -p``) and
Codex (``codex exec``) run against them, no Maestro involved.

``MAESTRO_UPDATE_SAMPLES=1`` rewrites ``samples/claude-stream.jsonl`` and
``samples/codex-exec.jsonl`` from these runs (fixtures for parser tests).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.realagents.fake_anthropic import FakeAnthropic, claude_environment
from tests.realagents.fake_openai import FakeOpenAI, codex_environment, shell
from tests.realagents.scripting import HttpError, Reply, ToolCall, Usage

pytestmark = pytest.mark.timeout(60)

RUN_TIMEOUT = 45
SAMPLES = Path(__file__).with_name("samples")
BRIEF = "Maestro brief marker 7f3a: run the echo command, then say you are done.\n"


def run_cli(
    argv: list[str], env: dict[str, str], cwd: Path, stdin: str = BRIEF
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        input=stdin,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def claude_argv(claude_bin: Path, *flags: str) -> list[str]:
    # --allowedTools takes several values: first, so it cannot swallow anything.
    return [
        str(claude_bin),
        "--allowedTools",
        "Bash(echo:*)",
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        *flags,
    ]


def codex_argv(codex_bin: Path, workdir: Path) -> list[str]:
    return [
        str(codex_bin),
        "exec",
        "--json",
        "--sandbox",
        "workspace-write",
        "--skip-git-repo-check",
        "-c",
        "allow_login_shell=false",
        "-c",
        "sandbox_workspace_write.network_access=true",
        "--cd",
        str(workdir),
        "-",
    ]


CliRun = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_claude(
    claude_bin: Path, fake_anthropic: FakeAnthropic, agent_home: Path, workdir: Path
) -> CliRun:
    """Run ``claude -p`` in ``workdir`` against the fake, the brief on stdin;
    ``run_claude(*flags)`` adds flags to the command line."""

    def run(*flags: str) -> subprocess.CompletedProcess[str]:
        env = claude_environment(fake_anthropic.url, agent_home)
        return run_cli(claude_argv(claude_bin, *flags), env, workdir)

    return run


@pytest.fixture
def run_codex(codex_bin: Path, fake_openai: FakeOpenAI, agent_home: Path, workdir: Path) -> CliRun:
    """Run ``codex exec`` in ``workdir`` against the fake, the brief on stdin;
    ``run_codex(env)`` runs it in ``env`` instead of ``codex_environment``'s."""

    def run(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        env = codex_environment(fake_openai.url, agent_home) if env is None else env
        return run_cli(codex_argv(codex_bin, workdir), env, workdir)

    return run


def save_sample(name: str, stdout: str, tmp_path: Path) -> None:
    if os.environ.get("MAESTRO_UPDATE_SAMPLES") != "1":
        return
    SAMPLES.mkdir(exist_ok=True)
    # Paths appear as they are and, in Claude's project dirs, with every
    # character but letters and digits spelled "-".
    project_dir = re.sub("[^A-Za-z0-9]", "-", str(tmp_path))
    stdout = stdout.replace(str(tmp_path), "/tmp/maestro-sample")
    stdout = stdout.replace(project_dir, "-tmp-maestro-sample")
    (SAMPLES / name).write_text(stdout)


def test_a_request_without_tools_is_answered_without_consuming_a_turn() -> None:
    with FakeAnthropic([Reply("scripted")]) as fake:
        title = {"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "t"}]}
        aside = httpx.post(f"{fake.url}/v1/messages", json=title).json()
        turn = httpx.post(f"{fake.url}/v1/messages", json={**title, "tools": [{"name": "Bash"}]})

    assert aside["content"] == [{"type": "text", "text": "Fake title"}]
    assert turn.json()["content"] == [{"type": "text", "text": "scripted"}]
    assert [r.kind for r in fake.requests] == ["auxiliary", "main"]


def test_a_callable_turn_answers_from_the_request_it_gets() -> None:
    def echo_last_message(body: Any) -> Reply:
        return Reply(f"you said {body['messages'][-1]['content']}")

    with FakeAnthropic([echo_last_message]) as fake:
        request = {"model": "m", "tools": [{"name": "Bash"}]}
        answer = httpx.post(
            f"{fake.url}/v1/messages",
            json={**request, "messages": [{"role": "user", "content": "hi"}]},
        ).json()

    assert answer["content"][0]["text"] == "you said hi"


def test_claude_runs_an_allowed_bash_call_and_reports_the_fakes_usage(
    run_claude: CliRun, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake_anthropic.add(
        Reply(
            "Running it.",
            [ToolCall("Bash", {"command": "echo hello-from-tool", "description": "Say hello"})],
            usage=Usage(11, 7, cache_creation_input_tokens=5, cache_read_input_tokens=3),
        ),
        Reply("All done.", usage=Usage(13, 9, cache_read_input_tokens=2)),
    )

    run = run_claude()

    assert run.returncode == 0, run.stderr
    main = fake_anthropic.main_requests()
    assert len(main) == 2
    assert BRIEF.strip() in fake_anthropic.all_text()
    assert fake_anthropic.tool_results_in(main[1].body) == ["hello-from-tool"]
    events = json_lines(run.stdout)
    # One assistant event per content block; the tool result comes back as "user".
    assert [e["type"] for e in events] == [
        "system",
        "assistant",
        "assistant",
        "user",
        "assistant",
        "result",
    ]
    assert events[0]["subtype"] == "init"
    result = events[-1]
    assert result["is_error"] is False
    assert result["result"] == "All done."
    assert result["num_turns"] == 2
    reported = fake_anthropic.reported_usage()
    assert result["usage"]["input_tokens"] == reported.input_tokens == 24
    assert result["usage"]["output_tokens"] == reported.output_tokens == 16
    assert result["usage"]["cache_creation_input_tokens"] == reported.cache_creation_input_tokens
    assert result["usage"]["cache_read_input_tokens"] == reported.cache_read_input_tokens
    save_sample("claude-stream.jsonl", run.stdout, tmp_path)


def test_claude_reports_an_api_error_as_a_failed_result(
    run_claude: CliRun, fake_anthropic: FakeAnthropic
) -> None:
    # Claude Code retries a 400 with fewer beta features: answer them all alike.
    fake_anthropic.add(HttpError(400, "fake says no", times=20))

    run = run_claude()

    assert run.returncode == 1
    result = json_lines(run.stdout)[-1]
    assert result["type"] == "result"
    assert result["is_error"] is True
    assert result["api_error_status"] == 400
    assert result["terminal_reason"] == "api_error"
    assert "fake says no" in result["result"]


def test_claude_tells_the_model_when_a_settings_rule_denies_a_command(
    run_claude: CliRun, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"permissions": {"deny": ["Bash(rm:*)"]}}))
    fake_anthropic.add(
        Reply("", [ToolCall("Bash", {"command": "rm -f nothing", "description": "Remove"})]),
        Reply("Could not."),
    )

    run = run_claude("--settings", str(settings))

    assert run.returncode == 0, run.stderr
    assert fake_anthropic.tool_results() == [
        "Permission to use Bash with command rm -f nothing has been denied."
    ]
    result = json_lines(run.stdout)[-1]
    assert [d["tool_name"] for d in result["permission_denials"]] == ["Bash"]


def test_codex_runs_a_shell_command_and_reports_the_fakes_usage(
    run_codex: CliRun, fake_openai: FakeOpenAI, workdir: Path, tmp_path: Path
) -> None:
    fake_openai.add(
        shell("echo hello-from-codex > out.txt && cat out.txt", text="Running it."),
        Reply("All done.", usage=Usage(13, 9, cache_read_input_tokens=2)),
    )

    run = run_codex()

    assert run.returncode == 0, run.stderr
    assert (workdir / "out.txt").read_text() == "hello-from-codex\n"
    main = fake_openai.main_requests()
    assert len(main) == 2
    assert main[0].headers.get("authorization") == "<redacted>"
    assert BRIEF.strip() in fake_openai.all_text()
    [output] = fake_openai.tool_results_in(main[1].body)
    assert "hello-from-codex" in output
    events = json_lines(run.stdout)
    assert [e["type"] for e in events] == [
        "thread.started",
        "turn.started",
        "item.completed",  # agent_message "Running it."
        "item.started",  # command_execution
        "item.completed",
        "item.completed",  # agent_message "All done."
        "turn.completed",
    ]
    command = events[4]["item"]
    assert command["type"] == "command_execution"
    assert command["exit_code"] == 0
    assert command["aggregated_output"] == "hello-from-codex\n"
    assert events[5]["item"] == {"id": "item_2", "type": "agent_message", "text": "All done."}
    reported = fake_openai.reported_usage()
    usage = events[-1]["usage"]
    assert usage["input_tokens"] == (
        reported.input_tokens
        + reported.cache_read_input_tokens
        + reported.cache_creation_input_tokens
    )
    assert usage["cached_input_tokens"] == reported.cache_read_input_tokens
    assert usage["cache_write_input_tokens"] == reported.cache_creation_input_tokens
    assert usage["output_tokens"] == reported.output_tokens
    save_sample("codex-exec.jsonl", run.stdout, tmp_path)


def test_codex_reports_an_api_error_as_a_failed_turn(
    run_codex: CliRun, fake_openai: FakeOpenAI
) -> None:
    fake_openai.add(HttpError(400, "fake says no", times=20))

    run = run_codex()

    assert run.returncode == 1
    events = json_lines(run.stdout)
    assert events[-1]["type"] == "turn.failed"
    assert "fake says no" in events[-1]["error"]["message"]


def test_codex_on_its_builtin_provider_runs_commands_through_code_mode(
    run_codex: CliRun, fake_openai: FakeOpenAI, agent_home: Path
) -> None:
    # The built-in provider tries a WebSocket first (~7 s of retries), takes its
    # key from CODEX_API_KEY (not OPENAI_API_KEY) and, for its default model,
    # offers tools only inside the JavaScript `exec` tool.
    env = codex_environment(fake_openai.url, agent_home)
    Path(env["CODEX_HOME"], "config.toml").write_text(f'openai_base_url = "{fake_openai.url}/v1"\n')
    env["CODEX_API_KEY"] = env.pop("OPENAI_API_KEY")
    fake_openai.add(shell("echo hello-from-code-mode"), Reply("All done."))

    run = run_codex(env)

    assert run.returncode == 0, run.stderr
    assert fake_openai.tool_calls_sent()[0]["type"] == "custom_tool_call"
    [output] = fake_openai.tool_results()
    assert "hello-from-code-mode" in output
    assert fake_openai.main_requests()[0].headers.get("authorization") == "<redacted>"
