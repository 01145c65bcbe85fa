"""The store protocol every backend implements.

The service talks to the store only through this: point reads, the filtered
queries the API needs (backed by indexes, so their cost follows the size of the
result), and transactions. A transaction sees its own writes, applies all of them
or none, and commits the events the service emitted in it; the store then gives
each event its ``seq`` and hands the batch, in order, to its subscribers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from msgspec import UNSET, UnsetType

from maestro.domain.errors import StorageFull, StoreWriteFailed
from maestro.domain.events import StoredEvent
from maestro.domain.models import (
    FINISHED_SESSION_STATUSES,
    Approval,
    Project,
    Runner,
    Session,
    Task,
    Token,
)

E = TypeVar("E", Project, Task, Session, Approval, Runner, Token)
AnyEntity = Project | Task | Session | Approval | Runner | Token
EventListener = Callable[[Sequence[StoredEvent]], None]


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Filters of ``GET /api/tasks``; each set filter narrows the result.

    ``parent_id=None`` asks for root tasks; ``UNSET`` means "any parent".
    """

    project_id: str | None = None
    status: str | None = None
    parent_id: str | UnsetType | None = UNSET
    session_id: str | None = None

    def matches(self, task: Task) -> bool:
        return (
            (self.project_id is None or task.project_id == self.project_id)
            and (self.status is None or task.status == self.status)
            and (self.parent_id is UNSET or task.parent_id == self.parent_id)
            and (self.session_id is None or self.session_id in task.session_ids)
        )


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """Filters of ``GET /api/sessions``; ``active`` drops finished sessions;
    ``runner_id``: the sessions claimed by that runner (``metadata.runnerId``)."""

    project_id: str | None = None
    task_id: str | None = None
    status: str | None = None
    active: bool = False
    runner_id: str | None = None

    def matches(self, session: Session) -> bool:
        return (
            (self.project_id is None or session.project_id == self.project_id)
            and (self.task_id is None or self.task_id in session.task_ids)
            and (self.status is None or session.status == self.status)
            and not (self.active and session.status in FINISHED_SESSION_STATUSES)
            and (self.runner_id is None or session.metadata.get("runnerId") == self.runner_id)
        )


@dataclass(frozen=True, slots=True)
class ApprovalQuery:
    """Filters of ``GET /api/approvals``; ``expires_by`` (ms) keeps those whose
    ``expiresAt`` is at or before it (what the expiry sweep asks for)."""

    project_id: str | None = None
    session_id: str | None = None
    status: str | None = None
    expires_by: int | None = None

    def matches(self, approval: Approval) -> bool:
        return (
            (self.project_id is None or approval.project_id == self.project_id)
            and (self.session_id is None or approval.session_id == self.session_id)
            and (self.status is None or approval.status == self.status)
            and (self.expires_by is None or approval.expires_at <= self.expires_by)
        )


@dataclass(frozen=True, slots=True)
class RunnerQuery:
    """Filters of ``GET /api/runners``; ``expires_by`` (ms) keeps those whose lease
    ends at or before it, ``name`` and ``host`` find a runner by its identity."""

    status: str | None = None
    expires_by: int | None = None
    name: str | None = None
    host: str | None = None

    def matches(self, runner: Runner) -> bool:
        return (
            (self.status is None or runner.status == self.status)
            and (self.expires_by is None or runner.expires_at <= self.expires_by)
            and (self.name is None or runner.name == self.name)
            and (self.host is None or runner.host == self.host)
        )


@dataclass(frozen=True, slots=True)
class TokenQuery:
    """Filters of the minted tokens (``maestro token list`` asks for the runner ones)."""

    kind: str | None = None

    def matches(self, token: Token) -> bool:
        return self.kind is None or token.kind == self.kind


def _created(entity: AnyEntity) -> tuple[int, str]:
    born = entity.started_at if isinstance(entity, Session) else entity.created_at
    return born, entity.id


def creation_order(entities: list[E]) -> list[E]:
    """Oldest first, ties broken by id so the order is stable."""
    return sorted(entities, key=_created)


def disk_full() -> StorageFull:
    """The answer to a write the disk had no room for (nothing was written)."""
    return StorageFull(
        "the disk holding the store is full; nothing was written. Free some space and "
        "try again (reads go on meanwhile)"
    )


def write_failed(reason: object) -> StoreWriteFailed:
    """The answer to a write the store could not make (nothing was written)."""
    return StoreWriteFailed(
        f"the store could not write ({reason}); nothing was written. "
        "Try again; the server log has the details"
    )


class StoreUnavailable(RuntimeError):
    """The store cannot be opened (a database out of reach, a data directory in
    use by another server); the message says which and why."""


class Reader(Protocol):
    """Reads, shared by the store and its transactions."""

    async def get(self, kind: type[E], entity_id: str) -> E | None: ...

    async def list_projects(self) -> list[Project]: ...

    async def find_tasks(self, query: TaskQuery) -> list[Task]: ...

    async def find_sessions(self, query: SessionQuery) -> list[Session]: ...

    async def find_approvals(self, query: ApprovalQuery) -> list[Approval]: ...

    async def find_runners(self, query: RunnerQuery) -> list[Runner]: ...

    async def find_tokens(self, query: TokenQuery) -> list[Token]: ...


class Transaction(Reader, Protocol):
    """Writes staged until commit; reads see them."""

    def put(self, entity: AnyEntity) -> None: ...

    def delete(self, entity: AnyEntity) -> None: ...

    def emit(self, event_type: str, data: Any, project_id: str) -> None: ...


class Store(Reader, Protocol):
    """A backend: the JSON files (``jsonfs``) or PostgreSQL (``postgres``)."""

    kind: str
    store_id: str
    """Names the event stream this store holds (``store.identity``); set by ``open``."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    def subscribe(self, listener: EventListener) -> None: ...

    def recent_events(self) -> list[StoredEvent]: ...

    async def counts(self) -> dict[str, int]: ...
