"""/api/projects: create, read, update, delete, and the rules every JSON body follows."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningServer
from tests.helpers import assert_error, make_project, make_task

ID_RE = re.compile(r"^proj_\d{13}_[a-z0-9]+$")


# -- create ---------------------------------------------------------------------


def test_creating_a_project_answers_201_with_the_full_project(api: httpx.Client) -> None:
    response = api.post(
        "/api/projects",
        json={"name": "Website", "workingDir": "/src/site", "description": "The public site"},
    )
    assert response.status_code == 201
    project = response.json()
    assert set(project) == {
        "id",
        "name",
        "workingDir",
        "description",
        "permissions",
        # SPEC section 12 (worktrees, dispatch): see tests/server/test_dispatch_fields.py
        "worktrees",
        "baseBranch",
        "setupCommand",
        "setupTimeout",
        "worktreeInclude",
        "agent",
        "model",
        "maxConcurrent",
        "createdAt",
        "updatedAt",
    }
    assert ID_RE.match(project["id"])
    assert project["name"] == "Website"
    assert project["workingDir"] == "/src/site"
    assert project["description"] == "The public site"
    assert isinstance(project["createdAt"], int)
    assert project["updatedAt"] == project["createdAt"]


def test_a_new_project_defaults_working_dir_and_description_to_empty(api: httpx.Client) -> None:
    project = make_project(api, name="Bare")
    assert project["workingDir"] == ""
    assert project["description"] == ""


def test_a_created_project_can_be_read_back(api: httpx.Client) -> None:
    project = make_project(api, name="Readable")
    response = api.get(f"/api/projects/{project['id']}")
    assert response.status_code == 200
    assert response.json() == project


def test_project_name_is_stored_trimmed(api: httpx.Client) -> None:
    assert make_project(api, name="  Spaced out \n")["name"] == "Spaced out"


def test_project_without_name_is_refused(api: httpx.Client) -> None:
    response = api.post("/api/projects", json={"workingDir": "/tmp"})
    body = assert_error(response, 400, "VALIDATION_ERROR", "name is required")
    assert body.get("details", {}).get("field", "name") == "name"


def test_project_with_blank_name_is_refused(api: httpx.Client) -> None:
    response = api.post("/api/projects", json={"name": "   "})
    assert_error(response, 400, "VALIDATION_ERROR", "name is required")


def test_project_text_keeps_any_unicode(api: httpx.Client) -> None:
    project = make_project(api, name="Projekt ✓ 日本語", description="naïve 🎻")
    again = api.get(f"/api/projects/{project['id']}").json()
    assert again["name"] == "Projekt ✓ 日本語"
    assert again["description"] == "naïve 🎻"


def test_project_name_of_the_wrong_type_is_refused(api: httpx.Client) -> None:
    response = api.post("/api/projects", json={"name": 42})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("name must be")


def test_unknown_fields_in_a_body_are_ignored(api: httpx.Client) -> None:
    response = api.post("/api/projects", json={"name": "Extra", "colour": "blue", "id": "mine"})
    assert response.status_code == 201
    project = response.json()
    assert "colour" not in project
    assert project["id"] != "mine"


# Bodies refused before any field is read: (body, its Content-Type, status, code).
NOT_A_JSON_OBJECT = {
    "an-array": (b'["name", "x"]', "application/json", 400, "VALIDATION_ERROR"),
    "malformed-json": (b'{"name": ', "application/json", 400, "VALIDATION_ERROR"),
    "empty": (b"", "application/json", 400, "VALIDATION_ERROR"),
    "not-json-is-415": (b"name=Form", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    NOT_A_JSON_OBJECT.values(),
    ids=NOT_A_JSON_OBJECT.keys(),
)
def test_a_body_that_is_not_a_json_object_is_refused(
    api: httpx.Client, body: bytes, content_type: str, status: int, code: str
) -> None:
    response = api.post("/api/projects", content=body, headers={"Content-Type": content_type})
    assert_error(response, status, code)


def test_json_with_a_charset_parameter_is_accepted(api: httpx.Client) -> None:
    response = api.post(
        "/api/projects",
        content=b'{"name": "Charset"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


def json_body_of_size(size: int) -> bytes:
    """A valid project body of exactly ``size`` bytes."""
    empty = b'{"name": "Big", "description": ""}'
    return empty[:-2] + b"x" * (size - len(empty)) + empty[-2:]


def test_a_body_of_exactly_one_mebibyte_is_accepted(api: httpx.Client) -> None:
    body = json_body_of_size(1 << 20)
    response = api.post("/api/projects", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text


def test_a_body_one_byte_over_one_mebibyte_is_refused_with_413(api: httpx.Client) -> None:
    body = json_body_of_size((1 << 20) + 1)
    response = api.post("/api/projects", content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_a_chunked_body_over_the_limit_is_refused_with_413(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "Streamed", "description": "'
        for _ in range(11):
            yield b"x" * 100_000
        yield b'"}'

    response = api.post(
        "/api/projects", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


# -- read -----------------------------------------------------------------------


def test_listing_projects_on_an_empty_store_gives_an_empty_list(server: RunningServer) -> None:
    response = httpx.get(f"{server.url}/api/projects")
    assert response.status_code == 200
    assert response.json() == []


def test_projects_are_listed_oldest_first(api: httpx.Client) -> None:
    # Enough creations that several fall in one millisecond: they must still list
    # in the order they were made, with strictly increasing createdAt.
    made = [make_project(api, name=f"P{n}") for n in range(30)]
    ids = {project["id"] for project in made}
    listed = [p["id"] for p in api.get("/api/projects").json() if p["id"] in ids]
    assert listed == [project["id"] for project in made]
    stamps = [project["createdAt"] for project in made]
    assert stamps == sorted(set(stamps))


def test_the_listing_holds_full_projects(api: httpx.Client) -> None:
    project = make_project(api, name="Listed", workingDir="/w", description="d")
    listed = {p["id"]: p for p in api.get("/api/projects").json()}
    assert listed[project["id"]] == project


def test_getting_an_unknown_project_is_404(api: httpx.Client) -> None:
    response = api.get("/api/projects/proj_0_missing")
    assert_error(response, 404, "PROJECT_NOT_FOUND")


def test_a_malformed_project_id_in_the_path_is_400(api: httpx.Client) -> None:
    response = api.get("/api/projects/-not-an-id")
    assert_error(response, 400, "VALIDATION_ERROR")


def test_a_well_formed_but_unknown_path_id_is_404(api: httpx.Client) -> None:
    for unknown in ("a.b", "A-1_x", "z" * 128):
        assert_error(api.get(f"/api/projects/{unknown}"), 404, "PROJECT_NOT_FOUND")


def test_a_path_id_longer_than_128_characters_is_400(api: httpx.Client) -> None:
    response = api.get("/api/projects/" + "a" * 129)
    assert_error(response, 400, "VALIDATION_ERROR")


# -- update ---------------------------------------------------------------------


def test_put_updates_only_the_fields_given(api: httpx.Client) -> None:
    project = make_project(api, name="Old", workingDir="/old", description="keep me")
    response = api.put(f"/api/projects/{project['id']}", json={"name": "New"})
    assert response.status_code == 200
    updated = response.json()
    assert updated["name"] == "New"
    assert updated["workingDir"] == "/old"
    assert updated["description"] == "keep me"
    assert updated["createdAt"] == project["createdAt"]
    assert api.get(f"/api/projects/{project['id']}").json() == updated


def test_put_can_change_working_dir_and_description(api: httpx.Client) -> None:
    project = make_project(api)
    updated = api.put(
        f"/api/projects/{project['id']}", json={"workingDir": "/new", "description": "new text"}
    ).json()
    assert updated["workingDir"] == "/new"
    assert updated["description"] == "new text"
    assert updated["name"] == project["name"]


def test_put_stores_the_name_trimmed(api: httpx.Client) -> None:
    project = make_project(api)
    updated = api.put(f"/api/projects/{project['id']}", json={"name": "  Renamed  "}).json()
    assert updated["name"] == "Renamed"


def test_put_refuses_a_blank_name(api: httpx.Client) -> None:
    project = make_project(api, name="Keep")
    response = api.put(f"/api/projects/{project['id']}", json={"name": " "})
    assert_error(response, 400, "VALIDATION_ERROR", "name is required")
    assert api.get(f"/api/projects/{project['id']}").json()["name"] == "Keep"


def test_put_refuses_a_wrong_type(api: httpx.Client) -> None:
    project = make_project(api)
    response = api.put(f"/api/projects/{project['id']}", json={"workingDir": ["a"]})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("workingDir must be")


def test_put_on_an_unknown_project_is_404(api: httpx.Client) -> None:
    response = api.put("/api/projects/proj_0_missing", json={"name": "x"})
    assert_error(response, 404, "PROJECT_NOT_FOUND")


def test_every_update_moves_updated_at_strictly_forward(api: httpx.Client) -> None:
    project = make_project(api)
    stamps = [project["updatedAt"]]
    for n in range(3):
        response = api.put(f"/api/projects/{project['id']}", json={"description": str(n)})
        stamps.append(response.json()["updatedAt"])
    assert stamps == sorted(set(stamps))
    assert len(stamps) == 4


def test_an_empty_update_still_moves_updated_at_forward(api: httpx.Client) -> None:
    project = make_project(api)
    first = api.put(f"/api/projects/{project['id']}", json={}).json()
    second = api.put(f"/api/projects/{project['id']}", json={}).json()
    assert project["updatedAt"] < first["updatedAt"] < second["updatedAt"]


# -- delete ---------------------------------------------------------------------


def test_deleting_an_empty_project_answers_success_and_id(api: httpx.Client) -> None:
    project = make_project(api)
    response = api.delete(f"/api/projects/{project['id']}")
    assert response.status_code == 200
    assert response.json() == {"success": True, "id": project["id"]}


def test_a_deleted_project_is_gone(api: httpx.Client) -> None:
    project = make_project(api)
    api.delete(f"/api/projects/{project['id']}")
    assert_error(api.get(f"/api/projects/{project['id']}"), 404, "PROJECT_NOT_FOUND")
    assert project["id"] not in [p["id"] for p in api.get("/api/projects").json()]


def test_deleting_an_unknown_project_is_404(api: httpx.Client) -> None:
    assert_error(api.delete("/api/projects/proj_0_missing"), 404, "PROJECT_NOT_FOUND")


def test_a_project_with_tasks_cannot_be_deleted(api: httpx.Client) -> None:
    project = make_project(api)
    make_task(api, project["id"])
    make_task(api, project["id"])
    response = api.delete(f"/api/projects/{project['id']}")
    body = assert_error(response, 400, "PROJECT_HAS_DEPENDENCIES")
    assert body["details"] == {"tasks": 2, "sessions": 0}
    assert api.get(f"/api/projects/{project['id']}").status_code == 200


def test_a_project_with_sessions_cannot_be_deleted(api: httpx.Client) -> None:
    project = make_project(api)
    api.post("/api/sessions", json={"projectId": project["id"], "taskIds": []})
    response = api.delete(f"/api/projects/{project['id']}")
    body = assert_error(response, 400, "PROJECT_HAS_DEPENDENCIES")
    assert body["details"] == {"tasks": 0, "sessions": 1}


def test_project_dependencies_count_both_tasks_and_sessions(api: httpx.Client) -> None:
    project = make_project(api)
    task = make_task(api, project["id"])
    api.post("/api/sessions", json={"projectId": project["id"], "taskIds": [task["id"]]})
    api.post("/api/sessions", json={"projectId": project["id"], "taskIds": [task["id"]]})
    body = assert_error(
        api.delete(f"/api/projects/{project['id']}"), 400, "PROJECT_HAS_DEPENDENCIES"
    )
    assert body["details"] == {"tasks": 1, "sessions": 2}


def test_a_project_can_be_deleted_once_its_tasks_and_sessions_are_gone(api: httpx.Client) -> None:
    project = make_project(api)
    task = make_task(api, project["id"])
    session = api.post(
        "/api/sessions", json={"projectId": project["id"], "taskIds": [task["id"]]}
    ).json()
    api.delete(f"/api/sessions/{session['id']}")
    api.delete(f"/api/tasks/{task['id']}")
    assert api.delete(f"/api/projects/{project['id']}").status_code == 200
