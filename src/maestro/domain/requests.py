"""Request bodies. Decoding a body into one of these Structs is the validation:
types, enums and required fields are checked by msgspec, and ``decode_body`` turns
its errors into the documented messages (``name is required``, ``priority must be
one of low, medium, high``). Rules that need the store (existence, cycles) live in
the service. ``UNSET`` marks a field the client did not send in a partial update.
"""

from __future__ import annotations

import ast
import functools
import re
import typing
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from maestro.domain.errors import ValidationFailed
from maestro.domain.ids import ID_PATTERN
from maestro.domain.models import (
    AGENT_MODEL_PATTERN,
    AGENT_SESSION_ID_PATTERN,
    BRANCH_PATTERN,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_SETUP_TIMEOUT,
    INCLUDE_PATTERN,
    MAX_RUNNER_LABELS,
    ONE_LINE_PATTERN,
    PERMISSION_RULE_PATTERN,
    RUNNER_LABEL_PATTERN,
    SETUP_COMMAND_PATTERN,
    AgentModel,
    AgentName,
    AgentSessionId,
    ApprovalDecision,
    BranchName,
    IncludePatterns,
    MaxConcurrent,
    PermissionPolicy,
    RunnerCapacity,
    RunnerLabel,
    RunnerName,
    SessionStatus,
    SetupCommand,
    SetupTimeout,
    SpawnRole,
    SpawnSource,
    TaskPriority,
    TaskStatus,
    TimelineEventType,
    Usage,
    WorktreeMode,
)

__all__ = ["UNSET", "UnsetType"]

ID_WORDS = "an id of letters, digits, '_', '.' or '-' (at most 128 characters)"
Id = Annotated[
    str, msgspec.Meta(pattern=ID_PATTERN, description=f"{ID_WORDS[0].upper()}{ID_WORDS[1:]}")
]
"""An id a client sends: checked here, once, by the type (and shown in OpenAPI)."""


MAX_DEPTH = 32


def _check_depth(value: Any, field: str) -> None:
    """Free-form JSON (metadata, event data, context) may nest at most MAX_DEPTH
    levels: deeper values are no use to anyone and strain every later encoder."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise ValueError(f"{field} is nested deeper than {MAX_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


class _Body(msgspec.Struct, rename="camel", kw_only=True):
    """Base of request bodies: camelCase on the wire, unknown fields ignored."""


class ProjectCreate(_Body):
    name: str
    working_dir: str = ""
    description: str = ""
    permissions: PermissionPolicy = msgspec.field(default_factory=PermissionPolicy)
    worktrees: WorktreeMode = "auto"
    base_branch: BranchName | None = None
    setup_command: SetupCommand | None = None
    setup_timeout: SetupTimeout = DEFAULT_SETUP_TIMEOUT
    worktree_include: IncludePatterns = ()
    agent: AgentName | None = None
    model: AgentModel | None = None
    max_concurrent: MaxConcurrent = DEFAULT_MAX_CONCURRENT


class ProjectUpdate(_Body):
    name: str | UnsetType = UNSET
    working_dir: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    # A whole policy: it replaces the stored one; fields left out take their defaults.
    permissions: PermissionPolicy | UnsetType = UNSET
    # null puts a nullable setting back to its default.
    worktrees: WorktreeMode | UnsetType = UNSET
    base_branch: BranchName | UnsetType | None = UNSET
    setup_command: SetupCommand | UnsetType | None = UNSET
    setup_timeout: SetupTimeout | UnsetType = UNSET
    worktree_include: IncludePatterns | UnsetType = UNSET
    agent: AgentName | UnsetType | None = UNSET
    model: AgentModel | UnsetType | None = UNSET
    max_concurrent: MaxConcurrent | UnsetType = UNSET


class TimelineAppend(_Body, kw_only=True):
    type: TimelineEventType = "update"
    message: str
    session_id: Id | None = None


class TaskCreate(_Body):
    project_id: Id
    title: str
    parent_id: Id | None = None
    description: str = ""
    initial_prompt: str = ""
    status: TaskStatus = "pending"
    priority: TaskPriority = "medium"
    skill_ids: list[Id] = msgspec.field(default_factory=list)
    agent_ids: list[Id] = msgspec.field(default_factory=list)
    dependencies: list[Id] = msgspec.field(default_factory=list)
    auto_start: bool = False


class TaskPatch(_Body):
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    initial_prompt: str | UnsetType = UNSET
    status: TaskStatus | UnsetType = UNSET
    priority: TaskPriority | UnsetType = UNSET
    parent_id: Id | UnsetType | None = UNSET
    session_ids: list[Id] | UnsetType = UNSET
    skill_ids: list[Id] | UnsetType = UNSET
    agent_ids: list[Id] | UnsetType = UNSET
    dependencies: list[Id] | UnsetType = UNSET
    auto_start: bool | UnsetType = UNSET
    timeline: list[TimelineAppend] | UnsetType = UNSET


class SubtaskCreate(_Body):
    title: str
    description: str = ""


class SubtaskPatch(_Body):
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    completed: bool | UnsetType = UNSET
    order: int | UnsetType = UNSET


class SessionEventAppend(_Body):
    type: str
    data: Any = None

    def __post_init__(self) -> None:
        _check_depth(self.data, "data")


class SessionCreate(_Body, kw_only=True):
    id: Id | None = None
    project_id: Id
    task_ids: list[Id] | UnsetType = UNSET
    task_id: Id | UnsetType = UNSET  # the seed's legacy single-task form
    name: str | None = None
    agent_id: str | None = None
    status: SessionStatus = "running"
    env: dict[str, str] = msgspec.field(default_factory=dict)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    hostname: str | None = None
    platform: str | None = None

    def __post_init__(self) -> None:
        _check_depth(self.metadata, "metadata")


class SessionPatch(_Body):
    status: SessionStatus | UnsetType = UNSET
    name: str | UnsetType = UNSET
    agent_id: str | UnsetType | None = UNSET
    env: dict[str, str] | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET
    task_ids: list[Id] | UnsetType = UNSET
    events: list[SessionEventAppend] | UnsetType = UNSET
    # The agent's final result: usage replaces the whole object, null clears it.
    usage: Usage | UnsetType | None = UNSET
    agent_session_id: AgentSessionId | UnsetType | None = UNSET
    # Only the agent's side says it waits for input; the other reasons are the
    # server's (docs/api.md, "Attention"). null withdraws "input".
    attention: Literal["input"] | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        _check_depth(self.metadata, "metadata")


APPROVAL_INPUT_LIMIT = 64 * 1024
"""Bytes of JSON an approval's ``input`` (and ``suggestions``) may take."""
ToolName = Annotated[str, msgspec.Meta(max_length=200)]
DecidedBy = Annotated[str, msgspec.Meta(max_length=200)]


class ApprovalCreate(_Body, kw_only=True):
    tool: ToolName
    input: Any
    reason: str | None = None
    suggestions: list[Any] | None = None

    def __post_init__(self) -> None:
        _check_depth(self.input, "input")
        _check_depth(self.suggestions, "suggestions")


class ApprovalDecide(_Body, kw_only=True):
    decision: ApprovalDecision
    message: str | None = None
    remember: bool = False
    decided_by: DecidedBy | None = None


RunnerLabelList = Annotated[list[RunnerLabel], msgspec.Meta(max_length=MAX_RUNNER_LABELS)]
MAX_REPORTED_SESSIONS = 10_000


class RunnerRegister(_Body, kw_only=True):
    name: RunnerName
    host: RunnerName
    capacity: RunnerCapacity
    labels: RunnerLabelList = msgspec.field(default_factory=list)
    # The id this runner had (from its own state): lets a restarted runner take its
    # registration back while it is still active (docs/runner.md).
    id: Id | None = None


class RunnerTokenCreate(_Body, kw_only=True):
    # The name of the runners the token may act as (``maestro runner --name``).
    runner: RunnerName


class RunnerHeartbeat(_Body, kw_only=True):
    # The sessions the runner still runs (its open terminals); not sent: unchanged.
    sessions: Annotated[list[Id], msgspec.Meta(max_length=MAX_REPORTED_SESSIONS)] | UnsetType = (
        UNSET
    )


class SessionClaim(_Body, kw_only=True):
    runner_id: Id


class SpawnRequest(_Body):
    # projectId and taskIds are checked by the service, in the seed's order and
    # with its spawn-specific codes, so they are decoded loosely here.
    project_id: Any = None
    task_ids: Any = None
    skills: list[str] = msgspec.field(default_factory=lambda: ["maestro-worker"])
    session_name: str | None = None
    role: SpawnRole = "worker"
    # Not given (or null): the project's (service.spawning.agent_and_model).
    agent: Annotated[
        AgentName | None,
        msgspec.Meta(description="The agent to run; default: the project's agent, else claude"),
    ] = None
    model: Annotated[
        AgentModel | None,
        msgspec.Meta(
            description="Its model; default: the project's model when the agent is the "
            "project's agent, else the agent's own default"
        ),
    ] = None
    spawn_source: SpawnSource = "api"
    spawned_by: str | None = None
    spawn_reason: str | None = None
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    # A follow-up: the finished session whose agent conversation this one resumes,
    # and what to ask it now (both, or neither).
    follow_up_of: Id | None = None
    follow_up_prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)] | None = None
    # Only a runner having every one of these labels may claim the session.
    runner_labels: RunnerLabelList = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        _check_depth(self.context, "context")
        if (self.follow_up_of is None) != (self.follow_up_prompt is None):
            raise ValueError(
                "followUpOf and followUpPrompt go together: a follow-up names the earlier "
                "session and what to ask its agent now"
            )


B = TypeVar("B", bound=msgspec.Struct)

_MISSING = re.compile(
    r"Object missing required field `(?P<field>[^`]+)`(?: - at `\$(?P<at>[^`]*)`)?"
)
_EXPECTED = re.compile(
    r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`(?: - at `\$(?P<at>[^`]*)`)?"
)
_ENUM = re.compile(r"Invalid enum value .* - at `\$(?P<at>[^`]*)`")
_CONSTRAINT = re.compile(r"Expected `(?P<kind>\w+)` (?P<rule>.+) - at `\$(?P<at>[^`]*)`")
# A broken bound, as msgspec states it: ``>= 0``, ``of length <= 200``.
_BOUND = re.compile(r"(?P<length>of length )?(?P<op>[<>]=?) (?P<bound>\S+)")
_LIST_ITEM = re.compile(r"(?P<list>.+)\[\d+\]")
_BOUND_WORDS = {"<=": "at most", ">=": "at least", "<": "less than", ">": "more than"}
# What a value matching each pattern is, for the message when one does not.
_PATTERN_WORDS = {
    ID_PATTERN: ID_WORDS,
    PERMISSION_RULE_PATTERN: "a permission rule: a tool name, optionally followed by a "
    "specifier in parentheses, such as Edit or Bash(npm test:*)",
    AGENT_SESSION_ID_PATTERN: "an id of letters, digits, '_', '.', ':' or '-' "
    "starting with a letter or digit",
    BRANCH_PATTERN: "a branch name git accepts: no spaces, control characters or any of "
    "~ ^ : ? * [ \\; not starting with '-', '/' or '.'; no '..', '//', '@{' or '/.'; "
    "not ending with '/', '.' or '.lock'",
    INCLUDE_PATTERN: "a file pattern relative to the repository: not starting with '/', "
    "without a '..' segment or control characters",
    SETUP_COMMAND_PATTERN: "a command without NUL characters",
    RUNNER_LABEL_PATTERN: "a label: a letter or digit, then letters, digits, '_', '.', "
    "':', '=', '/' or '-' (at most 64 characters)",
    ONE_LINE_PATTERN: "one line of text, without control characters",
    AGENT_MODEL_PATTERN: "a model name: starting with a letter or digit, without spaces "
    "or control characters",
}
_TYPE_WORDS = {
    "str": "a string",
    "int": "an integer",
    "bool": "a boolean",
    "float": "a number",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


def _field_path(at: str) -> str:
    return at.lstrip(".") or "body"


@functools.cache
def _field_type(model: type[msgspec.Struct], name: str) -> Any:
    # Cached: resolving type hints takes about a millisecond, and bad requests are
    # exactly what a misbehaving client sends many of.
    for field in msgspec.structs.fields(model):
        if field.encode_name == name:
            return typing.get_type_hints(model)[field.name]
    return None


def _struct_in(hint: Any) -> type[msgspec.Struct] | None:
    """The Struct a field holds (directly, in an optional, or in a list), if any."""
    for arg in (hint, *typing.get_args(hint)):
        if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
            return arg
        if typing.get_origin(arg) is list:
            return _struct_in(typing.get_args(arg)[0])
    return None


def _allowed_values(model: type[msgspec.Struct], at: str) -> tuple[str, ...] | None:
    """The Literal values of the field named by a msgspec error path (``.a[0].b``)."""
    names = [part.split("[")[0] for part in at.lstrip(".").split(".")]
    hint: Any = None
    current: type[msgspec.Struct] | None = model
    for name in names:
        if current is None:
            return None
        hint = _field_type(current, name)
        current = _struct_in(hint)
    for arg in (hint, *typing.get_args(hint)):
        if typing.get_origin(arg) is typing.Literal:
            return tuple(str(v) for v in typing.get_args(arg))
    return None


def _broken_constraint(kind: str, rule: str) -> str | None:
    """Our words for the rule of a msgspec constraint error (``Expected `int` >= 0``)."""
    if rule.startswith("matching regex "):
        pattern = ast.literal_eval(rule.removeprefix("matching regex "))  # msgspec shows its repr
        return f"must be {_PATTERN_WORDS.get(pattern, f'a string matching {pattern}')}"
    if m := _BOUND.fullmatch(rule):
        bound = f"{_BOUND_WORDS[m['op']]} {m['bound'].removesuffix('.0')}"
        if not m["length"]:
            return f"must be {bound}"
        return f"must be {bound} characters long" if kind == "str" else f"must have {bound} items"
    return None


def _readable(error: msgspec.ValidationError, model: type[msgspec.Struct]) -> tuple[str, str]:
    """Turn a msgspec error into (message, field), field named first."""
    text = str(error)
    if m := _MISSING.fullmatch(text):
        prefix = _field_path(m["at"] or "")
        field = m["field"] if prefix == "body" else f"{prefix}.{m['field']}"
        return f"{field} is required", field
    if m := _EXPECTED.fullmatch(text):
        field = _field_path(m["at"] or "")
        wanted = " or ".join(
            _TYPE_WORDS.get(part.strip(), part.strip()) for part in m["want"].split("|")
        )
        if field == "body":
            return "body must be a JSON object", field
        return f"{field} must be {wanted}", field
    if m := _ENUM.fullmatch(text):
        field = _field_path(m["at"])
        allowed = _allowed_values(model, m["at"])
        if allowed:
            return f"{field} must be one of {', '.join(allowed)}", field
        return f"{field} has a value that is not allowed", field
    if (m := _CONSTRAINT.fullmatch(text)) and (rule := _broken_constraint(m["kind"], m["rule"])):
        field = _field_path(m["at"])
        if rule == f"must be {ID_WORDS}" and (listed := _LIST_ITEM.fullmatch(field)):
            # An id inside a list: the documented message names the list.
            return f"{listed['list']} must be a list of valid ids", listed["list"]
        return f"{field} {rule}", field
    if text.startswith("Number out of range - at `$"):
        field = _field_path(text.rsplit("`$", 1)[1].rstrip("`"))
        return f"{field} is out of range", field
    at = text.rsplit(" - at `$", 1)
    if len(at) == 1:  # a rule of our own (__post_init__) that names its field
        return text, "body"
    field = _field_path(at[1].rstrip("`"))
    return f"{field}: {at[0]}", field


def decode_body(raw: bytes, model: type[B]) -> B:
    """Decode and validate a JSON body, raising the documented validation error."""
    if not raw.strip():
        raise ValidationFailed("body must be a JSON object", field="body")
    try:
        return msgspec.json.decode(raw, type=model)
    except msgspec.ValidationError as error:
        message, field = _readable(error, model)
        raise ValidationFailed(message, field=field) from None
    except msgspec.DecodeError as error:
        raise ValidationFailed(f"body is not valid JSON ({error})", field="body") from None
    except UnicodeDecodeError:
        raise ValidationFailed("body is not valid JSON (invalid UTF-8)", field="body") from None
    except RecursionError:
        raise ValidationFailed("body is nested too deeply", field="body") from None
