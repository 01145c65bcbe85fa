"""Dependency-gated dispatch: the runner starts a worker for each auto-start task
whose dependencies are all completed.

A task is dispatched when it has ``autoStart``, is ``pending``, has no active
session, every task it depends on is ``completed``, it was never dispatched
before (one automatic attempt: a dispatched session that fails leaves the task
to a person, rather than starting agents in a loop), and its project has fewer
active dispatched sessions than its ``maxConcurrent``. A dependency counts as
done once no session of it is active any more, so its branch holds all its
agent's work when the dependent's worktree merges it.

The server stays a store; the decision is made here, by every runner that
follows the server. Several runners deciding at once spawn each task once: the
spawn carries ``Idempotency-Key: dispatch-<task id>-1``, and the server gives
the second request the first one's session.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from maestro.client import ApiError, MaestroClient
from maestro.domain.models import Project, Session, Task
from maestro.domain.vocabulary import FINISHED_SESSION_STATUSES

log = logging.getLogger("maestro.runner")

DISPATCH = "dispatch"


@dataclass(frozen=True)
class Decision:
    task: Task
    reason: str


def idempotency_key(task_id: str, attempt: int = 1) -> str:
    return f"dispatch-{task_id}-{attempt}"


def due(project: Project, tasks: Sequence[Task], sessions: Sequence[Session]) -> list[Decision]:
    """The project's tasks to dispatch now, oldest first, within its budget."""
    active = [s for s in sessions if s.status not in FINISHED_SESSION_STATUSES]
    busy = {task_id for s in active for task_id in s.task_ids}
    dispatched: defaultdict[str, int] = defaultdict(int)
    for session in sessions:
        if session.metadata.get("spawnSource") == DISPATCH:
            for task_id in session.task_ids:
                dispatched[task_id] += 1
    limit = project.max_concurrent
    budget = limit - sum(1 for s in active if s.metadata.get("spawnSource") == DISPATCH)
    decisions = []
    for task in tasks:
        if budget <= 0:
            break
        if not task.auto_start or task.status != "pending":
            continue
        if task.id in busy or dispatched[task.id]:
            continue
        # A dependency is done when it is completed and its sessions have ended:
        # its agent's work is then all on its branch (worker init commits what
        # the agent left before it marks the session finished).
        if waiting_on(task, tasks) or busy.intersection(task.dependencies):
            continue
        done = ", ".join(task.dependencies)
        reason = f"dependencies completed: {done}" if done else "auto-start"
        decisions.append(Decision(task, reason))
        budget -= 1
    return decisions


def waiting_on(task: Task, tasks: Sequence[Task]) -> list[str]:
    """The dependencies an auto-start task still waits for (not completed)."""
    by_id = {t.id: t for t in tasks}
    return [
        d for d in task.dependencies if (by_id.get(d) is None or by_id[d].status != "completed")
    ]


class Dispatcher:
    """Runs ``due`` over every project and spawns what is due."""

    def __init__(self, client: MaestroClient) -> None:
        self.client = client
        self.spawned: list[str] = []

    def run_once(self) -> list[str]:
        """One pass; the ids of the sessions spawned (or found already spawned)."""
        started = []
        for project in self.client.list_projects():
            tasks = self.client.list_tasks(project_id=project.id)
            if not any(t.auto_start for t in tasks):
                continue
            sessions = self.client.list_sessions(project_id=project.id)
            for decision in due(project, tasks, sessions):
                session_id = self._spawn(project, decision)
                if session_id is not None:
                    started.append(session_id)
        self.spawned += started
        return started

    def _spawn(self, project: Project, decision: Decision) -> str | None:
        body = {
            "projectId": project.id,
            "taskIds": [decision.task.id],
            "spawnSource": DISPATCH,
            "spawnReason": decision.reason,
        }
        try:
            spawned = self.client.spawn(body, idempotency_key=idempotency_key(decision.task.id))
        except ApiError as error:
            log.warning("could not dispatch task %s: %s", decision.task.id, error.message)
            return None
        log.info(
            "dispatched task %s (%s) as session %s: %s",
            decision.task.id,
            decision.task.title,
            spawned.session_id,
            decision.reason,
        )
        return spawned.session_id
