"""/api/sessions, their task links, and spawn."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from maestro.domain.errors import MaestroError, SpawnFailed, ValidationFailed
from maestro.domain.models import SESSION_STATUSES, Session
from maestro.domain.requests import SessionCreate, SessionPatch, SpawnRequest
from maestro.domain.responses import Deleted, Spawned
from maestro.server.endpoint import Endpoint, Query
from maestro.server.http import (
    answer,
    deleted,
    path_id,
    project_filter,
    query_choice,
    query_flag,
    query_id,
    read_json,
    workspace,
)
from maestro.service.access import Rule
from maestro.store.base import SessionQuery


async def list_sessions(request: Request) -> Response:
    query = SessionQuery(
        project_id=project_filter(request),
        task_id=query_id(request, "taskId"),
        status=query_choice(request, "status", SESSION_STATUSES),
        active=query_flag(request, "active"),
        runner_id=query_id(request, "runnerId"),
    )
    return answer(await workspace(request).list_sessions(query))


async def create_session(request: Request) -> Response:
    body = await read_json(request, SessionCreate)
    return answer(await workspace(request).create_session(body), 201)


async def get_session(request: Request) -> Response:
    return answer(await workspace(request).get_session(path_id(request, "id")))


async def patch_session(request: Request) -> Response:
    session_id = path_id(request, "id")
    body = await read_json(request, SessionPatch)
    return answer(await workspace(request).patch_session(session_id, body))


async def delete_session(request: Request) -> Response:
    session_id = path_id(request, "id")
    await workspace(request).delete_session(session_id)
    return deleted(session_id)


async def link_task(request: Request) -> Response:
    session_id, task_id = path_id(request, "id"), path_id(request, "taskId")
    return answer(await workspace(request).link(session_id, task_id))


async def unlink_task(request: Request) -> Response:
    session_id, task_id = path_id(request, "id"), path_id(request, "taskId")
    return answer(await workspace(request).unlink(session_id, task_id))


_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 255 visible ASCII characters", field="Idempotency-Key"
        )
    return key


async def spawn(request: Request) -> Response:
    key = idempotency_key(request)
    body = await read_json(request, SpawnRequest)
    try:
        session = await workspace(request).spawn(body, key)
    except MaestroError:
        raise
    except Exception as error:  # the seed's contract: spawn failures are spawn_error
        raise SpawnFailed("the session could not be created; the server log has details") from error
    return answer(Spawned(success=True, session_id=session.id, session=session), 201)


_LINK = "/api/sessions/{id}/tasks/{taskId}"
ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/sessions",
        list_sessions,
        "Sessions, filtered, oldest first",
        returns=list[Session],
        errors=(400,),
        query=(
            Query("projectId", "only sessions of this project", is_id=True),
            Query("taskId", "only sessions linked to this task", is_id=True),
            Query("status", "only sessions with this status", enum=SESSION_STATUSES),
            Query("active", "true drops completed and failed sessions", enum=("true", "false")),
            Query("runnerId", "only sessions claimed by this runner", is_id=True),
        ),
        access=Rule.LIST,
    ),
    Endpoint(
        "POST",
        "/api/sessions",
        create_session,
        "Create a session linked to tasks",
        body=SessionCreate,
        returns=Session,
        status=201,
        errors=(400, 404, 409, 413, 415),
    ),
    Endpoint(
        "POST",
        "/api/sessions/spawn",
        spawn,
        "Ask for an agent session; a runner opens its terminal",
        body=SpawnRequest,
        returns=Spawned,
        status=201,
        errors=(400, 404, 413, 415, 429, 500),
        access=Rule.SPAWN,
    ),
    Endpoint(
        "GET",
        "/api/sessions/{id}",
        get_session,
        "One session",
        returns=Session,
        errors=(400, 404),
        access=Rule.READ_SESSION,
    ),
    Endpoint(
        "PATCH",
        "/api/sessions/{id}",
        patch_session,
        "Partial update; taskIds replaces the links, events are appended",
        body=SessionPatch,
        returns=Session,
        errors=(400, 404, 413, 415),
        access=Rule.UPDATE_SESSION,
    ),
    Endpoint(
        "DELETE",
        "/api/sessions/{id}",
        delete_session,
        "Delete a session",
        returns=Deleted,
        errors=(400, 404),
    ),
    Endpoint(
        "POST",
        _LINK,
        link_task,
        "Link a task (idempotent)",
        returns=Session,
        errors=(400, 404),
        access=Rule.LINK_TASK,
    ),
    Endpoint(
        "DELETE",
        _LINK,
        unlink_task,
        "Unlink a task (idempotent)",
        returns=Session,
        errors=(400, 404),
    ),
]
