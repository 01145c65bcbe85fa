"""Agent adapters: turn (brief, skills, model, cwd, env, permission policy) into
the command line of one coding agent. Pure functions of their input, so they are
tested as data; the files an adapter needs (a settings file) are returned with
the command for ``worker init`` to write.

The brief always goes to the agent on standard input, never as an argument:
Linux caps one argument at 128 KiB, and a long task description is not rare.

- ``claude``: Claude Code in headless print mode (``-p``) with
  ``--output-format stream-json --verbose`` (read live by
  ``transcript.ClaudeStream``), the project's permission policy as a settings
  file, and the session's skills and Maestro's hooks as a plugin folder.
- ``codex``: Codex CLI (``codex exec --json``) in its workspace-write sandbox,
  with loopback open so ``maestro report`` reaches the server, no login shell
  (it would reset ``PATH``), and no git repository required.
- ``custom``: any program, from the ``MAESTRO_AGENT_COMMAND`` template.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from maestro.agents.errors import AgentError
from maestro.agents.permissions import BYPASS, Policy, running_as_root
from maestro.skills import Skill

PLACEHOLDERS = ("prompt_file", "model", "session_id", "cwd", "role")


@dataclass(frozen=True)
class LaunchRequest:
    session_id: str
    role: str
    brief: str
    brief_path: Path
    cwd: str
    model: str | None = None
    skills: tuple[Skill, ...] = ()
    plugin_dir: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    running_as_root: bool = field(default_factory=running_as_root)
    resume: str | None = None
    """The agent's own session id to continue (a follow-up), with its context."""

    @property
    def files_dir(self) -> Path:
        """The session's own folder (where the brief is)."""
        return self.brief_path.parent


@dataclass(frozen=True)
class AgentCommand:
    argv: list[str]
    cwd: str
    env: dict[str, str]
    stdin: Path | None = None
    """A file to give the agent as standard input (the brief), else the terminal."""
    output_format: str = "text"
    """How to read its standard output: ``claude-stream-json``, ``codex-json`` or
    ``text`` (shown as it is)."""
    files: dict[Path, str] = field(default_factory=dict)
    """Files to write before starting it."""


def claude(request: LaunchRequest) -> AgentCommand:
    """Claude Code, headless, with the project's permission policy."""
    policy = request.policy
    policy.check_bypass(request.env, request.running_as_root)
    settings = request.files_dir / "claude-settings.json"
    argv = ["claude", "-p", "--output-format", "stream-json", "--verbose"]
    if request.model:
        argv += ["--model", request.model]
    argv += ["--permission-mode", policy.mode, "--settings", str(settings)]
    if request.plugin_dir is not None:
        argv += ["--plugin-dir", str(request.plugin_dir)]
    if request.resume:
        argv += ["--resume", request.resume]
    return AgentCommand(
        argv,
        request.cwd,
        dict(request.env),
        stdin=request.brief_path,
        output_format="claude-stream-json",
        files={settings: json.dumps(policy.claude_settings(), indent=2)},
    )


def codex(request: LaunchRequest) -> AgentCommand:
    """Codex CLI, non-interactive. The policy's mode picks the sandbox: ``plan`` is
    read-only, ``bypassPermissions`` drops the sandbox, anything else may write in
    the working directory (with loopback network for ``maestro report``)."""
    _cannot_resume("codex", request)
    argv = ["codex", "exec", "--json", "--skip-git-repo-check", "-c", "allow_login_shell=false"]
    if request.policy.mode == "plan":
        argv += ["--sandbox", "read-only"]
    elif request.policy.mode == BYPASS:
        argv += ["--dangerously-bypass-approvals-and-sandbox"]
    else:
        argv += [
            "--sandbox",
            "workspace-write",
            "-c",
            "sandbox_workspace_write.network_access=true",
        ]
    argv += ["--cd", request.cwd]
    if request.model:
        argv += ["--model", request.model]
    argv.append("-")  # the brief comes on standard input
    return AgentCommand(
        argv, request.cwd, dict(request.env), stdin=request.brief_path, output_format="codex-json"
    )


def custom(request: LaunchRequest) -> AgentCommand:
    """``MAESTRO_AGENT_COMMAND``, split like a shell would, then each placeholder
    ({prompt_file}, {model}, {session_id}, {cwd}, {role}) filled in per argument,
    so a value can never inject extra arguments or shell syntax."""
    _cannot_resume("custom", request)
    template = request.env.get("MAESTRO_AGENT_COMMAND", "").strip()
    if not template:
        raise AgentError(
            "agent 'custom' needs MAESTRO_AGENT_COMMAND, e.g. "
            "MAESTRO_AGENT_COMMAND='my-agent --prompt-file {prompt_file}'",
            code="AGENT_NOT_CONFIGURED",
        )
    values = {
        "prompt_file": str(request.brief_path),
        "model": request.model or "",
        "session_id": request.session_id,
        "cwd": request.cwd,
        "role": request.role,
    }
    try:
        argv = [part.format_map(values) for part in shlex.split(template)]
    except (KeyError, ValueError, IndexError) as error:
        raise AgentError(
            f"MAESTRO_AGENT_COMMAND is not a valid template ({error}); "
            f"placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)}",
            code="AGENT_NOT_CONFIGURED",
        ) from None
    return AgentCommand(argv, request.cwd, dict(request.env))


def _cannot_resume(agent: str, request: LaunchRequest) -> None:
    if request.resume:
        raise AgentError(
            f"follow-ups resume the agent's earlier conversation, which Maestro does for "
            f"Claude Code only; spawn a new {agent} session on the tasks instead",
            code="CANNOT_RESUME",
        )


ADAPTERS: dict[str, Callable[[LaunchRequest], AgentCommand]] = {
    "claude": claude,
    "codex": codex,
    "custom": custom,
}


def agent_command(agent: str, request: LaunchRequest) -> AgentCommand:
    adapter = ADAPTERS.get(agent)
    if adapter is None:
        raise AgentError(
            f"unknown agent {agent!r}; known agents: {', '.join(sorted(ADAPTERS))}",
            code="UNKNOWN_AGENT",
        )
    return adapter(request)
