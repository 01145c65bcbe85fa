"""New versions of entities: pure functions, a version in and a new one out
(entities are frozen), plus the small checks they share. Nothing here reads or
writes the store."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType
from msgspec.structs import replace

from maestro.domain.clock import later_than
from maestro.domain.errors import (
    ValidationFailed,
)
from maestro.domain.ids import new_id
from maestro.domain.models import (
    FINISHED_SESSION_STATUSES,
    Session,
    SessionAttention,
    SessionEvent,
    SessionStatus,
    Subtask,
    Task,
    TaskStatus,
    TimelineEvent,
    TimelineEventType,
    Usage,
)
from maestro.domain.requests import (
    SessionPatch,
    SubtaskPatch,
)
from maestro.domain.responses import UsageTotals


def text(value: str, field: str) -> str:
    """A required text field: non-empty after trimming, stored trimmed."""
    trimmed = value.strip()
    if not trimmed:
        raise ValidationFailed(f"{field} is required", field=field)
    return trimmed


def unique(ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def without(ids: tuple[str, ...], unwanted: str) -> tuple[str, ...]:
    return tuple(i for i in ids if i != unwanted)


def sent(body: msgspec.Struct, names: Iterable[str]) -> dict[str, Any]:
    """Those of the fields ``names`` that a partial update sets (not ``UNSET``)."""
    values = {name: getattr(body, name) for name in names}
    return {name: value for name, value in values.items() if value is not UNSET}


def timeline(
    kind: TimelineEventType, at: int, message: str | None = None, session_id: str | None = None
) -> TimelineEvent:
    return TimelineEvent(
        id=new_id("evt"), type=kind, timestamp=at, message=message, session_id=session_id
    )


def touched(task: Task) -> Task:
    """The task with ``updatedAt`` moved forward."""
    return replace(task, updated_at=later_than(task.updated_at))


def with_activity(session: Session) -> Session:
    """The session with ``lastActivity`` moved forward."""
    return replace(session, last_activity=later_than(session.last_activity))


def with_timeline(task: Task, *entries: TimelineEvent) -> Task:
    return replace(task, timeline=(*task.timeline, *entries))


def with_task_status(task: Task, status: TaskStatus, at: int) -> Task:
    """The task in ``status``: stamped the first time it starts or completes, and
    the change noted on its timeline."""
    if status == task.status:
        return task
    note = timeline("status_changed", at, f"Status changed from {task.status} to {status}")
    first_start = status == "in_progress" and task.started_at is None
    first_completion = status == "completed" and task.completed_at is None
    return replace(
        with_timeline(task, note),
        status=status,
        started_at=at if first_start else task.started_at,
        completed_at=at if first_completion else task.completed_at,
    )


def with_session_status(session: Session, status: SessionStatus, at: int) -> Session:
    if status == session.status:
        return session
    finished = status in FINISHED_SESSION_STATUSES
    return replace(session, status=status, completed_at=at if finished else None)


def with_attention(
    session: Session,
    pending_approvals: bool,
    asked: SessionAttention | UnsetType | None = UNSET,
) -> Session:
    """The session with the ``attention`` its state calls for, first rule that holds:
    a failed session is ``failed``; another finished one needs nothing (``None``);
    one with a pending approval needs ``approval``; else what the agent's side
    ``asked`` (``input`` or ``None``), if it asked now; else ``input`` stays until
    withdrawn, and a reason that no longer holds goes."""
    attention: SessionAttention | None
    if session.status == "failed":
        attention = "failed"
    elif session.status in FINISHED_SESSION_STATUSES:
        attention = None
    elif pending_approvals:
        attention = "approval"
    elif not isinstance(asked, UnsetType):
        attention = asked
    else:
        attention = "input" if session.attention == "input" else None
    return session if attention == session.attention else replace(session, attention=attention)


def patched_session(session: Session, body: SessionPatch, at: int) -> Session:
    """The session with the fields ``body`` sets, its links aside. ``env`` and
    ``metadata`` are merged key by key; ``events`` are appended."""
    if body.status is not UNSET:
        session = with_session_status(session, body.status, at)
    changes = sent(body, ("name", "agent_id", "usage", "agent_session_id"))
    if body.env is not UNSET:
        changes["env"] = {**session.env, **body.env}
    if body.metadata is not UNSET:
        changes["metadata"] = {**session.metadata, **body.metadata}
    if body.events is not UNSET:
        appended = (
            SessionEvent(id=new_id("evt"), timestamp=at, type=e.type, data=e.data)
            for e in body.events
        )
        changes["events"] = (*session.events, *appended)
    return replace(session, **changes)


def patched_subtask(subtask: Subtask, body: SubtaskPatch, at: int) -> Subtask:
    changes = sent(body, ("description",))
    if body.title is not UNSET:
        changes["title"] = text(body.title, "title")
    if body.completed is not UNSET and body.completed != subtask.completed:
        changes["completed"] = body.completed
        changes["completed_at"] = at if body.completed else None
    return replace(subtask, updated_at=later_than(subtask.updated_at), **changes)


def without_dependencies(task: Task, deleted: set[str], at: int) -> Task:
    """The task no longer depending on the ``deleted`` tasks, noted on its timeline."""
    kept = tuple(d for d in task.dependencies if d not in deleted)
    note = timeline("update", at, "A dependency was deleted")
    return touched(with_timeline(replace(task, dependencies=kept), note))


def descendants(root: Task, tasks: list[Task]) -> list[Task]:
    """``root`` and every task below it, breadth first, siblings oldest first
    (``tasks`` are the project's, in creation order)."""
    children: dict[str, list[Task]] = {}
    for task in tasks:
        if task.parent_id is not None:
            children.setdefault(task.parent_id, []).append(task)
    tree, seen = [root], {root.id}
    for task in tree:  # grows as children are found
        for child in children.get(task.id, []):
            if child.id not in seen:  # parents never cycle; a damaged store must not loop
                seen.add(child.id)
                tree.append(child)
    return tree


_COUNTS = tuple(f.name for f in msgspec.structs.fields(UsageTotals) if f.name != "cost_usd")


def total(usages: Iterable[Usage]) -> tuple[int, UsageTotals, list[str]]:
    """How many usages, their sums, and the distinct models they name."""
    used = list(usages)
    totals = UsageTotals(
        # fsum: a thousand small costs add up without float drift; rounding to
        # 1e-10 dollars drops what noise is left and keeps every cent.
        cost_usd=round(math.fsum(u.cost_usd for u in used), 10),
        **{name: sum(getattr(u, name) for u in used) for name in _COUNTS},
    )
    return len(used), totals, sorted({u.model for u in used if u.model})


def session_name(tasks: list[Task], session_id: str) -> str:
    if not tasks:
        return f"Session {session_id}"
    more = f" (+{len(tasks) - 1} more)" if len(tasks) > 1 else ""
    return f"{tasks[0].title}{more}"
