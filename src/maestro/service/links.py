"""Task-session links, kept symmetric: both sides change in one step, the link
is noted on the task's timeline, and each link made or broken emits its events
in the documented order (``session:task_*`` + ``task:session_*``, then the
updated entities)."""

from __future__ import annotations

from msgspec.structs import replace

from maestro.domain import events as ev
from maestro.domain.models import (
    Session,
    Task,
)
from maestro.service.versions import (
    timeline,
    touched,
    with_timeline,
    without,
)
from maestro.store.base import Transaction


def attach(session: Session, task: Task, at: int) -> tuple[Session, Task]:
    """Both sides linked, and the link noted on the task's timeline."""
    note = timeline("session_started", at, f"Session {session.id} started", session.id)
    task = replace(with_timeline(task, note), session_ids=(*task.session_ids, session.id))
    return replace(session, task_ids=(*session.task_ids, task.id)), touched(task)


def detach(session: Session, task: Task, at: int) -> tuple[Session, Task]:
    """Both sides unlinked, and the end of the link noted on the task's timeline."""
    note = timeline("session_ended", at, f"Session {session.id} ended", session.id)
    task = replace(with_timeline(task, note), session_ids=without(task.session_ids, session.id))
    return replace(session, task_ids=without(session.task_ids, task.id)), touched(task)


def attach_all(session: Session, tasks: list[Task], at: int) -> tuple[Session, list[Task]]:
    linked = []
    for task in tasks:
        session, task = attach(session, task, at)
        linked.append(task)
    return session, linked


def emit_link(
    tx: Transaction,
    linked: bool,
    session: Session,
    task: Task,
    *,
    session_updated: bool = True,
    task_updated: bool = True,
) -> None:
    pair = {"sessionId": session.id, "taskId": task.id}
    if linked:
        tx.emit(ev.SESSION_TASK_ADDED, pair, session.project_id)
        tx.emit(
            ev.TASK_SESSION_ADDED, {"taskId": task.id, "sessionId": session.id}, session.project_id
        )
    else:
        tx.emit(ev.SESSION_TASK_REMOVED, pair, session.project_id)
        tx.emit(
            ev.TASK_SESSION_REMOVED,
            {"taskId": task.id, "sessionId": session.id},
            session.project_id,
        )
    if session_updated:
        tx.emit(ev.SESSION_UPDATED, session, session.project_id)
    if task_updated:
        tx.emit(ev.TASK_UPDATED, task, task.project_id)
