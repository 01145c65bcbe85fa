"""The typed client: one method per API operation, answering with the domain's
Structs (``get_task(id) -> Task``), every id percent-encoded into its path.

Bodies go as the wire's camelCase mappings; answers are decoded by msgspec
straight into the entities the server encoded them from, so a field renamed on
one side fails here, loudly, instead of turning into a ``KeyError`` far away.

msgspec and the models are imported on first use, not with this module: the
agent's per-tool-call commands (``maestro hook``, ``maestro report``) use the
untyped ``request`` and start without them (they cost some 60 ms, more than the
request those commands make).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from maestro.client.http import ClientError, HttpClient, api_path, raise_for_error

if TYPE_CHECKING:
    from maestro.domain.models import Approval, Project, Session, Subtask, Task
    from maestro.domain.responses import (
        Claimed,
        Deleted,
        Health,
        Heartbeat,
        IssuedToken,
        ProjectUsage,
        RunnerWithLoad,
        Spawned,
        TaskUsage,
        TokenInfo,
    )

T = TypeVar("T")
Body = Mapping[str, Any]


class MaestroClient(HttpClient):
    """The Maestro API, typed."""

    def call(
        self,
        answer: type[T],
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> T:
        """One request whose successful answer is decoded as ``answer``."""
        import msgspec

        status, raw = self.send(method, path, body, params, headers)
        if not 200 <= status < 300:
            try:
                error_body = msgspec.json.decode(raw) if raw else None
            except msgspec.DecodeError:
                error_body = None
            raise_for_error(path, status, error_body)
        try:
            return msgspec.json.decode(raw, type=answer)
        except msgspec.DecodeError as error:  # ValidationError included
            raise ClientError(
                f"the server's answer to {method} {path} is not what this client "
                f"expects ({error}); are the server and the CLI the same version?",
                code="BAD_RESPONSE",
            ) from error

    # -- server ------------------------------------------------------------------

    def health(self) -> Health:
        from maestro.domain.responses import Health

        return self.call(Health, "GET", "/health")

    # -- projects ----------------------------------------------------------------

    def list_projects(self) -> list[Project]:
        from maestro.domain.models import Project

        return self.call(list[Project], "GET", api_path("projects"))

    def get_project(self, project_id: str) -> Project:
        from maestro.domain.models import Project

        return self.call(Project, "GET", api_path("projects", project_id))

    def create_project(self, body: Body) -> Project:
        from maestro.domain.models import Project

        return self.call(Project, "POST", api_path("projects"), body)

    def replace_project(self, project_id: str, body: Body) -> Project:
        """``PUT``: the fields given replace the stored ones."""
        from maestro.domain.models import Project

        return self.call(Project, "PUT", api_path("projects", project_id), body)

    def update_project(self, project_id: str, body: Body) -> Project:
        """``PATCH``: nested objects (the permission policy) merge key by key."""
        from maestro.domain.models import Project

        return self.call(Project, "PATCH", api_path("projects", project_id), body)

    def delete_project(self, project_id: str) -> Deleted:
        from maestro.domain.responses import Deleted

        return self.call(Deleted, "DELETE", api_path("projects", project_id))

    def project_usage(self, project_id: str) -> ProjectUsage:
        from maestro.domain.responses import ProjectUsage

        return self.call(ProjectUsage, "GET", api_path("projects", project_id, "usage"))

    # -- tasks -------------------------------------------------------------------

    def list_tasks(
        self,
        project_id: str | None = None,
        status: str | None = None,
        parent_id: str | None = None,
        session_id: str | None = None,
    ) -> list[Task]:
        """Oldest first; ``parent_id="null"`` asks for root tasks."""
        from maestro.domain.models import Task

        params = {
            "projectId": project_id,
            "status": status,
            "parentId": parent_id,
            "sessionId": session_id,
        }
        return self.call(list[Task], "GET", api_path("tasks"), params=params)

    def get_task(self, task_id: str) -> Task:
        from maestro.domain.models import Task

        return self.call(Task, "GET", api_path("tasks", task_id))

    def create_task(self, body: Body) -> Task:
        from maestro.domain.models import Task

        return self.call(Task, "POST", api_path("tasks"), body)

    def update_task(self, task_id: str, body: Body) -> Task:
        from maestro.domain.models import Task

        return self.call(Task, "PATCH", api_path("tasks", task_id), body)

    def delete_task(self, task_id: str, cascade: bool = False) -> Deleted:
        from maestro.domain.responses import Deleted

        params = {"cascade": True} if cascade else None
        return self.call(Deleted, "DELETE", api_path("tasks", task_id), params=params)

    def task_children(self, task_id: str) -> list[Task]:
        from maestro.domain.models import Task

        return self.call(list[Task], "GET", api_path("tasks", task_id, "children"))

    def add_timeline_event(self, task_id: str, body: Body) -> Task:
        from maestro.domain.models import Task

        return self.call(Task, "POST", api_path("tasks", task_id, "timeline"), body)

    def task_usage(self, task_id: str) -> TaskUsage:
        from maestro.domain.responses import TaskUsage

        return self.call(TaskUsage, "GET", api_path("tasks", task_id, "usage"))

    # -- subtasks ----------------------------------------------------------------

    def list_subtasks(self, task_id: str) -> list[Subtask]:
        from maestro.domain.models import Subtask

        return self.call(list[Subtask], "GET", api_path("tasks", task_id, "subtasks"))

    def create_subtask(self, task_id: str, body: Body) -> Subtask:
        from maestro.domain.models import Subtask

        return self.call(Subtask, "POST", api_path("tasks", task_id, "subtasks"), body)

    def update_subtask(self, task_id: str, subtask_id: str, body: Body) -> Subtask:
        from maestro.domain.models import Subtask

        path = api_path("tasks", task_id, "subtasks", subtask_id)
        return self.call(Subtask, "PATCH", path, body)

    def delete_subtask(self, task_id: str, subtask_id: str) -> Deleted:
        from maestro.domain.responses import Deleted

        return self.call(Deleted, "DELETE", api_path("tasks", task_id, "subtasks", subtask_id))

    # -- sessions ----------------------------------------------------------------

    def list_sessions(
        self,
        project_id: str | None = None,
        task_id: str | None = None,
        status: str | None = None,
        active: bool = False,
        runner_id: str | None = None,
    ) -> list[Session]:
        """Oldest first; ``active`` leaves finished sessions out; ``runner_id``: the
        sessions that runner claimed."""
        from maestro.domain.models import Session

        params = {
            "projectId": project_id,
            "taskId": task_id,
            "status": status,
            "active": True if active else None,
            "runnerId": runner_id,
        }
        return self.call(list[Session], "GET", api_path("sessions"), params=params)

    def get_session(self, session_id: str) -> Session:
        from maestro.domain.models import Session

        return self.call(Session, "GET", api_path("sessions", session_id))

    def create_session(self, body: Body) -> Session:
        from maestro.domain.models import Session

        return self.call(Session, "POST", api_path("sessions"), body)

    def update_session(self, session_id: str, body: Body) -> Session:
        from maestro.domain.models import Session

        return self.call(Session, "PATCH", api_path("sessions", session_id), body)

    def delete_session(self, session_id: str) -> Deleted:
        from maestro.domain.responses import Deleted

        return self.call(Deleted, "DELETE", api_path("sessions", session_id))

    def link_task(self, session_id: str, task_id: str) -> Session:
        from maestro.domain.models import Session

        return self.call(Session, "POST", api_path("sessions", session_id, "tasks", task_id))

    def unlink_task(self, session_id: str, task_id: str) -> Session:
        from maestro.domain.models import Session

        return self.call(Session, "DELETE", api_path("sessions", session_id, "tasks", task_id))

    def spawn(self, body: Body, idempotency_key: str | None = None) -> Spawned:
        """With ``idempotency_key``, a repeat of the request (by anyone) gets the
        session the first one started."""
        from maestro.domain.responses import Spawned

        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        path = api_path("sessions", "spawn")
        return self.call(Spawned, "POST", path, body, headers=headers)

    # -- approvals ---------------------------------------------------------------

    def file_approval(self, session_id: str, body: Body) -> Approval:
        from maestro.domain.models import Approval

        return self.call(Approval, "POST", api_path("sessions", session_id, "approvals"), body)

    def list_approvals(
        self,
        project_id: str | None = None,
        session_id: str | None = None,
        status: str | None = None,
    ) -> list[Approval]:
        """Oldest first."""
        from maestro.domain.models import Approval

        params = {"projectId": project_id, "sessionId": session_id, "status": status}
        return self.call(list[Approval], "GET", api_path("approvals"), params=params)

    def get_approval(self, approval_id: str, wait: float | None = None) -> Approval:
        """With ``wait``, the server holds the answer until the approval is decided
        or ``wait`` seconds (at most 60) have passed."""
        from maestro.domain.models import Approval

        params = {"wait": wait} if wait else None
        return self.call(Approval, "GET", api_path("approvals", approval_id), params=params)

    def decide_approval(self, approval_id: str, body: Body) -> Approval:
        """``{decision: "allow"|"deny", message?, remember?, decidedBy?}``"""
        from maestro.domain.models import Approval

        path = api_path("approvals", approval_id, "decision")
        return self.call(Approval, "POST", path, body)

    # -- runners -----------------------------------------------------------------

    def register_runner(self, body: Body) -> RunnerWithLoad:
        """``{name, host, capacity, labels?, id?}``: a new runner, or the one of this
        name and host back again."""
        from maestro.domain.responses import RunnerWithLoad

        return self.call(RunnerWithLoad, "POST", api_path("runners"), body)

    def runner_heartbeat(self, runner_id: str, sessions: list[str] | None = None) -> Heartbeat:
        """Extend the runner's lease; ``sessions``: those it still runs."""
        from maestro.domain.responses import Heartbeat

        body = {} if sessions is None else {"sessions": sessions}
        return self.call(Heartbeat, "POST", api_path("runners", runner_id, "heartbeat"), body)

    def list_runners(self, status: str | None = None) -> list[RunnerWithLoad]:
        """Oldest first, each with its load."""
        from maestro.domain.responses import RunnerWithLoad

        params = {"status": status}
        return self.call(list[RunnerWithLoad], "GET", api_path("runners"), params=params)

    def get_runner(self, runner_id: str) -> RunnerWithLoad:
        from maestro.domain.responses import RunnerWithLoad

        return self.call(RunnerWithLoad, "GET", api_path("runners", runner_id))

    def delete_runner(self, runner_id: str) -> Deleted:
        from maestro.domain.responses import Deleted

        return self.call(Deleted, "DELETE", api_path("runners", runner_id))

    def claim_session(self, session_id: str, runner_id: str) -> Claimed:
        """Claim a spawning session for the runner; ``ApiError`` 409 when another
        runner has it (``ALREADY_CLAIMED``) or the runner lacks its labels
        (``LABELS_MISMATCH``)."""
        from maestro.domain.responses import Claimed

        path = api_path("sessions", session_id, "claim")
        return self.call(Claimed, "POST", path, {"runnerId": runner_id})

    # tokens

    def create_runner_token(self, runner: str) -> IssuedToken:
        """A runner token for the runners named ``runner`` (the admin token's to ask)."""
        from maestro.domain.responses import IssuedToken

        return self.call(IssuedToken, "POST", api_path("tokens"), {"runner": runner})

    def list_tokens(self) -> list[TokenInfo]:
        from maestro.domain.responses import TokenInfo

        return self.call(list[TokenInfo], "GET", api_path("tokens"))

    def revoke_token(self, token_id: str) -> Deleted:
        from maestro.domain.responses import Deleted

        return self.call(Deleted, "DELETE", api_path("tokens", token_id))
