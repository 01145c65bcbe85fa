"""Adapters turn a launch request into a command line: tested as data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maestro.agents.adapters import LaunchRequest, agent_command
from maestro.agents.plugin import hooks_config, write_plugin
from maestro.agents.skills import discover
from maestro.cli.client import CliError


def request(**overrides: object) -> LaunchRequest:
    base: dict[str, object] = {
        "session_id": "sess_1",
        "role": "worker",
        "brief": "# Brief",
        "brief_path": Path("/home/u/.maestro/sessions/sess_1/brief.md"),
        "cwd": "/src/shop",
        "model": None,
        "plugin_dir": Path("/home/u/.maestro/sessions/sess_1/plugin"),
        "env": {"MAESTRO_SESSION_ID": "sess_1"},
    }
    return LaunchRequest(**{**base, **overrides})  # type: ignore[arg-type]


def test_claude_runs_headless_with_the_plugin_and_the_brief_as_prompt() -> None:
    command = agent_command("claude", request(model="opus"))
    assert command.argv == [
        "claude", "-p", "--model", "opus",
        "--permission-mode", "acceptEdits", "--allowedTools", "Bash(maestro:*)",
        "--plugin-dir", "/home/u/.maestro/sessions/sess_1/plugin",
        "# Brief",
    ]  # fmt: skip
    assert command.cwd == "/src/shop"
    assert command.env["MAESTRO_SESSION_ID"] == "sess_1"


def test_claude_permission_mode_comes_from_the_environment() -> None:
    env = {"MAESTRO_CLAUDE_PERMISSION_MODE": "bypassPermissions"}
    argv = agent_command("claude", request(env=env)).argv
    assert argv[argv.index("--permission-mode") + 1] == "bypassPermissions"
    assert "--model" not in argv


def test_codex_runs_exec_in_the_working_directory() -> None:
    command = agent_command("codex", request(model="o4"))
    assert command.argv == [
        "codex", "exec", "--full-auto", "--cd", "/src/shop", "--model", "o4", "# Brief",
    ]  # fmt: skip


def test_custom_fills_placeholders_per_argument() -> None:
    template = "my-agent --file {prompt_file} --session={session_id} --model '{model}' {role}"
    command = agent_command("custom", request(model="m 1", env={"MAESTRO_AGENT_COMMAND": template}))
    assert command.argv == [
        "my-agent", "--file", "/home/u/.maestro/sessions/sess_1/brief.md",
        "--session=sess_1", "--model", "m 1", "worker",
    ]  # fmt: skip


def test_custom_values_cannot_inject_arguments() -> None:
    env = {"MAESTRO_AGENT_COMMAND": "agent {cwd}"}
    command = agent_command("custom", request(cwd="/tmp/x; rm -rf ~", env=env))
    assert command.argv == ["agent", "/tmp/x; rm -rf ~"]


def test_custom_without_a_template_is_a_clear_error() -> None:
    with pytest.raises(CliError, match="MAESTRO_AGENT_COMMAND"):
        agent_command("custom", request(env={}))


def test_custom_with_an_unknown_placeholder_is_a_clear_error() -> None:
    with pytest.raises(CliError, match="placeholders are"):
        agent_command("custom", request(env={"MAESTRO_AGENT_COMMAND": "agent {secret}"}))


def test_an_unknown_agent_is_a_clear_error() -> None:
    with pytest.raises(CliError, match="unknown agent 'gpt'"):
        agent_command("gpt", request())


def test_plugin_folder_has_manifest_hooks_and_skills(tmp_path: Path) -> None:
    skills, _ = discover(None)
    folder = write_plugin(tmp_path / "plugin", [skills["maestro-worker"]])
    manifest = json.loads((folder / ".claude-plugin" / "plugin.json").read_text())
    assert manifest["name"] == "maestro"
    assert json.loads((folder / "hooks" / "hooks.json").read_text()) == hooks_config()
    assert (folder / "skills" / "maestro-worker" / "SKILL.md").is_file()


def test_plugin_hooks_report_start_end_and_file_edits() -> None:
    hooks = hooks_config()["hooks"]
    assert isinstance(hooks, dict)
    assert hooks["SessionStart"][0]["hooks"][0]["command"].endswith("maestro hook session-start")
    assert hooks["SessionEnd"][0]["hooks"][0]["command"].endswith("maestro hook session-end")
    assert hooks["PostToolUse"][0]["matcher"] == "Write|Edit|MultiEdit"
    assert hooks["PostToolUse"][0]["hooks"][0]["command"].endswith("maestro hook file-modified")
