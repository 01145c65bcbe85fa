"""What each kind of token may do: one rule per endpoint (``Rule``), decided here.

The admin token, and every request when the server requires no token, may do
anything. The others:

- a **session** token (the agent's) reads its project; changes its own session
  (status, events, metadata, activity, the tasks linked to it), its tasks and
  the tasks under them (status, timeline, subtasks, child tasks); files
  approvals for itself. An orchestrator's may also spawn sessions in its
  project. It may not delete anything, decide an approval (an agent approving
  its own request would make approvals pointless), create or change projects,
  or touch runners.
- a **runner** token reads everything; registers, heartbeats and deletes the
  runners of its name, and claims sessions for them; updates a session its
  runners claimed (a runner marks one failed when it cannot open its terminal);
  and makes the dispatcher's spawns: a worker for auto-start tasks
  (``agents.runner.dispatch``).

Anything else is 403 ``FORBIDDEN``, naming the token's scope. An id that names
nothing is answered 404 as it would be for the admin; a session token cannot
tell whether an id of another project exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, auto
from typing import Any

from maestro.domain.errors import (
    ApprovalNotFound,
    Forbidden,
    ProjectNotFound,
    RunnerNotFound,
    SessionNotFound,
    TaskNotFound,
)
from maestro.domain.ids import check_id
from maestro.domain.models import Approval, Project, Runner, Session, Task
from maestro.domain.principals import Principal
from maestro.domain.requests import (
    RunnerRegister,
    SessionClaim,
    SessionPatch,
    SpawnRequest,
    TaskCreate,
)
from maestro.store.base import Store

# A task's parent chain is walked to find whether it lies under a session's
# tasks; deeper than this is a loop in bad data, not a real tree.
MAX_TASK_DEPTH = 100


class Rule(Enum):
    """Who may call an endpoint (``server.endpoint.Endpoint.access``)."""

    ANY = auto()  # any token: /openapi.json, skills
    ADMIN = auto()  # the admin token only
    LIST = auto()  # lists: a session's are narrowed to its project (server.http.project_filter)
    READ_PROJECT = auto()  # path ``id``: a project
    READ_TASK = auto()  # path ``id`` or ``taskId``: a task
    READ_SESSION = auto()  # path ``id``: a session
    READ_APPROVAL = auto()  # path ``id``: an approval
    READ_RUNNERS = auto()  # the runners: admin and runner tokens
    CHANGE_TASK = auto()  # path ``id`` or ``taskId``: a task the session may change
    CREATE_TASK = auto()  # a child task under the session's tasks
    CHANGE_SESSION = auto()  # path ``id``: the session itself
    UPDATE_SESSION = auto()  # path ``id``: the session itself, or one its runners claimed
    LINK_TASK = auto()  # path ``id``: the session itself; ``taskId``: one of its tasks
    SPAWN = auto()  # an orchestrator's, in its project; a runner's dispatch
    REGISTER_RUNNER = auto()  # a runner of the token's name
    RUNNER_ITSELF = auto()  # path ``id``: a runner of the token's name
    CLAIM = auto()  # for a runner of the token's name

    @property
    def needs_body(self) -> bool:
        return self in _BODY_RULES


_BODY_RULES = frozenset(
    {Rule.CREATE_TASK, Rule.UPDATE_SESSION, Rule.SPAWN, Rule.REGISTER_RUNNER, Rule.CLAIM}
)
_SESSION_RULES = frozenset(
    {
        Rule.ANY,
        Rule.LIST,
        Rule.READ_PROJECT,
        Rule.READ_TASK,
        Rule.READ_SESSION,
        Rule.READ_APPROVAL,
        Rule.CHANGE_TASK,
        Rule.CREATE_TASK,
        Rule.CHANGE_SESSION,
        Rule.UPDATE_SESSION,
        Rule.LINK_TASK,
        Rule.SPAWN,
    }
)
_RUNNER_RULES = frozenset(
    {
        Rule.ANY,
        Rule.LIST,
        Rule.READ_PROJECT,
        Rule.READ_TASK,
        Rule.READ_SESSION,
        Rule.READ_APPROVAL,
        Rule.READ_RUNNERS,
        Rule.UPDATE_SESSION,
        Rule.SPAWN,
        Rule.REGISTER_RUNNER,
        Rule.RUNNER_ITSELF,
        Rule.CLAIM,
    }
)


def refuse(principal: Principal, what: str) -> Forbidden:
    return Forbidden(
        f"{principal.describe()}: it may not {what}",
        {"scope": principal.kind, **_scope_details(principal)},
    )


def _scope_details(principal: Principal) -> dict[str, Any]:
    if principal.kind == "session":
        return {
            "sessionId": principal.session_id,
            "projectId": principal.project_id,
            "role": principal.role,
        }
    if principal.kind == "runner":
        return {"runner": principal.runner_name}
    return {}


class AccessPolicy:
    """Decides, for a principal that is not the admin, whether a request is
    within its token's scope (reading the store where the rule needs to)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def authorize(
        self,
        principal: Principal,
        rule: Rule,
        action: str,
        params: Mapping[str, str],
        body: Any = None,
    ) -> None:
        """Return if ``principal`` may do ``action`` (``"PATCH /api/tasks/{id}"``,
        for the message); raise ``Forbidden`` (or the 404 of a missing id) if not."""
        if principal.unlimited:
            return
        allowed = _SESSION_RULES if principal.kind == "session" else _RUNNER_RULES
        if principal.kind not in ("session", "runner") or rule not in allowed:
            raise refuse(principal, action)
        if principal.kind == "session":
            await self._session(principal, rule, action, params, body)
        else:
            await self._runner(principal, rule, action, params, body)

    # -- session tokens --------------------------------------------------------------

    async def _session(
        self, principal: Principal, rule: Rule, action: str, params: Mapping[str, str], body: Any
    ) -> None:
        own_project = principal.project_id
        if rule in (Rule.ANY, Rule.LIST):
            return
        if rule is Rule.READ_PROJECT:
            project = await self._get(Project, params["id"], ProjectNotFound, "project")
            self._in_project(principal, project.id, action)
        elif rule is Rule.READ_TASK:
            task = await self._get(Task, _task_param(params), TaskNotFound, "task")
            self._in_project(principal, task.project_id, action)
        elif rule is Rule.READ_SESSION:
            session = await self._get(Session, params["id"], SessionNotFound, "session")
            self._in_project(principal, session.project_id, action)
        elif rule is Rule.READ_APPROVAL:
            approval = await self._get(Approval, params["id"], ApprovalNotFound, "approval")
            self._in_project(principal, approval.project_id, action)
        elif rule is Rule.CHANGE_TASK:
            task = await self._get(Task, _task_param(params), TaskNotFound, "task")
            await self._own_task(principal, task, action)
        elif rule is Rule.CREATE_TASK:
            assert isinstance(body, TaskCreate)
            if body.project_id != own_project or body.parent_id is None:
                raise refuse(principal, f"{action}: only child tasks under its own tasks")
            parent = await self._get(Task, body.parent_id, TaskNotFound, "parentId")
            await self._own_task(principal, parent, action)
        elif rule is Rule.CHANGE_SESSION:
            self._itself(principal, params["id"], action)
        elif rule is Rule.UPDATE_SESSION:
            self._itself(principal, params["id"], action)
            # Relinking changes the tasks too: only to its own.
            assert isinstance(body, SessionPatch)
            for task_id in body.task_ids or ():
                task = await self._get(Task, task_id, TaskNotFound, "taskIds")
                await self._own_task(principal, task, action)
        elif rule is Rule.LINK_TASK:
            self._itself(principal, params["id"], action)
            task = await self._get(Task, params["taskId"], TaskNotFound, "taskId")
            await self._own_task(principal, task, action)
        elif rule is Rule.SPAWN:
            assert isinstance(body, SpawnRequest)
            if principal.role != "orchestrator":
                raise refuse(principal, f"{action}: only an orchestrator's token spawns")
            if body.project_id != own_project:
                raise refuse(principal, f"{action} in another project")
            if body.follow_up_of is not None:
                earlier = await self.store.get(Session, check_id(body.follow_up_of, "followUpOf"))
                if earlier is not None and earlier.project_id != own_project:
                    raise refuse(principal, f"{action}: follow up a session of another project")

    def _in_project(self, principal: Principal, project_id: str, action: str) -> None:
        if project_id != principal.project_id:
            raise refuse(principal, f"{action}: it belongs to another project")

    def _itself(self, principal: Principal, session_id: str, action: str) -> None:
        if check_id(session_id) != principal.session_id:
            raise refuse(principal, f"{action}: only its own session")

    async def _own_task(self, principal: Principal, task: Task, action: str) -> None:
        """``task`` must be one of the session's tasks or lie under one."""
        mine = set(principal.task_ids)
        current: Task | None = task
        for _ in range(MAX_TASK_DEPTH):
            if current is None or current.project_id != principal.project_id:
                break
            if current.id in mine:
                return
            if current.parent_id is None:
                break
            current = await self.store.get(Task, current.parent_id)
        raise refuse(
            principal,
            f"{action}: task {task.id} is not one of its tasks ({', '.join(mine) or 'none'}) "
            "nor under them",
        )

    # -- runner tokens ---------------------------------------------------------------

    async def _runner(
        self, principal: Principal, rule: Rule, action: str, params: Mapping[str, str], body: Any
    ) -> None:
        if rule is Rule.REGISTER_RUNNER:
            assert isinstance(body, RunnerRegister)
            self._runner_name(principal, body.name.strip(), action)
        elif rule is Rule.RUNNER_ITSELF:
            runner = await self._get(Runner, params["id"], RunnerNotFound, "runner")
            self._runner_name(principal, runner.name, action)
        elif rule is Rule.CLAIM:
            assert isinstance(body, SessionClaim)
            runner = await self._get(Runner, body.runner_id, RunnerNotFound, "runnerId")
            self._runner_name(principal, runner.name, action)
        elif rule is Rule.UPDATE_SESSION:
            session = await self._get(Session, params["id"], SessionNotFound, "session")
            holder = session.metadata.get("runnerId")
            runner = await self.store.get(Runner, holder) if isinstance(holder, str) else None
            if runner is None or runner.name != principal.runner_name:
                raise refuse(principal, f"{action}: only the sessions its runners claimed")
        elif rule is Rule.SPAWN:
            assert isinstance(body, SpawnRequest)
            await self._dispatch(principal, body, action)

    def _runner_name(self, principal: Principal, name: str, action: str) -> None:
        if name != principal.runner_name:
            raise refuse(principal, f"{action} as runner {name!r}")

    async def _dispatch(self, principal: Principal, body: SpawnRequest, action: str) -> None:
        """A runner spawns only as the dispatcher: a worker for auto-start tasks."""
        what = f"{action}: a runner token spawns only the dispatcher's workers for auto-start tasks"
        if body.spawn_source != "dispatch" or body.role != "worker" or body.follow_up_of:
            raise refuse(principal, what)
        if not isinstance(body.task_ids, list) or not body.task_ids:
            raise refuse(principal, what)
        for task_id in body.task_ids:
            task = await self.store.get(Task, check_id(str(task_id), "taskIds"))
            if task is None or not task.auto_start or task.project_id != body.project_id:
                raise refuse(principal, what)

    # -- reading ---------------------------------------------------------------------

    async def _get(
        self, kind: type[Any], entity_id: str, missing: type[Exception], field: str
    ) -> Any:
        entity = await self.store.get(kind, check_id(entity_id, field))
        if entity is None:
            raise missing(f"{field} {entity_id} not found")
        return entity


def _task_param(params: Mapping[str, str]) -> str:
    return params.get("taskId") or params["id"]
