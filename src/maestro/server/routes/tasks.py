"""/api/tasks, their timeline and children."""

from __future__ import annotations

from msgspec import UNSET
from starlette.requests import Request
from starlette.responses import Response

from maestro.domain.ids import check_id
from maestro.domain.models import TASK_STATUSES, Task
from maestro.domain.requests import TaskCreate, TaskPatch, TimelineAppend
from maestro.domain.responses import Deleted, TaskUsage
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
from maestro.store.base import TaskQuery


async def list_tasks(request: Request) -> Response:
    parent = request.query_params.get("parentId")
    query = TaskQuery(
        project_id=project_filter(request),
        status=query_choice(request, "status", TASK_STATUSES),
        parent_id=UNSET
        if parent is None or parent == ""
        else (None if parent == "null" else check_id(parent, "parentId")),
        session_id=query_id(request, "sessionId"),
    )
    return answer(await workspace(request).list_tasks(query))


async def create_task(request: Request) -> Response:
    body = await read_json(request, TaskCreate)
    return answer(await workspace(request).create_task(body), 201)


async def get_task(request: Request) -> Response:
    return answer(await workspace(request).get_task(path_id(request, "id")))


async def patch_task(request: Request) -> Response:
    task_id = path_id(request, "id")
    body = await read_json(request, TaskPatch)
    return answer(await workspace(request).patch_task(task_id, body))


async def delete_task(request: Request) -> Response:
    task_id = path_id(request, "id")
    await workspace(request).delete_task(task_id, cascade=query_flag(request, "cascade"))
    return deleted(task_id)


async def append_timeline(request: Request) -> Response:
    task_id = path_id(request, "id")
    body = await read_json(request, TimelineAppend)
    return answer(await workspace(request).append_timeline(task_id, body))


async def children(request: Request) -> Response:
    return answer(await workspace(request).children(path_id(request, "id")))


async def task_usage(request: Request) -> Response:
    return answer(await workspace(request).task_usage(path_id(request, "id")))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/tasks",
        list_tasks,
        "Tasks, filtered, oldest first",
        returns=list[Task],
        errors=(400,),
        query=(
            Query("projectId", "only tasks of this project", is_id=True),
            Query("status", "only tasks with this status", enum=TASK_STATUSES),
            Query("parentId", "only children of this task; `null` for root tasks"),
            Query("sessionId", "only tasks linked to this session", is_id=True),
        ),
        access=Rule.LIST,
    ),
    Endpoint(
        "POST",
        "/api/tasks",
        create_task,
        "Create a task",
        body=TaskCreate,
        returns=Task,
        status=201,
        errors=(400, 404, 413, 415),
        access=Rule.CREATE_TASK,
    ),
    Endpoint(
        "GET",
        "/api/tasks/{id}",
        get_task,
        "One task with subtasks and timeline",
        returns=Task,
        errors=(400, 404),
        access=Rule.READ_TASK,
    ),
    Endpoint(
        "PATCH",
        "/api/tasks/{id}",
        patch_task,
        "Partial update; sessionIds replaces the links, timeline entries are appended",
        body=TaskPatch,
        returns=Task,
        errors=(400, 404, 413, 415),
        access=Rule.CHANGE_TASK,
    ),
    Endpoint(
        "DELETE",
        "/api/tasks/{id}",
        delete_task,
        "Delete a task (and with cascade=true its descendants)",
        returns=Deleted,
        errors=(400, 404),
        query=(Query("cascade", "also delete child tasks", enum=("true", "false")),),
    ),
    Endpoint(
        "POST",
        "/api/tasks/{id}/timeline",
        append_timeline,
        "Append a timeline event",
        body=TimelineAppend,
        returns=Task,
        errors=(400, 404, 413, 415),
        access=Rule.CHANGE_TASK,
    ),
    Endpoint(
        "GET",
        "/api/tasks/{id}/children",
        children,
        "Direct child tasks",
        returns=list[Task],
        errors=(400, 404),
        access=Rule.READ_TASK,
    ),
    Endpoint(
        "GET",
        "/api/tasks/{id}/usage",
        task_usage,
        "Usage of the sessions of the task and all its descendants, each session once",
        returns=TaskUsage,
        errors=(400, 404),
        access=Rule.READ_TASK,
    ),
]
