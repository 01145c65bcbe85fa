"""Response bodies that are not entities themselves."""

from __future__ import annotations

import msgspec

from maestro.domain.models import Runner, Session
from maestro.domain.vocabulary import TokenKind


class Deleted(msgspec.Struct):
    success: bool
    id: str


class Spawned(msgspec.Struct, rename="camel"):
    success: bool
    session_id: str
    session: Session


class Health(msgspec.Struct, rename="camel"):
    status: str
    timestamp: int
    uptime: float
    version: str
    store: str
    counts: dict[str, int]
    latest_seq: int  # the last event's seq: where a fresh client's ?since= starts
    store_id: str  # names the event stream those seqs belong to (?storeId=)


class UsageTotals(msgspec.Struct, rename="camel", kw_only=True):
    """Sums of the numbers of sessions' ``usage`` (the model is listed apart)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    turns: int = 0
    duration_ms: int = 0
    permission_denials: int = 0


class TaskUsage(msgspec.Struct, rename="camel", kw_only=True):
    """``GET /api/tasks/{id}/usage``: what the sessions of a task tree used."""

    task_id: str
    task_ids: list[str]  # the task, then its descendants breadth first
    sessions: int  # distinct sessions with a usage, each counted once
    usage: UsageTotals
    models: list[str]


class ProjectUsage(msgspec.Struct, rename="camel", kw_only=True):
    """``GET /api/projects/{id}/usage``: what all of a project's sessions used."""

    project_id: str
    sessions: int
    usage: UsageTotals
    models: list[str]


class RunnerWithLoad(Runner, kw_only=True, frozen=True):
    """A runner as the API serves it (responses and ``runner:*`` events): the stored
    runner, and ``load``: how many sessions it holds now (claimed by it, still
    spawning or running)."""

    load: int = 0


class Heartbeat(msgspec.Struct, rename="camel"):
    """``POST /api/runners/{id}/heartbeat``: the runner as it is now, and the lease's
    length in seconds (beat again well within it: every third of it)."""

    runner: RunnerWithLoad
    timeout: float


class Claimed(msgspec.Struct, rename="camel"):
    """``POST /api/sessions/{id}/claim``: the session, now the runner's to open,
    and (when the server requires a token) the token its agent is to use: scoped
    to the session, shown only here, ended when the session finishes. Each claim
    mints a new one and ends the one before."""

    session: Session
    token: str | None


class TokenInfo(msgspec.Struct, rename="camel", kw_only=True):
    """A minted token as it is listed: never its secret."""

    id: str
    kind: TokenKind
    created_at: int
    runner: str | None = None
    session_id: str | None = None


class IssuedToken(TokenInfo, kw_only=True):
    """``POST /api/tokens``: the token, shown this once."""

    token: str
