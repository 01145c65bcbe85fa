"""/api/tasks/{taskId}/subtasks: subtasks live inside their task."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from maestro.domain.models import Subtask
from maestro.domain.requests import SubtaskCreate, SubtaskPatch
from maestro.domain.responses import Deleted
from maestro.server.endpoint import Endpoint
from maestro.server.http import answer, deleted, path_id, read_json, workspace
from maestro.service.access import Rule


async def list_subtasks(request: Request) -> Response:
    return answer(await workspace(request).list_subtasks(path_id(request, "taskId")))


async def create_subtask(request: Request) -> Response:
    task_id = path_id(request, "taskId")
    body = await read_json(request, SubtaskCreate)
    return answer(await workspace(request).create_subtask(task_id, body), 201)


async def patch_subtask(request: Request) -> Response:
    task_id = path_id(request, "taskId")
    subtask_id = path_id(request, "id", "subtaskId")
    body = await read_json(request, SubtaskPatch)
    return answer(await workspace(request).patch_subtask(task_id, subtask_id, body))


async def delete_subtask(request: Request) -> Response:
    task_id = path_id(request, "taskId")
    subtask_id = path_id(request, "id", "subtaskId")
    await workspace(request).delete_subtask(task_id, subtask_id)
    return deleted(subtask_id)


_ITEM = "/api/tasks/{taskId}/subtasks/{id}"
ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/tasks/{taskId}/subtasks",
        list_subtasks,
        "A task's subtasks in order",
        returns=list[Subtask],
        errors=(400, 404),
        access=Rule.READ_TASK,
    ),
    Endpoint(
        "POST",
        "/api/tasks/{taskId}/subtasks",
        create_subtask,
        "Append a subtask",
        body=SubtaskCreate,
        returns=Subtask,
        status=201,
        errors=(400, 404, 413, 415),
        access=Rule.CHANGE_TASK,
    ),
    Endpoint(
        "PATCH",
        _ITEM,
        patch_subtask,
        "Update title, description, completed, or move it to position `order`",
        body=SubtaskPatch,
        returns=Subtask,
        errors=(400, 404, 413, 415),
        access=Rule.CHANGE_TASK,
    ),
    Endpoint(
        "DELETE", _ITEM, delete_subtask, "Delete a subtask", returns=Deleted, errors=(400, 404)
    ),
]
