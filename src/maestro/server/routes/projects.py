"""/api/projects"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from maestro.domain.models import Project
from maestro.domain.requests import ProjectCreate, ProjectUpdate
from maestro.domain.responses import Deleted, ProjectUsage
from maestro.server.endpoint import Endpoint
from maestro.server.http import answer, deleted, path_id, principal, read_json, workspace
from maestro.service.access import Rule


async def list_projects(request: Request) -> Response:
    found = await workspace(request).list_projects()
    who = principal(request)
    return answer(found if who.kind != "session" else [p for p in found if p.id == who.project_id])


async def create_project(request: Request) -> Response:
    body = await read_json(request, ProjectCreate)
    return answer(await workspace(request).create_project(body), 201)


async def get_project(request: Request) -> Response:
    return answer(await workspace(request).get_project(path_id(request, "id")))


async def update_project(request: Request) -> Response:
    project_id = path_id(request, "id")
    body = await read_json(request, ProjectUpdate)
    return answer(await workspace(request).update_project(project_id, body))


async def project_usage(request: Request) -> Response:
    return answer(await workspace(request).project_usage(path_id(request, "id")))


async def patch_project(request: Request) -> Response:
    """PUT is the seed's verb for this partial update; PATCH is the one that says so."""
    return await update_project(request)


async def delete_project(request: Request) -> Response:
    project_id = path_id(request, "id")
    await workspace(request).delete_project(project_id)
    return deleted(project_id)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/projects",
        list_projects,
        "All projects, oldest first",
        returns=list[Project],
        access=Rule.LIST,
    ),
    Endpoint(
        "POST",
        "/api/projects",
        create_project,
        "Create a project",
        body=ProjectCreate,
        returns=Project,
        status=201,
        errors=(400, 413, 415),
    ),
    Endpoint(
        "GET",
        "/api/projects/{id}",
        get_project,
        "One project",
        returns=Project,
        errors=(400, 404),
        access=Rule.READ_PROJECT,
    ),
    Endpoint(
        "PUT",
        "/api/projects/{id}",
        update_project,
        "Partial update of name, workingDir, description or permissions",
        body=ProjectUpdate,
        returns=Project,
        errors=(400, 404, 413, 415),
    ),
    Endpoint(
        "PATCH",
        "/api/projects/{id}",
        patch_project,
        "The same partial update as PUT",
        body=ProjectUpdate,
        returns=Project,
        errors=(400, 404, 413, 415),
    ),
    Endpoint(
        "DELETE",
        "/api/projects/{id}",
        delete_project,
        "Delete a project that has no tasks or sessions",
        returns=Deleted,
        errors=(400, 404),
    ),
    Endpoint(
        "GET",
        "/api/projects/{id}/usage",
        project_usage,
        "Usage of all the project's sessions, summed",
        returns=ProjectUsage,
        errors=(400, 404),
        access=Rule.READ_PROJECT,
    ),
]
