"""The REST API in process (``in_process.InProcessApi``): the rules the service
keeps, seen through the real application and its error shapes, in milliseconds.
The same behaviours are tested against real server processes in ``tests/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.in_process import InProcessApi


@pytest.fixture
def api(tmp_path: Path) -> Iterator[InProcessApi]:
    client = InProcessApi(tmp_path / "data")
    yield client
    client.close()


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def project_and_task(api: InProcessApi) -> tuple[dict[str, Any], dict[str, Any]]:
    project = created(api.post("/api/projects", json={"name": "P"}))
    task = created(api.post("/api/tasks", json={"projectId": project["id"], "title": "T"}))
    return project, task


def test_a_link_is_made_on_both_sides_and_noted_on_the_tasks_timeline(api: InProcessApi) -> None:
    project, task = project_and_task(api)
    session = created(
        api.post("/api/sessions", json={"projectId": project["id"], "taskIds": [task["id"]]})
    )
    task = api.get(f"/api/tasks/{task['id']}").json()
    assert session["taskIds"] == [task["id"]]
    assert task["sessionIds"] == [session["id"]]
    assert task["timeline"][-1]["type"] == "session_started"


def test_deleting_a_session_unlinks_its_tasks(api: InProcessApi) -> None:
    project, task = project_and_task(api)
    session = created(
        api.post("/api/sessions", json={"projectId": project["id"], "taskIds": [task["id"]]})
    )
    assert api.delete(f"/api/sessions/{session['id']}").status_code == 200
    assert api.get(f"/api/tasks/{task['id']}").json()["sessionIds"] == []


def test_status_changes_are_stamped_once_and_noted(api: InProcessApi) -> None:
    _, task = project_and_task(api)
    started = api.patch(f"/api/tasks/{task['id']}", json={"status": "in_progress"}).json()
    again = api.patch(f"/api/tasks/{task['id']}", json={"status": "in_progress"}).json()
    done = api.patch(f"/api/tasks/{task['id']}", json={"status": "completed"}).json()
    assert started["startedAt"] is not None and again["startedAt"] == started["startedAt"]
    assert done["completedAt"] is not None
    notes = [e for e in done["timeline"] if e["type"] == "status_changed"]
    assert len(notes) == 2


def test_a_task_with_children_is_kept_unless_cascade(api: InProcessApi) -> None:
    project, parent = project_and_task(api)
    child = created(
        api.post(
            "/api/tasks",
            json={"projectId": project["id"], "title": "C", "parentId": parent["id"]},
        )
    )
    refused = api.delete(f"/api/tasks/{parent['id']}")
    assert (refused.status_code, refused.json()["code"]) == (400, "TASK_HAS_CHILDREN")
    assert api.delete(f"/api/tasks/{parent['id']}", params={"cascade": "true"}).status_code == 200
    assert api.get(f"/api/tasks/{child['id']}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/api/tasks/task_missing", None, 404, "TASK_NOT_FOUND"),
        ("GET", "/api/tasks/-x", None, 400, "VALIDATION_ERROR"),
        ("POST", "/api/projects", {}, 400, "VALIDATION_ERROR"),
        ("POST", "/api/tasks", {"projectId": "proj_missing", "title": "T"}, 404,
         "PROJECT_NOT_FOUND"),
        ("PATCH", "/api/sessions/sess_missing", {"status": "failed"}, 404, "SESSION_NOT_FOUND"),
        ("POST", "/api/sessions/spawn", {}, 400, "missing_project_id"),
    ],
)  # fmt: skip
def test_errors_have_the_documented_shape(
    api: InProcessApi, method: str, path: str, body: Any, status: int, code: str
) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == status
    error = response.json()
    assert error["error"] is True and error["code"] == code and error["message"]


def test_every_change_reaches_the_hub_in_order(api: InProcessApi) -> None:
    before = api.hub.last_seq
    _, task = project_and_task(api)
    api.patch(f"/api/tasks/{task['id']}", json={"title": "T2"})
    frames = [e.frame for e in api.hub.recent if e.seq > before]
    kinds = [frame.split('"', 4)[3] for frame in frames]
    assert kinds == ["project:created", "task:created", "task:updated"]
    assert [e.seq for e in api.hub.recent if e.seq > before] == [before + 1, before + 2, before + 3]


def test_the_openapi_document_lists_the_routes(api: InProcessApi) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/api/tasks", "/api/tasks/{id}", "/api/sessions/spawn", "/api/skills"} <= set(paths)
