"""A project's permission policy, as the agent side applies it.

The policy (``project.permissions``: ``mode``, ``allow``, ``deny``) is stored by
the server; here it becomes what an agent CLI understands. Claude Code gets the
rules as its own allow/deny permission rules (a settings file), plus
``Bash(maestro:*)`` always, so an agent can never be locked out of reporting.
Codex has no per-command rules in ``exec``: the mode picks its sandbox (see
``adapters.codex``), and the rules are written into the brief for both agents.

The server's defaults and modes (``maestro.domain.models``) are imported only when
needed: ``maestro whoami`` builds a brief from a project that has its policy
stored, and importing the models (msgspec) would be a tenth of its run time.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from maestro.agents.errors import AgentError

MAESTRO_RULE = "Bash(maestro:*)"
BYPASS = "bypassPermissions"


def modes() -> tuple[str, ...]:
    """The permission modes the server accepts."""
    from maestro.domain.models import PermissionMode

    return typing.get_args(PermissionMode)


def default_allow() -> tuple[str, ...]:
    from maestro.domain.models import DEFAULT_ALLOW

    return DEFAULT_ALLOW


def default_deny() -> tuple[str, ...]:
    from maestro.domain.models import DEFAULT_DENY

    return DEFAULT_DENY


@dataclass(frozen=True)
class Policy:
    mode: str = "acceptEdits"
    allow: tuple[str, ...] = field(default_factory=default_allow)
    deny: tuple[str, ...] = field(default_factory=default_deny)
    overridden_by: str | None = field(default=None, compare=False)
    """The environment variable that set ``mode``, when one did."""

    @classmethod
    def of_project(cls, project: Mapping[str, Any], env: Mapping[str, str]) -> Policy:
        """The project's policy; ``MAESTRO_CLAUDE_PERMISSION_MODE`` in the runner's
        environment overrides its mode (a machine-wide choice, e.g. a container)."""
        stored = project.get("permissions")
        if isinstance(stored, dict):
            allow = stored["allow"] if "allow" in stored else default_allow()
            deny = stored["deny"] if "deny" in stored else default_deny()
            policy = cls(
                mode=str(stored.get("mode") or "acceptEdits"),
                allow=tuple(str(r) for r in allow),
                deny=tuple(str(r) for r in deny),
            )
        else:
            policy = cls()
        override = env.get("MAESTRO_CLAUDE_PERMISSION_MODE")
        if override:
            if override not in modes():
                raise AgentError(
                    f"MAESTRO_CLAUDE_PERMISSION_MODE must be one of {', '.join(modes())}, "
                    f"got {override!r}",
                    code="INVALID_PERMISSION_MODE",
                )
            policy = cls(override, policy.allow, policy.deny, "MAESTRO_CLAUDE_PERMISSION_MODE")
        return policy

    def claude_settings(self) -> dict[str, Any]:
        """Claude Code's ``permissions`` settings for this policy."""
        allow = [MAESTRO_RULE, *(r for r in self.allow if r != MAESTRO_RULE)]
        return {"permissions": {"allow": allow, "deny": list(self.deny)}}

    def check_bypass(self, env: Mapping[str, str], running_as_root: bool) -> None:
        """``bypassPermissions`` runs every command unasked. Claude Code refuses it
        as root unless ``IS_SANDBOX=1`` says the machine is a throw-away sandbox;
        Maestro says so before starting the agent, and never sets it itself."""
        if self.mode == BYPASS and running_as_root and env.get("IS_SANDBOX") != "1":
            source = self.overridden_by or "the project's permission policy"
            raise AgentError(
                f"permission mode bypassPermissions (from {source}) runs every command "
                "without asking, and as root Claude Code allows it only in a sandbox: set "
                "IS_SANDBOX=1 in the runner's environment if this machine is a container "
                "or VM you can throw away, or choose another mode "
                "(`maestro project permissions PROJECT --mode acceptEdits`)",
                code="BYPASS_NEEDS_SANDBOX",
            )


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _rule_matches(rule: str, tool: str, tool_input: Mapping[str, Any]) -> bool:
    name, _, spec = rule.partition("(")
    if name != tool:
        return False
    if not spec:
        return True
    spec = spec.removesuffix(")")
    command = str(tool_input.get("command", ""))
    if spec.endswith(":*"):
        prefix = spec[:-2]
        return command == prefix or command.startswith(prefix + " ")
    return command == spec


def matching_rule(rules: Sequence[str], tool: str, tool_input: Any) -> str | None:
    """The first rule naming this tool call, for telling people why it was denied
    (Claude Code decides; this only explains)."""
    if not isinstance(tool_input, Mapping):
        tool_input = {}
    return next((r for r in rules if _rule_matches(r, tool, tool_input)), None)


def brief_section(policy: Policy) -> list[str]:
    """The policy, as the brief tells the agent."""
    lines = [
        "## Permissions",
        "",
        f"This project's permission policy (mode `{policy.mode}`) decides what you may run "
        "without asking. Anything else is refused; if the task needs it, report that with "
        '`maestro report blocked "needs permission to run ..."` instead of working around it.',
        "",
        f"- allowed: {', '.join(f'`{r}`' for r in (MAESTRO_RULE, *policy.allow))}",
    ]
    if policy.deny:
        lines.append(f"- denied: {', '.join(f'`{r}`' for r in policy.deny)}")
    return lines
