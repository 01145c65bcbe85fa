"""The entities, defined once.

These Structs validate what the store loads, encode every response and event, and
feed the OpenAPI document. Field names are snake_case in Python and camelCase on
the wire and on disk (``rename="camel"``). Every field but the identifying ones has
a default, so files written by older versions load with the missing fields filled.

Entities are immutable facts: every Struct here is ``frozen`` and holds tuples, not
lists, so a version once read (or emitted in an event) never changes. A change is
a new version, made with ``msgspec.structs.replace``. Tuples encode as JSON arrays
and decode from them, so the wire and disk formats are those of lists. The two
free-form dicts of a session (``env``, ``metadata``) stay dicts: they are replaced
whole, never changed in place.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from maestro.domain.vocabulary import (
    AGENT_NAMES,
    APPROVAL_DECISIONS,
    APPROVAL_STATUSES,
    FINISHED_SESSION_STATUSES,
    RUNNER_STATUSES,
    SESSION_ATTENTION,
    SESSION_STATUSES,
    SPAWN_ROLES,
    TASK_STATUSES,
    WORKTREE_MODES,
    AgentName,
    ApprovalDecision,
    ApprovalStatus,
    RunnerStatus,
    SessionAttention,
    SessionStatus,
    SpawnRole,
    SpawnSource,
    TaskPriority,
    TaskStatus,
    TimelineEventType,
    TokenKind,
    WorktreeMode,
)

__all__ = [  # the vocabulary, re-exported where the entities are
    "AGENT_NAMES",
    "APPROVAL_DECISIONS",
    "APPROVAL_STATUSES",
    "FINISHED_SESSION_STATUSES",
    "RUNNER_STATUSES",
    "SESSION_ATTENTION",
    "SESSION_STATUSES",
    "SPAWN_ROLES",
    "TASK_STATUSES",
    "WORKTREE_MODES",
    "AgentName",
    "ApprovalDecision",
    "ApprovalStatus",
    "RunnerStatus",
    "SessionAttention",
    "SessionStatus",
    "SpawnRole",
    "SpawnSource",
    "TaskPriority",
    "TaskStatus",
    "TimelineEventType",
    "WorktreeMode",
]


# -- permission policy ------------------------------------------------------------

PermissionMode = Literal["default", "acceptEdits", "plan", "bypassPermissions"]

# Claude Code's rule syntax: a tool name (``Bash``, ``Edit``, ``mcp__server__tool``),
# optionally followed by a specifier in parentheses (``Bash(npm test:*)``). Control
# characters are refused anywhere: a rule ends up as one argument of the agent's
# command line. ``(?!\n)`` stops ``$`` from accepting a trailing newline, which
# Python's ``$`` (unlike JSON Schema's) would.
PERMISSION_RULE_PATTERN = r"^[A-Za-z][A-Za-z0-9_*-]*(\([^\x00-\x1f\x7f]+\))?(?!\n)$"
MAX_PERMISSION_RULES = 200
PermissionRule = Annotated[
    str,
    msgspec.Meta(
        pattern=PERMISSION_RULE_PATTERN,
        max_length=500,
        description="A Claude Code permission rule: `Edit`, `Bash(npm test:*)`, "
        "`WebFetch(domain:example.com)`, `mcp__server__tool`",
    ),
]
PermissionRules = Annotated[
    tuple[PermissionRule, ...], msgspec.Meta(max_length=MAX_PERMISSION_RULES)
]

# What a coding agent may do without asking, unless the project says otherwise.
# The agent side always adds ``Bash(maestro:*)`` (its way to report); it is not
# part of the stored policy.
DEFAULT_ALLOW: tuple[str, ...] = (
    "Bash(git:*)",
    "Bash(pytest:*)",
    "Bash(python -m pytest:*)",
    "Bash(npm test:*)",
    "Bash(npm run:*)",
    "Bash(make:*)",
    "Bash(cargo test:*)",
    "Bash(go test:*)",
    "Bash(ls:*)",
)
DEFAULT_DENY: tuple[str, ...] = ("Bash(git push:*)", "Bash(sudo:*)")


class PermissionPolicy(msgspec.Struct, rename="camel", kw_only=True, frozen=True, gc=False):
    """What a project's agents may do without asking: a permission mode, and the
    rules allowed and denied outright (a deny wins over an allow)."""

    mode: PermissionMode = "acceptEdits"
    allow: PermissionRules = DEFAULT_ALLOW
    deny: PermissionRules = DEFAULT_DENY


# -- usage ----------------------------------------------------------------------

# Counts stay within what a JavaScript client reads exactly (Number.MAX_SAFE_INTEGER).
Count = Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]
# JSON has no NaN, and a number too large for a float is refused while decoding.
Cost = Annotated[float, msgspec.Meta(ge=0)]
AGENT_SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*(?!\n)$"  # (?!\n): as above
AgentSessionId = Annotated[
    str,
    msgspec.Meta(
        pattern=AGENT_SESSION_ID_PATTERN,
        max_length=200,
        description="The agent's own session id (Claude Code's session_id, Codex's thread_id)",
    ),
]
ModelName = Annotated[str, msgspec.Meta(max_length=200)]


class Usage(msgspec.Struct, rename="camel", kw_only=True, frozen=True, gc=False):
    """What one agent invocation (one session) used, from the agent's final result."""

    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_read_tokens: Count = 0
    cache_write_tokens: Count = 0
    cost_usd: Cost = 0.0
    turns: Count = 0
    duration_ms: Count = 0
    model: ModelName | None = None
    permission_denials: Count = 0


# -- worktrees and dispatch --------------------------------------------------------

# What git accepts as a branch name (``git check-ref-format``), so the agent side
# can pass it to git as one argument: no leading '-' (an option), '/' or '.'; no
# spaces, control characters or any of ~^:?*[\; no '..', '//', '@{' or a
# component starting with '.'; not '@', not ending with '/', '.' or '.lock'.
BRANCH_PATTERN = (
    r"^(?![-/.])(?!.*/\.)(?!.*\.\.)(?!.*//)(?!.*@\{)(?!@$)(?!.*\.lock(?:/|$))"
    r"[^\x00-\x20\x7f~^:?*\[\\]+(?<![/.])(?!\n)$"
)
BranchName = Annotated[
    str,
    msgspec.Meta(
        pattern=BRANCH_PATTERN,
        max_length=200,
        description="A git branch (or other ref) name, as `git check-ref-format` accepts it",
    ),
]
# A file pattern relative to the repository's top: not absolute, no '..' segment
# (nothing outside the repository), no control characters.
INCLUDE_PATTERN = r"^(?![/\\])(?!(?:.*[/\\])?\.\.(?:[/\\]|$))[^\x00-\x1f\x7f]+(?!\n)$"
MAX_INCLUDE_PATTERNS = 100
IncludePattern = Annotated[
    str,
    msgspec.Meta(
        pattern=INCLUDE_PATTERN,
        max_length=500,
        description="A glob of files git does not track to copy into each worktree: "
        "`.env`, `config/*.local`",
    ),
]
IncludePatterns = Annotated[
    tuple[IncludePattern, ...], msgspec.Meta(max_length=MAX_INCLUDE_PATTERNS)
]
SETUP_COMMAND_PATTERN = r"^[^\x00]*$"  # a NUL cannot reach ``sh -c``
SetupCommand = Annotated[
    str,
    msgspec.Meta(
        pattern=SETUP_COMMAND_PATTERN,
        max_length=10_000,
        description="A shell command (`sh -c`) run in each new worktree before the agent starts",
    ),
]
SetupTimeout = Annotated[int, msgspec.Meta(ge=1, le=86_400, description="Seconds")]
# A model name becomes one argument of the agent's command line: it starts with a
# letter or digit (never an option) and holds no spaces or control characters.
AGENT_MODEL_PATTERN = r"^[A-Za-z0-9][^\x00-\x20\x7f]*(?!\n)$"
AgentModel = Annotated[
    str,
    msgspec.Meta(
        pattern=AGENT_MODEL_PATTERN,
        max_length=200,
        description="A model name the agent accepts: `opus`, `claude-sonnet-4-5`, `o3`",
    ),
]
MaxConcurrent = Annotated[
    int,
    msgspec.Meta(
        ge=1,
        le=100,
        description="How many dispatched sessions of the project may be active at once",
    ),
]
DEFAULT_SETUP_TIMEOUT = 600
DEFAULT_MAX_CONCURRENT = 2


class Entity(msgspec.Struct, rename="camel", kw_only=True, frozen=True, gc=False):
    """Common base: every stored entity has an id. (Subclasses repeat ``frozen``:
    msgspec would inherit it, but type checkers want it said.)

    ``gc=False`` here and on the structs entities hold: a stored value is frozen
    and built from decoded JSON, so it can never be part of a reference cycle,
    and leaving the (many, long-lived) entities out of the cycle collector keeps
    its full collections short: they were the slowest 1% of writes."""

    id: str


class Project(Entity, kw_only=True, frozen=True):
    name: str
    working_dir: str = ""
    description: str = ""
    permissions: PermissionPolicy = msgspec.field(default_factory=PermissionPolicy)
    # How its sessions run (docs/api.md, "Project settings"): stored and served
    # here, acted on by the CLI and the runner.
    worktrees: WorktreeMode = "auto"
    base_branch: BranchName | None = None
    setup_command: SetupCommand | None = None
    setup_timeout: SetupTimeout = DEFAULT_SETUP_TIMEOUT
    worktree_include: IncludePatterns = ()
    agent: AgentName | None = None
    model: AgentModel | None = None
    max_concurrent: MaxConcurrent = DEFAULT_MAX_CONCURRENT
    created_at: int = 0
    updated_at: int = 0


class TimelineEvent(
    msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True, frozen=True, gc=False
):
    id: str
    type: TimelineEventType
    timestamp: int
    message: str | None = None
    session_id: str | None = None


class Subtask(msgspec.Struct, rename="camel", kw_only=True, frozen=True, gc=False):
    id: str
    task_id: str
    title: str
    description: str = ""
    completed: bool = False
    order: int = 0
    created_at: int = 0
    updated_at: int = 0
    completed_at: int | None = None


class Task(Entity, kw_only=True, frozen=True):
    project_id: str
    parent_id: str | None = None
    title: str
    description: str = ""
    initial_prompt: str = ""
    status: TaskStatus = "pending"
    priority: TaskPriority = "medium"
    session_ids: tuple[str, ...] = ()
    skill_ids: tuple[str, ...] = ()
    agent_ids: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    # Spawned by the dispatcher once every dependency has completed.
    auto_start: bool = False
    subtasks: tuple[Subtask, ...] = ()
    timeline: tuple[TimelineEvent, ...] = ()
    created_at: int = 0
    updated_at: int = 0
    started_at: int | None = None
    completed_at: int | None = None


class SessionEvent(msgspec.Struct, rename="camel", kw_only=True, frozen=True, gc=False):
    id: str
    timestamp: int
    type: str
    data: Any = None


class Session(Entity, kw_only=True, frozen=True):
    project_id: str
    task_ids: tuple[str, ...] = ()
    name: str = ""
    agent_id: str | None = None
    status: SessionStatus = "running"
    # Dicts, as msgspec has no immutable mapping: a change is a new dict.
    env: dict[str, str] = msgspec.field(default_factory=dict)
    events: tuple[SessionEvent, ...] = ()
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    started_at: int = 0
    last_activity: int = 0
    completed_at: int | None = None
    hostname: str = ""
    platform: str = ""
    usage: Usage | None = None
    agent_session_id: AgentSessionId | None = None
    # Why the session needs a person now, kept by the service (docs/api.md, "Attention").
    attention: SessionAttention | None = None


class Approval(Entity, kw_only=True, frozen=True):
    """A tool call an agent may not make unasked, put to a person: filed by the
    agent's side for a session, decided over the API (``allow``/``deny``), or
    expired by the server (``expiresAt``), which denies it. Decided once."""

    project_id: str
    session_id: str
    task_ids: tuple[str, ...] = ()  # the session's tasks when it was filed
    tool: str
    input: Any = None  # the tool's input, as the agent gave it
    reason: str | None = None
    # Claude Code's permission_suggestions, kept as sent, for "remember".
    suggestions: tuple[Any, ...] | None = None
    status: ApprovalStatus = "pending"
    decision: ApprovalDecision | None = None
    message: str | None = None
    created_at: int = 0
    decided_at: int | None = None
    decided_by: str | None = None
    expires_at: int = 0


# -- runners -----------------------------------------------------------------------

# A label says what a runner offers (``gpu``, ``os=linux``, ``region:eu``); a spawn
# may ask for runners having some (``runnerLabels``).
RUNNER_LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:=/-]{0,63}(?!\n)$"  # (?!\n): as above
MAX_RUNNER_LABELS = 32
RunnerLabel = Annotated[
    str,
    msgspec.Meta(
        pattern=RUNNER_LABEL_PATTERN,
        description="A runner label: a letter or digit, then letters, digits and "
        "`_ . : = / -`, at most 64 characters: `gpu`, `os=linux`",
    ),
]
RunnerLabels = Annotated[tuple[RunnerLabel, ...], msgspec.Meta(max_length=MAX_RUNNER_LABELS)]
# Names of runners and hosts are shown in logs and lists: one line, no control characters.
ONE_LINE_PATTERN = r"^[^\x00-\x1f\x7f]*(?!\n)$"
RunnerName = Annotated[str, msgspec.Meta(pattern=ONE_LINE_PATTERN, max_length=200)]
RunnerCapacity = Annotated[
    int,
    msgspec.Meta(ge=1, le=1000, description="How many sessions the runner runs at once"),
]


class Runner(Entity, kw_only=True, frozen=True):
    """A ``maestro runner`` on some machine, known by its ``name`` and ``host``: it
    claims spawning sessions (``metadata.runnerId``) and opens their terminals.
    Leased: each heartbeat moves ``expiresAt`` to ``MAESTRO_RUNNER_TIMEOUT`` from
    now; the server marks a runner whose lease ran out ``lost`` and releases or
    fails its sessions (``service.runners``)."""

    name: RunnerName
    host: RunnerName
    capacity: RunnerCapacity = 1
    labels: RunnerLabels = ()
    status: RunnerStatus = "active"
    # What it said it still runs, at its last heartbeat.
    sessions: tuple[str, ...] = ()
    created_at: int = 0
    updated_at: int = 0
    last_seen: int = 0
    expires_at: int = 0
    lost_at: int | None = None


class Token(Entity, kw_only=True, frozen=True):
    """A token the server minted, kept only as the SHA-256 of its secret: a
    ``session`` token (one per claimed session, id ``tok_`` + the session id's
    tail, so a new claim replaces it) scoped to that session, its project and its
    tasks, or a ``runner`` token for the runners of one name. Never sent to a
    client after it is made, never in an event (``service.tokens``)."""

    kind: TokenKind
    secret_hash: str
    created_at: int = 0
    # A session token's scope (its session's, when it was claimed).
    session_id: str | None = None
    project_id: str | None = None
    role: str | None = None
    task_ids: tuple[str, ...] = ()
    # A runner token's runner name.
    runner_name: str | None = None


def spawn_role(session: Session) -> str:
    """The role a session was spawned as (``metadata.role``, else its
    ``MAESTRO_ROLE``), as stored: not checked against ``SPAWN_ROLES`` here."""
    role = session.metadata.get("role") or session.env.get("MAESTRO_ROLE") or "worker"
    return str(role)


StoredEntity = Project | Task | Session | Approval | Runner | Token
