"""Agent adapters: turn (brief, skills, model, cwd, env) into the command line of
one coding agent. Pure functions of their input, so they are tested as data.

- ``claude``: Claude Code in headless print mode (``-p``), with the session's
  skills and Maestro's hooks handed over as a plugin folder (``--plugin-dir``),
  and permission to run ``maestro`` commands so it can report unattended.
- ``codex``: Codex CLI (``codex exec``), skills inlined in the brief.
- ``custom``: any program, from the ``MAESTRO_AGENT_COMMAND`` template.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from maestro.agents.skills import Skill
from maestro.cli.client import CliError

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


@dataclass(frozen=True)
class AgentCommand:
    argv: list[str]
    cwd: str
    env: dict[str, str]


def claude(request: LaunchRequest) -> AgentCommand:
    """Claude Code. ``MAESTRO_CLAUDE_PERMISSION_MODE`` (default ``acceptEdits``)
    sets how much it may do without asking; ``maestro`` commands are always allowed."""
    argv = ["claude", "-p"]
    if request.model:
        argv += ["--model", request.model]
    mode = request.env.get("MAESTRO_CLAUDE_PERMISSION_MODE", "acceptEdits")
    argv += ["--permission-mode", mode, "--allowedTools", "Bash(maestro:*)"]
    if request.plugin_dir is not None:
        argv += ["--plugin-dir", str(request.plugin_dir)]
    argv.append(request.brief)
    return AgentCommand(argv, request.cwd, dict(request.env))


def codex(request: LaunchRequest) -> AgentCommand:
    """Codex CLI, non-interactive, sandboxed to the working directory."""
    argv = ["codex", "exec", "--full-auto", "--cd", request.cwd]
    if request.model:
        argv += ["--model", request.model]
    argv.append(request.brief)
    return AgentCommand(argv, request.cwd, dict(request.env))


def custom(request: LaunchRequest) -> AgentCommand:
    """``MAESTRO_AGENT_COMMAND``, split like a shell would, then each placeholder
    ({prompt_file}, {model}, {session_id}, {cwd}, {role}) filled in per argument,
    so a value can never inject extra arguments or shell syntax."""
    template = request.env.get("MAESTRO_AGENT_COMMAND", "").strip()
    if not template:
        raise CliError(
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
        raise CliError(
            f"MAESTRO_AGENT_COMMAND is not a valid template ({error}); "
            f"placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)}",
            code="AGENT_NOT_CONFIGURED",
        ) from None
    return AgentCommand(argv, request.cwd, dict(request.env))


ADAPTERS: dict[str, Callable[[LaunchRequest], AgentCommand]] = {
    "claude": claude,
    "codex": codex,
    "custom": custom,
}


def agent_command(agent: str, request: LaunchRequest) -> AgentCommand:
    adapter = ADAPTERS.get(agent)
    if adapter is None:
        raise CliError(
            f"unknown agent {agent!r}; known agents: {', '.join(sorted(ADAPTERS))}",
            code="UNKNOWN_AGENT",
        )
    return adapter(request)
