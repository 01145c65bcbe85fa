"""The JSON store's committed state in memory, with the indexes its filtered
queries use (so a list costs O(result), not O(store))."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import msgspec

from maestro.domain.models import Approval, Project, Runner, Session, Task, Token
from maestro.store.base import (
    AnyEntity,
    ApprovalQuery,
    E,
    RunnerQuery,
    SessionQuery,
    TaskQuery,
)

__all__ = ["AnyEntity", "Index", "Memory"]


class Index:
    """key -> ids, insertion-ordered, so a filtered list costs O(result)."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, dict[str, None]] = {}

    def add(self, key: Hashable, entity_id: str) -> None:
        self._ids.setdefault(key, {})[entity_id] = None

    def discard(self, key: Hashable, entity_id: str) -> None:
        bucket = self._ids.get(key)
        if bucket is not None:
            bucket.pop(entity_id, None)
            if not bucket:
                del self._ids[key]

    def get(self, key: Hashable) -> dict[str, None]:
        return self._ids.get(key, {})


class Memory:
    """The committed state and its indexes."""

    def __init__(self) -> None:
        self.projects: dict[str, Project] = {}
        self.tasks: dict[str, Task] = {}
        self.sessions: dict[str, Session] = {}
        self.tasks_by_project = Index()
        self.tasks_by_status = Index()
        self.tasks_by_project_status = Index()
        self.tasks_by_parent = Index()
        self.tasks_by_project_parent = Index()
        self.sessions_by_project = Index()
        self.sessions_by_status = Index()
        self.approvals: dict[str, Approval] = {}
        self.approvals_by_project = Index()
        self.approvals_by_session = Index()
        # The expiry sweep reads the pending bucket every second: it holds only
        # what is waiting for a person, however many approvals were ever decided.
        self.approvals_by_status = Index()
        # A handful of runners: the lease sweep reads the active ones each second.
        self.runners: dict[str, Runner] = {}
        self.runners_by_status = Index()
        # One per claimed session, and the runner tokens; looked up by id.
        self.tokens: dict[str, Token] = {}
        self._tables: dict[type, Any] = {
            Project: self.projects,
            Task: self.tasks,
            Session: self.sessions,
            Approval: self.approvals,
            Runner: self.runners,
            Token: self.tokens,
        }

    def table(self, kind: type[E]) -> dict[str, E]:
        return self._tables[kind]  # type: ignore[no-any-return]

    def put(self, entity: AnyEntity) -> None:
        self.remove(type(entity), entity.id)
        if isinstance(entity, Task):
            self.tasks[entity.id] = entity
            self.tasks_by_project.add(entity.project_id, entity.id)
            self.tasks_by_status.add(entity.status, entity.id)
            self.tasks_by_project_status.add((entity.project_id, entity.status), entity.id)
            self.tasks_by_parent.add(entity.parent_id, entity.id)
            self.tasks_by_project_parent.add((entity.project_id, entity.parent_id), entity.id)
        elif isinstance(entity, Session):
            self.sessions[entity.id] = entity
            self.sessions_by_project.add(entity.project_id, entity.id)
            self.sessions_by_status.add(entity.status, entity.id)
        elif isinstance(entity, Approval):
            self.approvals[entity.id] = entity
            self.approvals_by_project.add(entity.project_id, entity.id)
            self.approvals_by_session.add(entity.session_id, entity.id)
            self.approvals_by_status.add(entity.status, entity.id)
        elif isinstance(entity, Runner):
            self.runners[entity.id] = entity
            self.runners_by_status.add(entity.status, entity.id)
        elif isinstance(entity, Token):
            self.tokens[entity.id] = entity
        else:
            self.projects[entity.id] = entity

    def remove(self, kind: type[AnyEntity], entity_id: str) -> None:
        if kind is Task:
            task = self.tasks.pop(entity_id, None)
            if task is not None:
                self.tasks_by_project.discard(task.project_id, entity_id)
                self.tasks_by_status.discard(task.status, entity_id)
                self.tasks_by_project_status.discard((task.project_id, task.status), entity_id)
                self.tasks_by_parent.discard(task.parent_id, entity_id)
                self.tasks_by_project_parent.discard((task.project_id, task.parent_id), entity_id)
        elif kind is Session:
            session = self.sessions.pop(entity_id, None)
            if session is not None:
                self.sessions_by_project.discard(session.project_id, entity_id)
                self.sessions_by_status.discard(session.status, entity_id)
        elif kind is Approval:
            approval = self.approvals.pop(entity_id, None)
            if approval is not None:
                self.approvals_by_project.discard(approval.project_id, entity_id)
                self.approvals_by_session.discard(approval.session_id, entity_id)
                self.approvals_by_status.discard(approval.status, entity_id)
        elif kind is Runner:
            runner = self.runners.pop(entity_id, None)
            if runner is not None:
                self.runners_by_status.discard(runner.status, entity_id)
        elif kind is Token:
            self.tokens.pop(entity_id, None)
        else:
            self.projects.pop(entity_id, None)

    def task_candidates(self, query: TaskQuery) -> Iterable[str]:
        """The smallest index bucket that covers the query (exact filtering follows)."""
        options: list[Iterable[str]] = []
        if query.project_id is not None and query.status is not None:
            options.append(self.tasks_by_project_status.get((query.project_id, query.status)))
        elif query.project_id is not None:
            options.append(self.tasks_by_project.get(query.project_id))
        elif query.status is not None:
            options.append(self.tasks_by_status.get(query.status))
        if not isinstance(query.parent_id, msgspec.UnsetType):
            if query.project_id is not None:
                key: Hashable = (query.project_id, query.parent_id)
                options.append(self.tasks_by_project_parent.get(key))
            else:
                options.append(self.tasks_by_parent.get(query.parent_id))
        if query.session_id is not None:
            session = self.sessions.get(query.session_id)
            options.append(session.task_ids if session else ())
        if not options:
            return self.tasks
        return min(options, key=lambda ids: len(ids))  # type: ignore[arg-type]

    def session_candidates(self, query: SessionQuery) -> Iterable[str]:
        options: list[Iterable[str]] = []
        if query.project_id is not None:
            options.append(self.sessions_by_project.get(query.project_id))
        if query.status is not None:
            options.append(self.sessions_by_status.get(query.status))
        elif query.active:
            options.append(
                [*self.sessions_by_status.get("spawning"), *self.sessions_by_status.get("running")]
            )
        if query.task_id is not None:
            task = self.tasks.get(query.task_id)
            options.append(task.session_ids if task else ())
        if not options:
            return self.sessions
        return min(options, key=lambda ids: len(ids))  # type: ignore[arg-type]

    def approval_candidates(self, query: ApprovalQuery) -> Iterable[str]:
        options: list[Iterable[str]] = []
        if query.project_id is not None:
            options.append(self.approvals_by_project.get(query.project_id))
        if query.session_id is not None:
            options.append(self.approvals_by_session.get(query.session_id))
        if query.status is not None:
            options.append(self.approvals_by_status.get(query.status))
        if not options:
            return self.approvals
        return min(options, key=lambda ids: len(ids))  # type: ignore[arg-type]

    def runner_candidates(self, query: RunnerQuery) -> Iterable[str]:
        if query.status is not None:
            return self.runners_by_status.get(query.status)
        return self.runners
