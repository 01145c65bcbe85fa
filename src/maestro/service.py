"""The rules of Maestro, in one place.

Every mutation runs in one store transaction: it reads what it needs, checks the
request against the stored state, stages the new versions of every entity it
touches, and emits its events in the documented order. Nothing is written when a
check fails, and events reach clients only after the store has committed.

Invariants kept here:
- task T lists session S in ``sessionIds`` exactly when S lists T in ``taskIds``;
  deletes leave no dangling ids (links, parents, dependencies);
- task status stamps (``startedAt``, ``completedAt``) and a ``status_changed``
  timeline event on every task status change; session ``completedAt``;
- every mutation moves ``updatedAt`` (sessions: ``lastActivity``) strictly forward.

Event order: the request's primary event first; then, for every task-session link
made or broken, the pair ``session:task_*`` + ``task:session_*``, followed by
``session:updated`` (unless the session was created or deleted by the request) and
``task:updated`` (unless the task was deleted by it).
"""

from __future__ import annotations

import math
import socket
import sys
from collections.abc import Iterable
from typing import Any

import msgspec
from msgspec import UNSET
from msgspec.structs import replace

from maestro.domain import events as ev
from maestro.domain.clock import later_than, now_ms
from maestro.domain.errors import (
    InvalidTaskIds,
    MissingProjectId,
    ProjectHasDependencies,
    ProjectNotFound,
    SessionExists,
    SessionNotFound,
    SpawnTaskNotFound,
    SubtaskNotFound,
    TaskHasChildren,
    TaskNotFound,
    TooManySessions,
    ValidationFailed,
)
from maestro.domain.ids import check_id, check_ids, is_valid_id, new_id
from maestro.domain.models import (
    FINISHED_SESSION_STATUSES,
    Project,
    Session,
    SessionEvent,
    Subtask,
    Task,
    TimelineEvent,
    Usage,
)
from maestro.domain.requests import (
    ProjectCreate,
    ProjectUpdate,
    SessionCreate,
    SessionPatch,
    SpawnRequest,
    SubtaskCreate,
    SubtaskPatch,
    TaskCreate,
    TaskPatch,
    TimelineAppend,
)
from maestro.domain.responses import ProjectUsage, TaskUsage, UsageTotals
from maestro.store.base import SessionQuery, Store, TaskQuery, Transaction


def _text(value: str, field: str) -> str:
    """A required text field: non-empty after trimming, stored trimmed."""
    trimmed = value.strip()
    if not trimmed:
        raise ValidationFailed(f"{field} is required", field=field)
    return trimmed


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _editable_task(task: Task) -> Task:
    """A copy whose lists may be changed without touching the committed version."""
    return replace(
        task,
        session_ids=list(task.session_ids),
        skill_ids=list(task.skill_ids),
        agent_ids=list(task.agent_ids),
        dependencies=list(task.dependencies),
        subtasks=list(task.subtasks),
        timeline=list(task.timeline),
    )


def _editable_session(session: Session) -> Session:
    return replace(
        session,
        task_ids=list(session.task_ids),
        env=dict(session.env),
        events=list(session.events),
        metadata=dict(session.metadata),
    )


def _timeline(
    kind: Any, at: int, message: str | None = None, session_id: str | None = None
) -> TimelineEvent:
    return TimelineEvent(
        id=new_id("evt"), type=kind, timestamp=at, message=message, session_id=session_id
    )


def _touch(task: Task) -> None:
    task.updated_at = later_than(task.updated_at)


def _set_task_status(task: Task, status: Any, at: int) -> None:
    if status == task.status:
        return
    task.timeline.append(
        _timeline("status_changed", at, f"Status changed from {task.status} to {status}")
    )
    task.status = status
    if status == "in_progress" and task.started_at is None:
        task.started_at = at
    if status == "completed" and task.completed_at is None:
        task.completed_at = at


def _set_session_status(session: Session, status: Any, at: int) -> None:
    if status == session.status:
        return
    session.status = status
    session.completed_at = at if status in FINISHED_SESSION_STATUSES else None


def _attach(session: Session, task: Task, at: int) -> None:
    """Link both sides (editable copies) and note it on the task's timeline."""
    session.task_ids.append(task.id)
    task.session_ids.append(session.id)
    task.timeline.append(
        _timeline("session_started", at, f"Session {session.id} started", session.id)
    )
    _touch(task)


def _detach(session: Session, task: Task, at: int) -> None:
    session.task_ids.remove(task.id)
    task.session_ids.remove(session.id)
    task.timeline.append(_timeline("session_ended", at, f"Session {session.id} ended", session.id))
    _touch(task)


def _emit_link(
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


def _descendants(root: Task, tasks: list[Task]) -> list[Task]:
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


def _total(usages: Iterable[Usage]) -> tuple[int, UsageTotals, list[str]]:
    """How many usages, their sums, and the distinct models they name."""
    used = list(usages)
    totals = UsageTotals(
        # fsum: a thousand small costs add up without float drift; rounding to
        # 1e-10 dollars drops what noise is left and keeps every cent.
        cost_usd=round(math.fsum(u.cost_usd for u in used), 10),
        **{name: sum(getattr(u, name) for u in used) for name in _COUNTS},
    )
    return len(used), totals, sorted({u.model for u in used if u.model})


def _session_name(tasks: list[Task], session_id: str) -> str:
    if not tasks:
        return f"Session {session_id}"
    more = f" (+{len(tasks) - 1} more)" if len(tasks) > 1 else ""
    return f"{tasks[0].title}{more}"


class Workspace:
    """Projects, tasks, subtasks and sessions, and the rules between them."""

    def __init__(self, store: Store, server_url: str, max_active_sessions: int = 100) -> None:
        self.store = store
        self.server_url = server_url
        self.max_active_sessions = max_active_sessions
        self._last_birth = 0

    def _birth(self) -> int:
        """A creation time later than every earlier one from this workspace.

        Lists are "oldest first"; two creations in one millisecond must still
        list in the order they happened, not by their random id suffixes.
        """
        self._last_birth = later_than(self._last_birth)
        return self._last_birth

    def _now(self) -> int:
        """Now, never before the latest creation: a stamp made after a creation
        (a status change, a timeline entry) must not read earlier than it."""
        return max(now_ms(), self._last_birth)

    # -- shared lookups -----------------------------------------------------

    @staticmethod
    async def _project(tx: Transaction | Store, project_id: str) -> Project:
        project = await tx.get(Project, check_id(project_id, "projectId"))
        if project is None:
            raise ProjectNotFound(f"project {project_id} not found")
        return project

    @staticmethod
    async def _task(tx: Transaction | Store, task_id: str, field: str = "taskId") -> Task:
        task = await tx.get(Task, check_id(task_id, field))
        if task is None:
            raise TaskNotFound(f"task {task_id} not found")
        return task

    @staticmethod
    async def _session(tx: Transaction | Store, session_id: str) -> Session:
        session = await tx.get(Session, check_id(session_id, "sessionId"))
        if session is None:
            raise SessionNotFound(f"session {session_id} not found")
        return session

    async def _tasks_of_project(
        self, tx: Transaction, task_ids: list[str], project_id: str, field: str
    ) -> list[Task]:
        """Existing tasks of one project, in the order given, as editable copies."""
        tasks = []
        for task_id in task_ids:
            task = await self._task(tx, task_id, field)
            if task.project_id != project_id:
                raise ValidationFailed(
                    f"{field} must name tasks of project {project_id} ({task_id} is not)",
                    field=field,
                )
            tasks.append(_editable_task(task))
        return tasks

    # -- projects -----------------------------------------------------------

    async def list_projects(self) -> list[Project]:
        return await self.store.list_projects()

    async def get_project(self, project_id: str) -> Project:
        return await self._project(self.store, project_id)

    async def create_project(self, body: ProjectCreate) -> Project:
        name = _text(body.name, "name")
        async with self.store.transaction() as tx:
            # Born inside the transaction, so creation order is commit order.
            at = self._birth()
            project = Project(
                id=new_id("proj"),
                name=name,
                working_dir=body.working_dir,
                description=body.description,
                permissions=body.permissions,
                created_at=at,
                updated_at=at,
            )
            tx.put(project)
            tx.emit(ev.PROJECT_CREATED, project, project.id)
        return project

    async def update_project(self, project_id: str, body: ProjectUpdate) -> Project:
        async with self.store.transaction() as tx:
            project = replace(await self._project(tx, project_id))
            if body.name is not UNSET:
                project.name = _text(body.name, "name")
            if body.working_dir is not UNSET:
                project.working_dir = body.working_dir
            if body.description is not UNSET:
                project.description = body.description
            if body.permissions is not UNSET:
                project.permissions = body.permissions
            project.updated_at = later_than(project.updated_at)
            tx.put(project)
            tx.emit(ev.PROJECT_UPDATED, project, project.id)
        return project

    async def project_usage(self, project_id: str) -> ProjectUsage:
        """What every session of the project used, summed."""
        project = await self._project(self.store, project_id)
        sessions = await self.store.find_sessions(SessionQuery(project_id=project.id))
        count, totals, models = _total(s.usage for s in sessions if s.usage is not None)
        return ProjectUsage(project_id=project.id, sessions=count, usage=totals, models=models)

    async def delete_project(self, project_id: str) -> None:
        async with self.store.transaction() as tx:
            project = await self._project(tx, project_id)
            tasks = await tx.find_tasks(TaskQuery(project_id=project.id))
            sessions = await tx.find_sessions(SessionQuery(project_id=project.id))
            if tasks or sessions:
                raise ProjectHasDependencies(
                    f"project {project.id} still has {len(tasks)} task(s) and "
                    f"{len(sessions)} session(s); delete them first",
                    {"tasks": len(tasks), "sessions": len(sessions)},
                )
            tx.delete(project)
            tx.emit(ev.PROJECT_DELETED, {"id": project.id}, project.id)

    # -- tasks --------------------------------------------------------------

    async def list_tasks(self, query: TaskQuery) -> list[Task]:
        return await self.store.find_tasks(query)

    async def get_task(self, task_id: str) -> Task:
        return await self._task(self.store, task_id, "id")

    async def children(self, task_id: str) -> list[Task]:
        task = await self._task(self.store, task_id, "id")
        return await self.store.find_tasks(TaskQuery(project_id=task.project_id, parent_id=task.id))

    async def task_usage(self, task_id: str) -> TaskUsage:
        """What the sessions of a task and all its descendants used, summed.

        A session linked to several tasks of the tree is counted once: usage
        belongs to the session (one agent invocation), not to its tasks.
        """
        root = await self._task(self.store, task_id, "id")
        project_tasks = await self.store.find_tasks(TaskQuery(project_id=root.project_id))
        tree = _descendants(root, project_tasks)
        usages = []
        for session_id in _unique([s for task in tree for s in task.session_ids]):
            session = await self.store.get(Session, session_id)
            if session is not None and session.usage is not None:
                usages.append(session.usage)
        count, totals, models = _total(usages)
        return TaskUsage(
            task_id=root.id,
            task_ids=[task.id for task in tree],
            sessions=count,
            usage=totals,
            models=models,
        )

    async def _check_parent(self, tx: Transaction, task: Task, parent_id: str | None) -> None:
        """The parent exists in the same project and is not the task or its descendant."""
        if parent_id is None:
            return
        parent = await self._task(tx, parent_id, "parentId")
        if parent.project_id != task.project_id:
            raise ValidationFailed("parentId must be a task of the same project", "parentId")
        ancestor: Task | None = parent
        while ancestor is not None:
            if ancestor.id == task.id:
                raise ValidationFailed("parentId must not make a cycle of parents", "parentId")
            ancestor = await tx.get(Task, ancestor.parent_id) if ancestor.parent_id else None

    async def _check_dependencies(self, tx: Transaction, task: Task, ids: list[str]) -> list[str]:
        check_ids(ids, "dependencies")
        ids = _unique(ids)
        if task.id in ids:
            raise ValidationFailed("dependencies must not include the task itself", "dependencies")
        await self._tasks_of_project(tx, ids, task.project_id, "dependencies")
        return ids

    async def create_task(self, body: TaskCreate) -> Task:
        title = _text(body.title, "title")
        async with self.store.transaction() as tx:
            # Born inside the transaction, so creation order is commit order.
            at = self._birth()
            task = Task(
                id=new_id("task"),
                project_id=check_id(body.project_id, "projectId"),
                parent_id=body.parent_id,
                title=title,
                description=body.description,
                initial_prompt=body.initial_prompt,
                status=body.status,
                priority=body.priority,
                skill_ids=_unique(check_ids(body.skill_ids, "skillIds")),
                agent_ids=_unique(check_ids(body.agent_ids, "agentIds")),
                timeline=[_timeline("created", at, "Task created")],
                created_at=at,
                updated_at=at,
                started_at=at if body.status == "in_progress" else None,
                completed_at=at if body.status == "completed" else None,
            )
            await self._project(tx, task.project_id)
            await self._check_parent(tx, task, body.parent_id)
            task.dependencies = await self._check_dependencies(tx, task, body.dependencies)
            tx.put(task)
            tx.emit(ev.TASK_CREATED, task, task.project_id)
        return task

    async def patch_task(self, task_id: str, body: TaskPatch) -> Task:
        async with self.store.transaction() as tx:
            task = _editable_task(await self._task(tx, task_id, "id"))
            at = self._now()
            if body.title is not UNSET:
                task.title = _text(body.title, "title")
            for name in ("description", "initial_prompt", "priority"):
                value = getattr(body, name)
                if value is not UNSET:
                    setattr(task, name, value)
            if body.skill_ids is not UNSET:
                task.skill_ids = _unique(check_ids(body.skill_ids, "skillIds"))
            if body.agent_ids is not UNSET:
                task.agent_ids = _unique(check_ids(body.agent_ids, "agentIds"))
            if body.parent_id is not UNSET:
                await self._check_parent(tx, task, body.parent_id)
                task.parent_id = body.parent_id
            if body.dependencies is not UNSET:
                task.dependencies = await self._check_dependencies(tx, task, body.dependencies)
            if body.status is not UNSET:
                _set_task_status(task, body.status, at)
            if body.timeline is not UNSET:
                task.timeline.extend(self._timeline_entries(body.timeline, at))
            added: list[Session] = []
            removed: list[Session] = []
            if body.session_ids is not UNSET:
                wanted = _unique(check_ids(body.session_ids, "sessionIds"))
                for session_id in [s for s in task.session_ids if s not in wanted]:
                    session = _editable_session(await self._session(tx, session_id))
                    _detach(session, task, at)
                    removed.append(session)
                for session_id in [s for s in wanted if s not in task.session_ids]:
                    session = _editable_session(await self._session(tx, session_id))
                    if session.project_id != task.project_id:
                        raise ValidationFailed(
                            f"sessionIds must name sessions of project {task.project_id}",
                            "sessionIds",
                        )
                    _attach(session, task, at)
                    added.append(session)
            _touch(task)
            tx.put(task)
            tx.emit(ev.TASK_UPDATED, task, task.project_id)
            for linked, sessions in ((False, removed), (True, added)):
                for session in sessions:
                    session.last_activity = later_than(session.last_activity)
                    tx.put(session)
                    _emit_link(tx, linked, session, task)
        return task

    @staticmethod
    def _timeline_entries(entries: list[TimelineAppend], at: int) -> list[TimelineEvent]:
        for entry in entries:
            if entry.session_id is not None:
                check_id(entry.session_id, "sessionId")
        return [_timeline(e.type, at, _text(e.message, "message"), e.session_id) for e in entries]

    async def append_timeline(self, task_id: str, body: TimelineAppend) -> Task:
        async with self.store.transaction() as tx:
            task = _editable_task(await self._task(tx, task_id, "id"))
            task.timeline.extend(self._timeline_entries([body], self._now()))
            _touch(task)
            tx.put(task)
            tx.emit(ev.TASK_UPDATED, task, task.project_id)
        return task

    async def delete_task(self, task_id: str, cascade: bool = False) -> None:
        async with self.store.transaction() as tx:
            root = await self._task(tx, task_id, "id")
            doomed = [root]
            for task in doomed:  # grows as descendants are found: breadth first
                children = await tx.find_tasks(
                    TaskQuery(project_id=task.project_id, parent_id=task.id)
                )
                if children and not cascade:
                    raise TaskHasChildren(
                        f"task {task.id} has {len(children)} child task(s); "
                        "delete them first or pass cascade=true",
                        {"children": [c.id for c in children]},
                    )
                doomed.extend(children)
            doomed_ids = {task.id for task in doomed}
            for task in doomed:
                tx.delete(task)
                tx.emit(ev.TASK_DELETED, {"id": task.id}, task.project_id)
            at = self._now()
            sessions: dict[str, Session] = {}
            for task in doomed:
                for session_id in task.session_ids:
                    if session_id not in sessions:
                        stored = await tx.get(Session, session_id)
                        if stored is None:
                            continue
                        sessions[session_id] = _editable_session(stored)
                        sessions[session_id].last_activity = later_than(stored.last_activity)
                    session = sessions[session_id]
                    session.task_ids.remove(task.id)
                    tx.put(session)
                    _emit_link(tx, False, session, task, task_updated=False)
            # Nothing may keep depending on a task that no longer exists.
            for other in await tx.find_tasks(TaskQuery(project_id=root.project_id)):
                if doomed_ids.intersection(other.dependencies):
                    kept = _editable_task(other)
                    kept.dependencies = [d for d in kept.dependencies if d not in doomed_ids]
                    kept.timeline.append(_timeline("update", at, "A dependency was deleted"))
                    _touch(kept)
                    tx.put(kept)
                    tx.emit(ev.TASK_UPDATED, kept, kept.project_id)

    # -- subtasks -----------------------------------------------------------

    async def list_subtasks(self, task_id: str) -> list[Subtask]:
        return (await self._task(self.store, task_id)).subtasks

    async def create_subtask(self, task_id: str, body: SubtaskCreate) -> Subtask:
        async with self.store.transaction() as tx:
            task = _editable_task(await self._task(tx, task_id))
            at = self._now()
            subtask = Subtask(
                id=new_id("sub"),
                task_id=task.id,
                title=_text(body.title, "title"),
                description=body.description,
                order=max((s.order for s in task.subtasks), default=-1) + 1,
                created_at=at,
                updated_at=at,
            )
            task.subtasks.append(subtask)
            _touch(task)
            tx.put(task)
            tx.emit(ev.SUBTASK_CREATED, {"taskId": task.id, "subtask": subtask}, task.project_id)
            tx.emit(ev.TASK_UPDATED, task, task.project_id)
        return subtask

    @staticmethod
    def _find_subtask(task: Task, subtask_id: str) -> int:
        check_id(subtask_id, "subtaskId")
        for index, subtask in enumerate(task.subtasks):
            if subtask.id == subtask_id:
                return index
        raise SubtaskNotFound(f"subtask {subtask_id} not found in task {task.id}")

    @staticmethod
    def _renumber(subtasks: list[Subtask]) -> list[Subtask]:
        """Keep ``order`` dense (0..n-1) and equal to the list position."""
        return [s if s.order == i else replace(s, order=i) for i, s in enumerate(subtasks)]

    async def patch_subtask(self, task_id: str, subtask_id: str, body: SubtaskPatch) -> Subtask:
        async with self.store.transaction() as tx:
            task = _editable_task(await self._task(tx, task_id))
            index = self._find_subtask(task, subtask_id)
            at = self._now()
            subtask = replace(
                task.subtasks[index], updated_at=later_than(task.subtasks[index].updated_at)
            )
            if body.title is not UNSET:
                subtask.title = _text(body.title, "title")
            if body.description is not UNSET:
                subtask.description = body.description
            if body.completed is not UNSET and body.completed != subtask.completed:
                subtask.completed = body.completed
                subtask.completed_at = at if body.completed else None
            del task.subtasks[index]
            if body.order is not UNSET:
                # ``order`` is the position to move to, clamped to the list.
                index = min(max(body.order, 0), len(task.subtasks))
            task.subtasks.insert(index, subtask)
            task.subtasks = self._renumber(task.subtasks)
            subtask = task.subtasks[index]
            _touch(task)
            tx.put(task)
            tx.emit(ev.SUBTASK_UPDATED, {"taskId": task.id, "subtask": subtask}, task.project_id)
            tx.emit(ev.TASK_UPDATED, task, task.project_id)
        return subtask

    async def delete_subtask(self, task_id: str, subtask_id: str) -> None:
        async with self.store.transaction() as tx:
            task = _editable_task(await self._task(tx, task_id))
            del task.subtasks[self._find_subtask(task, subtask_id)]
            task.subtasks = self._renumber(task.subtasks)
            _touch(task)
            tx.put(task)
            tx.emit(
                ev.SUBTASK_DELETED, {"taskId": task.id, "subtaskId": subtask_id}, task.project_id
            )
            tx.emit(ev.TASK_UPDATED, task, task.project_id)

    # -- sessions -----------------------------------------------------------

    async def list_sessions(self, query: SessionQuery) -> list[Session]:
        return await self.store.find_sessions(query)

    async def get_session(self, session_id: str) -> Session:
        return await self._session(self.store, session_id)

    async def _new_session(
        self,
        tx: Transaction,
        session: Session,
        tasks: list[Task],
        first_events: list[tuple[str, Any]],
    ) -> None:
        """Stage a new session linked to ``tasks`` and emit its events in order."""
        at = session.started_at
        for task in tasks:
            _attach(session, task, at)
            tx.put(task)
        tx.put(session)
        for event_type, data in first_events:
            tx.emit(event_type, data, session.project_id)
        tx.emit(ev.SESSION_CREATED, session, session.project_id)
        for task in tasks:
            _emit_link(tx, True, session, task, session_updated=False)

    async def create_session(self, body: SessionCreate) -> Session:
        if body.task_ids is not UNSET:
            task_ids = body.task_ids
        elif body.task_id is not UNSET:
            task_ids = [body.task_id]
        else:  # the seed's documented contract: name the tasks, even if none (``[]``)
            raise ValidationFailed("taskIds is required", field="taskIds")
        task_ids = _unique(check_ids(task_ids, "taskIds"))
        session_id = check_id(body.id, "id") if body.id is not None else new_id("sess")
        async with self.store.transaction() as tx:
            project = await self._project(tx, body.project_id)
            if await tx.get(Session, session_id) is not None:
                raise SessionExists(f"session {session_id} already exists")
            tasks = await self._tasks_of_project(tx, task_ids, project.id, "taskIds")
            at = self._birth()
            session = Session(
                id=session_id,
                project_id=project.id,
                name=body.name if body.name else _session_name(tasks, session_id),
                agent_id=body.agent_id,
                status=body.status,
                env=body.env,
                metadata=body.metadata,
                started_at=at,
                last_activity=at,
                completed_at=at if body.status in FINISHED_SESSION_STATUSES else None,
                hostname=body.hostname or socket.gethostname(),
                platform=body.platform or sys.platform,
            )
            await self._new_session(tx, session, tasks, [])
        return session

    async def patch_session(self, session_id: str, body: SessionPatch) -> Session:
        async with self.store.transaction() as tx:
            session = _editable_session(await self._session(tx, session_id))
            at = self._now()
            if body.status is not UNSET:
                _set_session_status(session, body.status, at)
            if body.name is not UNSET:
                session.name = body.name
            if body.agent_id is not UNSET:
                session.agent_id = body.agent_id
            if body.env is not UNSET:
                session.env.update(body.env)
            if body.metadata is not UNSET:
                session.metadata.update(body.metadata)
            if body.usage is not UNSET:
                session.usage = body.usage
            if body.agent_session_id is not UNSET:
                session.agent_session_id = body.agent_session_id
            if body.events is not UNSET:
                session.events.extend(
                    SessionEvent(id=new_id("evt"), timestamp=at, type=e.type, data=e.data)
                    for e in body.events
                )
            removed: list[Task] = []
            added: list[Task] = []
            if body.task_ids is not UNSET:
                wanted = _unique(check_ids(body.task_ids, "taskIds"))
                for task_id in [t for t in session.task_ids if t not in wanted]:
                    task = _editable_task(await self._task(tx, task_id))
                    _detach(session, task, at)
                    removed.append(task)
                new_ids = [t for t in wanted if t not in session.task_ids]
                for task in await self._tasks_of_project(
                    tx, new_ids, session.project_id, "taskIds"
                ):
                    _attach(session, task, at)
                    added.append(task)
            session.last_activity = later_than(session.last_activity)
            tx.put(session)
            tx.emit(ev.SESSION_UPDATED, session, session.project_id)
            for linked, tasks in ((False, removed), (True, added)):
                for task in tasks:
                    tx.put(task)
                    _emit_link(tx, linked, session, task)
        return session

    async def delete_session(self, session_id: str) -> None:
        async with self.store.transaction() as tx:
            session = _editable_session(await self._session(tx, session_id))
            tx.delete(session)
            tx.emit(ev.SESSION_DELETED, {"id": session.id}, session.project_id)
            at = self._now()
            for task_id in list(session.task_ids):
                stored = await tx.get(Task, task_id)
                if stored is None:
                    continue
                task = _editable_task(stored)
                _detach(session, task, at)
                tx.put(task)
                _emit_link(tx, False, session, task, session_updated=False)

    async def link(self, session_id: str, task_id: str) -> Session:
        """Link a session and a task (idempotent: an existing link changes nothing)."""
        async with self.store.transaction() as tx:
            session = _editable_session(await self._session(tx, session_id))
            if check_id(task_id, "taskId") in session.task_ids:
                return session
            (task,) = await self._tasks_of_project(tx, [task_id], session.project_id, "taskId")
            _attach(session, task, self._now())
            session.last_activity = later_than(session.last_activity)
            tx.put(session)
            tx.put(task)
            _emit_link(tx, True, session, task)
        return session

    async def unlink(self, session_id: str, task_id: str) -> Session:
        """Break a link (idempotent: a missing link changes nothing)."""
        async with self.store.transaction() as tx:
            session = _editable_session(await self._session(tx, session_id))
            if check_id(task_id, "taskId") not in session.task_ids:
                await self._task(tx, task_id)
                return session
            task = _editable_task(await self._task(tx, task_id))
            _detach(session, task, self._now())
            session.last_activity = later_than(session.last_activity)
            tx.put(session)
            tx.put(task)
            _emit_link(tx, False, session, task)
        return session

    # -- spawn --------------------------------------------------------------

    async def spawn(self, body: SpawnRequest, idempotency_key: str | None = None) -> Session:
        """Create a ``spawning`` session for a runner to open (SPEC section 6).

        The server only records the request and announces it; the runner opens the
        terminal and the CLI inside it does the rest. A retried request carrying the
        same ``idempotency_key`` (per project) gets the first session back instead
        of starting a second agent; the key is kept in the session's metadata, so
        this holds across restarts and server instances.
        """
        if body.project_id is None or body.project_id == "":
            raise MissingProjectId("projectId is required")
        if not isinstance(body.project_id, str):
            raise ValidationFailed("projectId must be a string", "projectId")
        task_ids = body.task_ids
        async with self.store.transaction() as tx:
            project = await self._project(tx, body.project_id)
            if (
                not isinstance(task_ids, list)
                or not task_ids
                or not all(is_valid_id(t) for t in task_ids)
            ):
                raise InvalidTaskIds("taskIds must be a non-empty list of task ids")
            task_ids = _unique(task_ids)
            tasks = []
            for task_id in task_ids:
                task = await tx.get(Task, task_id)
                if task is None:
                    raise SpawnTaskNotFound(f"task {task_id} not found")
                if task.project_id != project.id:
                    raise InvalidTaskIds(f"taskIds must be tasks of project {project.id}")
                tasks.append(_editable_task(task))
            active = await tx.find_sessions(SessionQuery(project_id=project.id, active=True))
            if idempotency_key is not None:
                for earlier in await tx.find_sessions(SessionQuery(project_id=project.id)):
                    if earlier.metadata.get("idempotencyKey") == idempotency_key:
                        return earlier
            if len(active) >= self.max_active_sessions:
                raise TooManySessions(
                    f"project {project.id} already has {len(active)} spawning or running "
                    f"sessions (the limit is {self.max_active_sessions}); wait for some to "
                    "finish or raise MAESTRO_MAX_ACTIVE_SESSIONS",
                    {"active": len(active), "limit": self.max_active_sessions},
                )
            check_ids(body.skills, "skills")
            if body.spawned_by is not None:
                check_id(body.spawned_by, "spawnedBy")
            session_id = new_id("sess")
            skills = _unique(body.skills)
            env = {
                "MAESTRO_SESSION_ID": session_id,
                "MAESTRO_PROJECT_ID": project.id,
                "MAESTRO_TASK_IDS": ",".join(task_ids),
                "MAESTRO_SERVER_URL": self.server_url,
                "MAESTRO_SKILLS": ",".join(skills),
                "MAESTRO_ROLE": body.role,
            }
            at = self._birth()
            session = Session(
                id=session_id,
                project_id=project.id,
                name=body.session_name or _session_name(tasks, session_id),
                status="spawning",
                env=env,
                metadata={
                    "skills": skills,
                    "role": body.role,
                    "agent": body.agent,
                    "model": body.model,
                    "spawnSource": body.spawn_source,
                    "spawnedBy": body.spawned_by,
                    "spawnReason": body.spawn_reason,
                    "context": body.context,
                    **({"idempotencyKey": idempotency_key} if idempotency_key else {}),
                },
                started_at=at,
                last_activity=at,
                hostname=socket.gethostname(),
                platform=sys.platform,
            )
            request = {
                "session": session,
                "projectId": project.id,
                "taskIds": task_ids,
                "skillIds": skills,
                "name": session.name,
                "role": body.role,
                "command": f"maestro {body.role} init",
                "cwd": project.working_dir,
                "env": env,
            }
            await self._new_session(tx, session, tasks, [(ev.SESSION_SPAWN_REQUEST, request)])
        return session
