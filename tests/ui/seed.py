"""What the UI tests need on the server, made through the REST API: a session
at work on a task, the approvals its agent asks for, and runners claiming
spawned sessions."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import created, make_project, make_session, make_task, ok, request_spawn


def working_session(
    api: httpx.Client, name: str, *, project_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A running session named ``name`` on a new task ``<name> task`` (in a new
    project ``<name> project`` unless ``project_id`` is given)."""
    if project_id is None:
        project_id = make_project(api, name=f"{name} project", workingDir="/tmp")["id"]
    task = make_task(api, project_id, title=f"{name} task")
    body = {"name": name, "status": "running", **fields}
    return make_session(api, project_id, [task["id"]], **body)


def file_approval(
    api: httpx.Client, session_id: str, tool: str = "Bash", **input: Any
) -> dict[str, Any]:
    """The agent of the session asks to use ``tool`` with ``input``
    (``command="rm -rf build"`` when none is given)."""
    body = {"tool": tool, "input": input or {"command": "rm -rf build"}}
    return created(api.post(f"/api/sessions/{session_id}/approvals", json=body))


def decide(api: httpx.Client, approval_id: str, decision: str = "deny") -> dict[str, Any]:
    """Decide an approval the way the CLI does."""
    body = {"decision": decision, "decidedBy": "cli"}
    result: dict[str, Any] = ok(api.post(f"/api/approvals/{approval_id}/decision", json=body))
    return result


def register_runner(
    api: httpx.Client, name: str, *, host: str = "build-box", capacity: int = 2, **fields: Any
) -> dict[str, Any]:
    """Register a runner the way ``maestro runner`` does; the runner, with its load."""
    body = {"name": name, "host": host, "capacity": capacity, **fields}
    return created(api.post("/api/runners", json=body))


def spawned_session(api: httpx.Client, name: str) -> str:
    """A spawn no runner has claimed yet (on a new task ``<name> task`` in a new
    project ``<name> project``); its session id."""
    project_id = make_project(api, name=f"{name} project", workingDir="/tmp")["id"]
    task = make_task(api, project_id, title=f"{name} task")
    return request_spawn(api, project_id, [task["id"]], sessionName=name)


def claim(api: httpx.Client, session_id: str, runner_id: str) -> None:
    """The runner claims the spawning session, as before opening its terminal."""
    ok(api.post(f"/api/sessions/{session_id}/claim", json={"runnerId": runner_id}))
