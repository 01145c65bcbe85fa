"""``Workspace``: projects, tasks, subtasks and sessions, and the rules between
them, each mutation one store transaction (see the package's docstring).
Approvals have their own module (``service.approvals``); a session's go with it
here, and its ``attention`` is kept here when a PATCH touches it."""

from __future__ import annotations

import socket
import sys
from collections import deque
from collections.abc import Iterable, Sequence
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
    SessionNotFinished,
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
    Subtask,
    Task,
    TimelineEvent,
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
from maestro.domain.responses import ProjectUsage, TaskUsage
from maestro.service.approvals import delete_approvals, has_pending_approvals
from maestro.service.links import attach, attach_all, detach, emit_link
from maestro.service.spawning import agent_and_model, session_env, spawn_metadata, spawn_request
from maestro.service.versions import (
    descendants,
    patched_session,
    patched_subtask,
    sent,
    session_name,
    text,
    timeline,
    total,
    touched,
    unique,
    with_activity,
    with_attention,
    with_task_status,
    with_timeline,
    without_dependencies,
)
from maestro.store.base import ApprovalQuery, SessionQuery, Store, TaskQuery, Transaction

PROJECT_SETTINGS = tuple(f.name for f in msgspec.structs.fields(ProjectUpdate) if f.name != "name")
"""What a project update may set besides its (checked and trimmed) name."""


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
        self, tx: Transaction, task_ids: Sequence[str], project_id: str, field: str
    ) -> list[Task]:
        """Existing tasks of one project, in the order given."""
        tasks = []
        for task_id in task_ids:
            task = await self._task(tx, task_id, field)
            if task.project_id != project_id:
                raise ValidationFailed(
                    f"{field} must name tasks of project {project_id} ({task_id} is not)",
                    field=field,
                )
            tasks.append(task)
        return tasks

    # -- projects -----------------------------------------------------------

    async def list_projects(self) -> list[Project]:
        return await self.store.list_projects()

    async def get_project(self, project_id: str) -> Project:
        return await self._project(self.store, project_id)

    async def create_project(self, body: ProjectCreate) -> Project:
        name = text(body.name, "name")
        async with self.store.transaction() as tx:
            # Born inside the transaction, so creation order is commit order.
            at = self._birth()
            project = Project(
                id=new_id("proj"),
                name=name,
                **{setting: getattr(body, setting) for setting in PROJECT_SETTINGS},
                created_at=at,
                updated_at=at,
            )
            tx.put(project)
            tx.emit(ev.PROJECT_CREATED, project, project.id)
        return project

    async def update_project(self, project_id: str, body: ProjectUpdate) -> Project:
        async with self.store.transaction() as tx:
            project = await self._project(tx, project_id)
            changes = sent(body, PROJECT_SETTINGS)
            if body.name is not UNSET:
                changes["name"] = text(body.name, "name")
            project = replace(project, updated_at=later_than(project.updated_at), **changes)
            tx.put(project)
            tx.emit(ev.PROJECT_UPDATED, project, project.id)
        return project

    async def project_usage(self, project_id: str) -> ProjectUsage:
        """What every session of the project used, summed."""
        project = await self._project(self.store, project_id)
        sessions = await self.store.find_sessions(SessionQuery(project_id=project.id))
        count, totals, models = total(s.usage for s in sessions if s.usage is not None)
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
            # None should be left (they go with their sessions); if a damaged store
            # kept some, they go with the project, like its sessions' would.
            await delete_approvals(tx, ApprovalQuery(project_id=project.id))
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
        tree = descendants(root, project_tasks)
        usages = []
        for session_id in unique([s for task in tree for s in task.session_ids]):
            session = await self.store.get(Session, session_id)
            if session is not None and session.usage is not None:
                usages.append(session.usage)
        count, totals, models = total(usages)
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

    async def _check_dependencies(
        self, tx: Transaction, task: Task, ids: list[str]
    ) -> tuple[str, ...]:
        """``ids``, once each: tasks of the task's project that do not, through
        their own dependencies, lead back to the task."""
        wanted = unique(ids)
        await self._tasks_of_project(tx, wanted, task.project_id, "dependencies")
        added = [d for d in wanted if d not in task.dependencies]
        if cycle := await self._dependency_cycle(tx, task.id, added):
            raise ValidationFailed(
                f"dependencies would make a cycle: {' → '.join(cycle)}",
                "dependencies",
                cycle=cycle,
            )
        return wanted

    @staticmethod
    async def _dependency_cycle(
        tx: Transaction, task_id: str, added: Sequence[str]
    ) -> list[str] | None:
        """The shortest cycle that depending on ``added`` would close through the
        task (``[task, added dependency, ..., task]``), or None.

        Only what the added dependencies lead to is read: the graph had no cycle
        before (each earlier change was checked), so a new one goes through a new
        edge. Breadth first, so the cycle named is a shortest one."""
        came_from: dict[str, str | None] = dict.fromkeys(added)
        queue = deque(added)
        while queue:
            current = queue.popleft()
            if current == task_id:
                path: list[str] = []
                step: str | None = current
                while step is not None:
                    path.append(step)
                    step = came_from[step]
                return [task_id, *reversed(path)]
            stored = await tx.get(Task, current)
            for dependency in stored.dependencies if stored is not None else ():
                if dependency not in came_from:
                    came_from[dependency] = current
                    queue.append(dependency)
        return None

    async def create_task(self, body: TaskCreate) -> Task:
        title = text(body.title, "title")
        async with self.store.transaction() as tx:
            # Born inside the transaction, so creation order is commit order.
            at = self._birth()
            task = Task(
                id=new_id("task"),
                project_id=body.project_id,
                parent_id=body.parent_id,
                title=title,
                description=body.description,
                initial_prompt=body.initial_prompt,
                status=body.status,
                priority=body.priority,
                skill_ids=unique(body.skill_ids),
                agent_ids=unique(body.agent_ids),
                auto_start=body.auto_start,
                timeline=(timeline("created", at, "Task created"),),
                created_at=at,
                updated_at=at,
                started_at=at if body.status == "in_progress" else None,
                completed_at=at if body.status == "completed" else None,
            )
            await self._project(tx, task.project_id)
            await self._check_parent(tx, task, body.parent_id)
            # No cycle to look for: nothing depends on a task not yet made.
            dependencies = unique(body.dependencies)
            await self._tasks_of_project(tx, dependencies, task.project_id, "dependencies")
            task = replace(task, dependencies=dependencies)
            tx.put(task)
            tx.emit(ev.TASK_CREATED, task, task.project_id)
        return task

    async def patch_task(self, task_id: str, body: TaskPatch) -> Task:
        async with self.store.transaction() as tx:
            task = await self._task(tx, task_id, "id")
            at = self._now()
            task = await self._patched_task(tx, task, body, at)
            removed: list[Session] = []
            added: list[Session] = []
            if body.session_ids is not UNSET:
                task, removed, added = await self._relink_task(tx, task, body.session_ids, at)
            task = touched(task)
            tx.put(task)
            tx.emit(ev.TASK_UPDATED, task, task.project_id)
            for linked, sessions in ((False, removed), (True, added)):
                for session in sessions:
                    session = with_activity(session)
                    tx.put(session)
                    emit_link(tx, linked, session, task)
        return task

    async def _patched_task(self, tx: Transaction, task: Task, body: TaskPatch, at: int) -> Task:
        """The task with the fields ``body`` sets, checked, its links aside; status
        changes and timeline entries are appended to the timeline in that order."""
        changes: dict[str, Any] = {}
        if body.title is not UNSET:
            changes["title"] = text(body.title, "title")
        changes.update(sent(body, ("description", "initial_prompt", "priority", "auto_start")))
        if body.skill_ids is not UNSET:
            changes["skill_ids"] = unique(body.skill_ids)
        if body.agent_ids is not UNSET:
            changes["agent_ids"] = unique(body.agent_ids)
        if body.parent_id is not UNSET:
            await self._check_parent(tx, task, body.parent_id)
            changes["parent_id"] = body.parent_id
        if body.dependencies is not UNSET:
            changes["dependencies"] = await self._check_dependencies(tx, task, body.dependencies)
        task = replace(task, **changes)
        if body.status is not UNSET:
            task = with_task_status(task, body.status, at)
        if body.timeline is not UNSET:
            task = with_timeline(task, *self._timeline_entries(body.timeline, at))
        return task

    async def _relink_task(
        self, tx: Transaction, task: Task, session_ids: list[str], at: int
    ) -> tuple[Task, list[Session], list[Session]]:
        """Link the task to exactly ``session_ids``: the task, then the sessions
        unlinked from it and those linked to it."""
        wanted = unique(session_ids)
        removed = []
        for session_id in [s for s in task.session_ids if s not in wanted]:
            session, task = detach(await self._session(tx, session_id), task, at)
            removed.append(session)
        added = []
        for session_id in [s for s in wanted if s not in task.session_ids]:
            session = await self._session(tx, session_id)
            if session.project_id != task.project_id:
                raise ValidationFailed(
                    f"sessionIds must name sessions of project {task.project_id}",
                    "sessionIds",
                )
            session, task = attach(session, task, at)
            added.append(session)
        return task, removed, added

    @staticmethod
    def _timeline_entries(entries: list[TimelineAppend], at: int) -> list[TimelineEvent]:
        return [timeline(e.type, at, text(e.message, "message"), e.session_id) for e in entries]

    async def append_timeline(self, task_id: str, body: TimelineAppend) -> Task:
        async with self.store.transaction() as tx:
            task = await self._task(tx, task_id, "id")
            task = with_timeline(task, *self._timeline_entries([body], self._now()))
            task = touched(task)
            tx.put(task)
            tx.emit(ev.TASK_UPDATED, task, task.project_id)
        return task

    async def delete_task(self, task_id: str, cascade: bool = False) -> None:
        async with self.store.transaction() as tx:
            root = await self._task(tx, task_id, "id")
            doomed = await self._tasks_to_delete(tx, root, cascade)
            for task in doomed:
                tx.delete(task)
                tx.emit(ev.TASK_DELETED, {"id": task.id}, task.project_id)
            at = self._now()
            await self._unlink_sessions(tx, doomed)
            # Nothing may keep depending on a task that no longer exists.
            doomed_ids = {task.id for task in doomed}
            for other in await tx.find_tasks(TaskQuery(project_id=root.project_id)):
                if doomed_ids.intersection(other.dependencies):
                    kept = without_dependencies(other, doomed_ids, at)
                    tx.put(kept)
                    tx.emit(ev.TASK_UPDATED, kept, kept.project_id)

    @staticmethod
    async def _tasks_to_delete(tx: Transaction, root: Task, cascade: bool) -> list[Task]:
        """``root`` and, with ``cascade``, its descendants, breadth first; without
        it a task with children is refused."""
        doomed = [root]
        for task in doomed:  # grows as descendants are found: breadth first
            children = await tx.find_tasks(TaskQuery(project_id=task.project_id, parent_id=task.id))
            if children and not cascade:
                raise TaskHasChildren(
                    f"task {task.id} has {len(children)} child task(s); "
                    "delete them first or pass cascade=true",
                    {"children": [c.id for c in children]},
                )
            doomed.extend(children)
        return doomed

    @staticmethod
    async def _unlink_sessions(tx: Transaction, doomed: list[Task]) -> None:
        """Unlink the sessions of the ``doomed`` tasks, link by link: each
        ``session:updated`` shows the session as it is at its place in the stream
        (docs/events.md), and the last version is the one stored."""
        sessions: dict[str, Session] = {}
        for task in doomed:
            for session_id in task.session_ids:
                session = sessions.get(session_id) or await tx.get(Session, session_id)
                if session is None:  # a damaged store: nothing to unlink
                    continue
                kept = tuple(t for t in session.task_ids if t != task.id)
                session = sessions[session_id] = with_activity(replace(session, task_ids=kept))
                tx.put(session)
                emit_link(tx, False, session, task, task_updated=False)

    # -- subtasks -----------------------------------------------------------

    async def list_subtasks(self, task_id: str) -> list[Subtask]:
        return list((await self._task(self.store, task_id)).subtasks)

    async def create_subtask(self, task_id: str, body: SubtaskCreate) -> Subtask:
        async with self.store.transaction() as tx:
            task = await self._task(tx, task_id)
            at = self._now()
            subtask = Subtask(
                id=new_id("sub"),
                task_id=task.id,
                title=text(body.title, "title"),
                description=body.description,
                order=max((s.order for s in task.subtasks), default=-1) + 1,
                created_at=at,
                updated_at=at,
            )
            task = touched(replace(task, subtasks=(*task.subtasks, subtask)))
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
    def _renumber(subtasks: Iterable[Subtask]) -> tuple[Subtask, ...]:
        """Keep ``order`` dense (0..n-1) and equal to the position."""
        return tuple(s if s.order == i else replace(s, order=i) for i, s in enumerate(subtasks))

    async def patch_subtask(self, task_id: str, subtask_id: str, body: SubtaskPatch) -> Subtask:
        async with self.store.transaction() as tx:
            task = await self._task(tx, task_id)
            index = self._find_subtask(task, subtask_id)
            subtasks = list(task.subtasks)
            subtask = patched_subtask(subtasks.pop(index), body, self._now())
            if body.order is not UNSET:
                # ``order`` is the position to move to, clamped to the list.
                index = min(max(body.order, 0), len(subtasks))
            subtasks.insert(index, subtask)
            task = touched(replace(task, subtasks=self._renumber(subtasks)))
            subtask = task.subtasks[index]
            tx.put(task)
            tx.emit(ev.SUBTASK_UPDATED, {"taskId": task.id, "subtask": subtask}, task.project_id)
            tx.emit(ev.TASK_UPDATED, task, task.project_id)
        return subtask

    async def delete_subtask(self, task_id: str, subtask_id: str) -> None:
        async with self.store.transaction() as tx:
            task = await self._task(tx, task_id)
            subtasks = list(task.subtasks)
            del subtasks[self._find_subtask(task, subtask_id)]
            task = touched(replace(task, subtasks=self._renumber(subtasks)))
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

    @staticmethod
    def _stage_new_session(
        tx: Transaction,
        session: Session,
        tasks: list[Task],
        first_events: list[tuple[str, Any]],
    ) -> None:
        """Stage a new session and the ``tasks`` linked to it (both sides linked
        already), and emit their events in order."""
        for task in tasks:
            tx.put(task)
        tx.put(session)
        for event_type, data in first_events:
            tx.emit(event_type, data, session.project_id)
        tx.emit(ev.SESSION_CREATED, session, session.project_id)
        for task in tasks:
            emit_link(tx, True, session, task, session_updated=False)

    async def create_session(self, body: SessionCreate) -> Session:
        if body.task_ids is not UNSET:
            task_ids = body.task_ids
        elif body.task_id is not UNSET:
            task_ids = [body.task_id]
        else:  # the seed's documented contract: name the tasks, even if none (``[]``)
            raise ValidationFailed("taskIds is required", field="taskIds")
        unique_ids = unique(task_ids)
        session_id = body.id if body.id is not None else new_id("sess")
        async with self.store.transaction() as tx:
            project = await self._project(tx, body.project_id)
            if await tx.get(Session, session_id) is not None:
                raise SessionExists(f"session {session_id} already exists")
            tasks = await self._tasks_of_project(tx, unique_ids, project.id, "taskIds")
            at = self._birth()
            session = Session(
                id=session_id,
                project_id=project.id,
                name=body.name if body.name else session_name(tasks, session_id),
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
            session = with_attention(session, pending_approvals=False)
            session, tasks = attach_all(session, tasks, at)
            self._stage_new_session(tx, session, tasks, [])
        return session

    async def patch_session(self, session_id: str, body: SessionPatch) -> Session:
        async with self.store.transaction() as tx:
            session = await self._session(tx, session_id)
            at = self._now()
            session = patched_session(session, body, at)
            if body.status is not UNSET or body.attention is not UNSET:
                pending = await has_pending_approvals(tx, session)
                session = with_attention(session, pending, body.attention)
            removed: list[Task] = []
            added: list[Task] = []
            if body.task_ids is not UNSET:
                session, removed, added = await self._relink_session(tx, session, body.task_ids, at)
            session = with_activity(session)
            tx.put(session)
            tx.emit(ev.SESSION_UPDATED, session, session.project_id)
            for linked, tasks in ((False, removed), (True, added)):
                for task in tasks:
                    tx.put(task)
                    emit_link(tx, linked, session, task)
        return session

    async def _relink_session(
        self, tx: Transaction, session: Session, task_ids: list[str], at: int
    ) -> tuple[Session, list[Task], list[Task]]:
        """Link the session to exactly ``task_ids``: the session, then the tasks
        unlinked from it and those linked to it."""
        wanted = unique(task_ids)
        removed = []
        for task_id in [t for t in session.task_ids if t not in wanted]:
            session, task = detach(session, await self._task(tx, task_id), at)
            removed.append(task)
        new_ids = [t for t in wanted if t not in session.task_ids]
        tasks = await self._tasks_of_project(tx, new_ids, session.project_id, "taskIds")
        session, added = attach_all(session, tasks, at)
        return session, removed, added

    async def delete_session(self, session_id: str) -> None:
        async with self.store.transaction() as tx:
            session = await self._session(tx, session_id)
            tx.delete(session)
            tx.emit(ev.SESSION_DELETED, {"id": session.id}, session.project_id)
            # Its approvals go with it, without events of their own: session:deleted
            # says it (docs/events.md).
            await delete_approvals(tx, ApprovalQuery(session_id=session.id))
            at = self._now()
            for task_id in session.task_ids:
                stored = await tx.get(Task, task_id)
                if stored is None:
                    continue
                _, task = detach(session, stored, at)
                tx.put(task)
                emit_link(tx, False, session, task, session_updated=False)

    async def link(self, session_id: str, task_id: str) -> Session:
        """Link a session and a task (idempotent: an existing link changes nothing)."""
        async with self.store.transaction() as tx:
            session = await self._session(tx, session_id)
            if check_id(task_id, "taskId") in session.task_ids:
                return session
            (task,) = await self._tasks_of_project(tx, [task_id], session.project_id, "taskId")
            session, task = attach(session, task, self._now())
            session = with_activity(session)
            tx.put(session)
            tx.put(task)
            emit_link(tx, True, session, task)
        return session

    async def unlink(self, session_id: str, task_id: str) -> Session:
        """Break a link (idempotent: a missing link changes nothing)."""
        async with self.store.transaction() as tx:
            session = await self._session(tx, session_id)
            if check_id(task_id, "taskId") not in session.task_ids:
                await self._task(tx, task_id)
                return session
            task = await self._task(tx, task_id)
            session, task = detach(session, task, self._now())
            session = with_activity(session)
            tx.put(session)
            tx.put(task)
            emit_link(tx, False, session, task)
        return session

    # -- spawn --------------------------------------------------------------

    async def _resumable(self, tx: Transaction, session_id: str, project_id: str) -> Session:
        """The finished session of this project a follow-up resumes."""
        earlier = await tx.get(Session, session_id)
        if earlier is None:
            raise SessionNotFound(f"session {session_id} not found (followUpOf)")
        if earlier.project_id != project_id:
            raise ValidationFailed(
                f"followUpOf must be a session of project {project_id}", "followUpOf"
            )
        if earlier.status not in FINISHED_SESSION_STATUSES:
            raise SessionNotFinished(
                f"session {session_id} is still {earlier.status}; follow up once it has "
                "completed or failed"
            )
        if not earlier.agent_session_id:
            raise ValidationFailed(
                f"session {session_id} recorded no agent session to resume (its agent never "
                "started, or is not one Maestro can resume); spawn a new session instead",
                "followUpOf",
            )
        return earlier

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
            task_ids = unique(task_ids)
            tasks = []
            for task_id in task_ids:
                task = await tx.get(Task, task_id)
                if task is None:
                    raise SpawnTaskNotFound(f"task {task_id} not found")
                if task.project_id != project.id:
                    raise InvalidTaskIds(f"taskIds must be tasks of project {project.id}")
                tasks.append(task)
            if body.follow_up_of is not None:
                await self._resumable(tx, body.follow_up_of, project.id)
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
            skills = unique(body.skills)
            agent, model = agent_and_model(body, project)
            env = session_env(session_id, project.id, task_ids, self.server_url, skills, body.role)
            at = self._birth()
            session = Session(
                id=session_id,
                project_id=project.id,
                name=body.session_name or session_name(tasks, session_id),
                status="spawning",
                env=env,
                metadata=spawn_metadata(body, skills, agent, model, idempotency_key),
                started_at=at,
                last_activity=at,
                hostname=socket.gethostname(),
                platform=sys.platform,
            )
            session, tasks = attach_all(session, tasks, at)
            request = spawn_request(session, project, skills, body.role)
            self._stage_new_session(tx, session, tasks, [(ev.SESSION_SPAWN_REQUEST, request)])
        return session
