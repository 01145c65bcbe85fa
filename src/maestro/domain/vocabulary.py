"""The words of the domain, once: statuses, priorities, roles, sources, decisions,
agents.

Each is a ``Literal`` (what the Structs and the OpenAPI document use) and a tuple
derived from it (what code iterates and checks against), so adding a word is one
edit. Only ``typing`` here: the agent-facing commands (``maestro hook``,
``maestro report``) import it and must start fast (no msgspec).
"""

from __future__ import annotations

from typing import Literal, get_args

TaskStatus = Literal["pending", "in_progress", "completed", "blocked"]
TaskPriority = Literal["low", "medium", "high"]
SessionStatus = Literal["spawning", "running", "completed", "failed"]
TimelineEventType = Literal[
    "created",
    "session_started",
    "session_ended",
    "update",
    "milestone",
    "blocker",
    "status_changed",
]
SpawnRole = Literal["worker", "orchestrator"]
SpawnSource = Literal["manual", "orchestrator", "ui", "cli", "api", "dispatch"]
"""Who asked for a spawn; ``dispatch``: the dispatcher, starting an ``autoStart``
task whose dependencies have completed."""
AgentName = Literal["claude", "codex", "custom"]
"""The agents the agent side can launch (``agents.adapters.ADAPTERS``: a test
keeps the two in step)."""
DEFAULT_AGENT: AgentName = "claude"
WorktreeMode = Literal["auto", "on", "off"]
"""Whether a project's sessions each get a git worktree: ``auto`` when the
project's ``workingDir`` is a git repository (the agent side looks), or always,
or never."""
ApprovalStatus = Literal["pending", "allowed", "denied", "expired"]
ApprovalDecision = Literal["allow", "deny"]
RunnerStatus = Literal["active", "lost"]
"""A runner is ``active`` while its heartbeats come within ``MAESTRO_RUNNER_TIMEOUT``;
the server marks one that missed them ``lost`` (a heartbeat or a new
registration makes it ``active`` again)."""
TokenKind = Literal["session", "runner"]
"""A token the server minted: a ``session`` token (minted by a runner's claim, for
the agent it starts) or a ``runner`` token (``maestro token create --runner``).
The admin token is configured, never stored."""
ActorKind = Literal["admin", "runner", "session", "none", "server"]
"""Who made a change (the ``actor`` of its event): a request with the admin
token, a runner token or a session token; ``none`` when the server requires no
token; ``server`` for its own sweeps (expiry, leases)."""
SessionAttention = Literal["approval", "input", "failed"]
"""Why a session needs a person: an approval waits, the agent waits for input,
or it failed (``null`` when nothing does)."""

TASK_STATUSES: tuple[TaskStatus, ...] = get_args(TaskStatus)
SESSION_STATUSES: tuple[SessionStatus, ...] = get_args(SessionStatus)
FINISHED_SESSION_STATUSES: frozenset[SessionStatus] = frozenset({"completed", "failed"})
"""A session in one of these has ended; every other status is active."""
TASK_PRIORITIES: tuple[TaskPriority, ...] = get_args(TaskPriority)
TIMELINE_EVENT_TYPES: tuple[TimelineEventType, ...] = get_args(TimelineEventType)
SPAWN_ROLES: tuple[SpawnRole, ...] = get_args(SpawnRole)
SPAWN_SOURCES: tuple[SpawnSource, ...] = get_args(SpawnSource)
AGENT_NAMES: tuple[AgentName, ...] = get_args(AgentName)
WORKTREE_MODES: tuple[WorktreeMode, ...] = get_args(WorktreeMode)
APPROVAL_STATUSES: tuple[ApprovalStatus, ...] = get_args(ApprovalStatus)
APPROVAL_DECISIONS: tuple[ApprovalDecision, ...] = get_args(ApprovalDecision)
RUNNER_STATUSES: tuple[RunnerStatus, ...] = get_args(RunnerStatus)
TOKEN_KINDS: tuple[TokenKind, ...] = get_args(TokenKind)
ACTOR_KINDS: tuple[ActorKind, ...] = get_args(ActorKind)
SESSION_ATTENTION: tuple[SessionAttention, ...] = get_args(SessionAttention)
