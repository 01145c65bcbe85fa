"""Adapters turn a launch request into a command line: tested as data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maestro.agents.adapters import LaunchRequest, agent_command
from maestro.agents.approval import MAX_WAIT_SECONDS
from maestro.agents.errors import AgentError
from maestro.agents.permissions import Policy
from maestro.agents.plugin import HOOK_TIMEOUT_SECONDS, hooks_config, write_plugin
from maestro.skills import discover


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
        "running_as_root": False,
    }
    return LaunchRequest(**{**base, **overrides})  # type: ignore[arg-type]


def test_claude_streams_json_with_the_policy_the_plugin_and_the_brief_on_stdin() -> None:
    command = agent_command("claude", request(model="opus"))
    assert command.argv == [
        "claude", "-p", "--output-format", "stream-json", "--verbose", "--model", "opus",
        "--permission-mode", "acceptEdits",
        "--settings", "/home/u/.maestro/sessions/sess_1/claude-settings.json",
        "--plugin-dir", "/home/u/.maestro/sessions/sess_1/plugin",
    ]  # fmt: skip
    assert command.stdin == Path("/home/u/.maestro/sessions/sess_1/brief.md")
    assert "# Brief" not in command.argv
    assert command.output_format == "claude-stream-json"
    assert command.cwd == "/src/shop"
    assert command.env["MAESTRO_SESSION_ID"] == "sess_1"


def test_claude_settings_hold_the_policy_rules_and_always_allow_maestro() -> None:
    policy = Policy(mode="default", allow=("Bash(pytest:*)",), deny=("Bash(curl:*)",))
    command = agent_command("claude", request(policy=policy))
    settings_path = Path("/home/u/.maestro/sessions/sess_1/claude-settings.json")
    assert json.loads(command.files[settings_path]) == {
        "permissions": {"allow": ["Bash(maestro:*)", "Bash(pytest:*)"], "deny": ["Bash(curl:*)"]}
    }
    argv = command.argv
    assert argv[argv.index("--permission-mode") + 1] == "default"


def test_a_huge_brief_never_becomes_an_argument() -> None:
    brief = "x" * 200_000
    for agent in ("claude", "codex"):
        command = agent_command(agent, request(brief=brief))
        assert all(len(arg) < 10_000 for arg in command.argv)
        assert command.stdin is not None


def test_the_permission_mode_variable_overrides_the_projects_mode() -> None:
    project = {"permissions": {"mode": "plan", "allow": [], "deny": []}}
    policy = Policy.of_project(project, {"MAESTRO_CLAUDE_PERMISSION_MODE": "default"})
    argv = agent_command("claude", request(policy=policy)).argv
    assert argv[argv.index("--permission-mode") + 1] == "default"
    assert "--model" not in argv


def test_an_unknown_permission_mode_variable_is_a_clear_error() -> None:
    with pytest.raises(AgentError, match="MAESTRO_CLAUDE_PERMISSION_MODE must be one of"):
        Policy.of_project({}, {"MAESTRO_CLAUDE_PERMISSION_MODE": "yolo"})


def test_a_project_without_a_policy_gets_the_default_one() -> None:
    policy = Policy.of_project({}, {})
    assert policy.mode == "acceptEdits"
    assert "Bash(pytest:*)" in policy.allow
    assert "Bash(git push:*)" in policy.deny


def test_bypass_as_root_needs_is_sandbox_said_on_purpose() -> None:
    policy = Policy(mode="bypassPermissions")
    with pytest.raises(AgentError, match="IS_SANDBOX=1") as refused:
        agent_command("claude", request(policy=policy, running_as_root=True))
    assert refused.value.code == "BYPASS_NEEDS_SANDBOX"
    # Maestro never sets IS_SANDBOX itself: the user's environment says it.
    allowed = agent_command(
        "claude", request(policy=policy, running_as_root=True, env={"IS_SANDBOX": "1"})
    )
    assert allowed.argv[allowed.argv.index("--permission-mode") + 1] == "bypassPermissions"
    assert "IS_SANDBOX" not in agent_command("claude", request()).env
    # Not root: Claude Code allows it, and so does Maestro.
    agent_command("claude", request(policy=policy, running_as_root=False))


def test_codex_runs_exec_unattended_with_the_brief_on_stdin() -> None:
    command = agent_command("codex", request(model="o4"))
    assert command.argv == [
        "codex", "exec", "--json", "--skip-git-repo-check", "-c", "allow_login_shell=false",
        "--sandbox", "workspace-write", "-c", "sandbox_workspace_write.network_access=true",
        "--cd", "/src/shop", "--model", "o4", "-",
    ]  # fmt: skip
    assert command.stdin == Path("/home/u/.maestro/sessions/sess_1/brief.md")
    assert command.output_format == "codex-json"
    assert "--full-auto" not in command.argv


def test_codex_sandbox_follows_the_policy_mode() -> None:
    plan = agent_command("codex", request(policy=Policy(mode="plan"))).argv
    assert plan[plan.index("--sandbox") + 1] == "read-only"
    bypass = agent_command("codex", request(policy=Policy(mode="bypassPermissions"))).argv
    assert "--dangerously-bypass-approvals-and-sandbox" in bypass
    assert "--sandbox" not in bypass


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
    with pytest.raises(AgentError, match="MAESTRO_AGENT_COMMAND"):
        agent_command("custom", request(env={}))


def test_custom_with_an_unknown_placeholder_is_a_clear_error() -> None:
    with pytest.raises(AgentError, match="placeholders are"):
        agent_command("custom", request(env={"MAESTRO_AGENT_COMMAND": "agent {secret}"}))


def test_an_unknown_agent_is_a_clear_error() -> None:
    with pytest.raises(AgentError, match="unknown agent 'gpt'"):
        agent_command("gpt", request())


def test_plugin_folder_has_manifest_hooks_and_skills(tmp_path: Path) -> None:
    skills, _ = discover(None)
    folder = write_plugin(tmp_path / "plugin", [skills["maestro-worker"]])
    manifest = json.loads((folder / ".claude-plugin" / "plugin.json").read_text())
    assert manifest["name"] == "maestro"
    assert manifest["author"] == {"name": "Maestro"}
    assert json.loads((folder / "hooks" / "hooks.json").read_text()) == hooks_config()
    assert (folder / "skills" / "maestro-worker" / "SKILL.md").is_file()


def test_every_hook_has_a_timeout_and_the_approval_hook_outwaits_any_approval() -> None:
    hooks = hooks_config()["hooks"]
    assert isinstance(hooks, dict)
    for event, entries in hooks.items():
        for entry in entries:
            for hook in entry["hooks"]:
                if event == "PermissionRequest":
                    # Above the longest approval, below what a JavaScript timer holds.
                    assert MAX_WAIT_SECONDS < hook["timeout"] < 2**31 / 1000
                else:
                    assert hook["timeout"] == HOOK_TIMEOUT_SECONDS


def test_plugin_hooks_report_start_end_and_file_edits() -> None:
    hooks = hooks_config()["hooks"]
    assert isinstance(hooks, dict)
    assert hooks["SessionStart"][0]["hooks"][0]["command"].endswith("maestro hook session-start")
    assert hooks["SessionEnd"][0]["hooks"][0]["command"].endswith("maestro hook session-end")
    assert hooks["PostToolUse"][0]["matcher"] == "Write|Edit|NotebookEdit"
    assert hooks["PostToolUse"][0]["hooks"][0]["command"].endswith("maestro hook file-modified")
