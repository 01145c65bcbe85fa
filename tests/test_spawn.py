"""POST /api/sessions/spawn (SPEC section 6): the checks in their documented order,
and the session, env, metadata and links a spawn produces."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.helpers import SESSION_FIELDS, assert_error, make_project, make_task


def make_spawn_project(api: httpx.Client) -> dict[str, Any]:
    """A project with a working dir for its agents to run in."""
    return make_project(api, workingDir="/tmp")


def spawn(api: httpx.Client, **body: Any) -> httpx.Response:
    return api.post("/api/sessions/spawn", json=body)


def spawned(api: httpx.Client, **body: Any) -> Any:
    response = spawn(api, **body)
    assert response.status_code == 201, response.text
    return response.json()["session"]


def project_with_tasks(api: httpx.Client, count: int) -> tuple[str, list[str]]:
    project_id = make_spawn_project(api)["id"]
    return project_id, [make_task(api, project_id, title=f"Task {n}")["id"] for n in range(count)]


def sessions_of(api: httpx.Client, project_id: str) -> list[Any]:
    found: list[Any] = api.get("/api/sessions", params={"projectId": project_id}).json()
    return found


# -- the checks, in order -------------------------------------------------------


def test_no_project_id_is_missing_project_id(api: httpx.Client) -> None:
    response = spawn(api, taskIds=["task_1"])
    assert_error(response, 400, "missing_project_id", "projectId is required")


def test_an_empty_body_object_is_missing_project_id(api: httpx.Client) -> None:
    assert_error(spawn(api), 400, "missing_project_id")


@pytest.mark.parametrize("project_id", ["", None])
def test_an_empty_project_id_is_missing_project_id(api: httpx.Client, project_id: Any) -> None:
    assert_error(spawn(api, projectId=project_id, taskIds=["t"]), 400, "missing_project_id")


def test_missing_project_id_is_checked_before_task_ids(api: httpx.Client) -> None:
    assert_error(spawn(api, taskIds=[]), 400, "missing_project_id")


def test_an_unknown_project_is_project_not_found(api: httpx.Client) -> None:
    _, task_ids = project_with_tasks(api, 1)
    response = spawn(api, projectId="proj_0_missing", taskIds=task_ids)
    assert_error(response, 404, "PROJECT_NOT_FOUND")


def test_an_unknown_project_is_checked_before_task_ids(api: httpx.Client) -> None:
    assert_error(spawn(api, projectId="proj_0_missing"), 404, "PROJECT_NOT_FOUND")
    assert_error(
        spawn(api, projectId="proj_0_missing", taskIds=["task_0_missing"]),
        404,
        "PROJECT_NOT_FOUND",
    )


@pytest.mark.parametrize(
    "task_ids",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="empty"),
        pytest.param("task_1", id="a-string"),
        pytest.param([1, 2], id="numbers"),
        pytest.param(["task_0_missing", None], id="one-null"),
        pytest.param({"id": "task_1"}, id="an-object"),
        pytest.param(["../escape"], id="malformed-id"),
    ],
)
def test_task_ids_that_are_not_a_non_empty_list_of_ids_are_invalid(
    api: httpx.Client, task_ids: Any
) -> None:
    response = spawn(api, projectId=make_spawn_project(api)["id"], taskIds=task_ids)
    assert_error(response, 400, "invalid_task_ids", "taskIds must be a non-empty list of task ids")


def test_missing_task_ids_are_invalid(api: httpx.Client) -> None:
    response = spawn(api, projectId=make_spawn_project(api)["id"])
    assert_error(response, 400, "invalid_task_ids", "taskIds must be a non-empty list of task ids")


def test_an_unknown_task_is_task_not_found(api: httpx.Client) -> None:
    response = spawn(api, projectId=make_spawn_project(api)["id"], taskIds=["task_0_missing"])
    assert_error(response, 404, "task_not_found")


def test_one_unknown_task_among_several_creates_nothing(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 2)
    response = spawn(api, projectId=project_id, taskIds=[*task_ids, "task_0_missing"])
    assert_error(response, 404, "task_not_found")
    assert sessions_of(api, project_id) == []
    for task_id in task_ids:
        assert api.get(f"/api/tasks/{task_id}").json()["sessionIds"] == []


def test_a_task_of_another_project_is_refused(api: httpx.Client) -> None:
    _, (foreign,) = project_with_tasks(api, 1)
    project_id = make_spawn_project(api)["id"]
    response = spawn(api, projectId=project_id, taskIds=[foreign])
    assert_error(response, 400, "invalid_task_ids")
    assert sessions_of(api, project_id) == []
    assert api.get(f"/api/tasks/{foreign}").json()["sessionIds"] == []


def test_an_unknown_role_is_refused(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    response = spawn(api, projectId=project_id, taskIds=task_ids, role="manager")
    assert_error(response, 400, "VALIDATION_ERROR", "role must be one of worker, orchestrator")


def test_an_unknown_spawn_source_is_refused(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    response = spawn(api, projectId=project_id, taskIds=task_ids, spawnSource="cron")
    assert_error(
        response,
        400,
        "VALIDATION_ERROR",
        "spawnSource must be one of manual, orchestrator, ui, cli, api, dispatch",
    )


def test_a_malformed_skill_name_is_refused(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    response = spawn(api, projectId=project_id, taskIds=task_ids, skills=["../../x"])
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("skills ")
    assert sessions_of(api, project_id) == []


def test_a_context_that_is_not_an_object_is_refused(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    response = spawn(api, projectId=project_id, taskIds=task_ids, context="text")
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("context must be")


def test_a_spawn_body_that_is_not_json_is_415(api: httpx.Client) -> None:
    response = api.post(
        "/api/sessions/spawn", content=b"projectId=x", headers={"Content-Type": "text/plain"}
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


# -- the effect -----------------------------------------------------------------


def test_a_spawn_answers_201_with_success_session_id_and_session(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    response = spawn(api, projectId=project_id, taskIds=task_ids)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"success", "sessionId", "session"}
    assert body["success"] is True
    assert body["sessionId"] == body["session"]["id"]
    assert set(body["session"]) == SESSION_FIELDS
    assert api.get(f"/api/sessions/{body['sessionId']}").json() == body["session"]


def test_a_spawned_session_is_spawning(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    session = spawned(api, projectId=project_id, taskIds=task_ids)
    assert session["status"] == "spawning"
    assert session["completedAt"] is None
    assert session["projectId"] == project_id
    assert session["events"] == []
    assert session["lastActivity"] == session["startedAt"]


def test_a_spawned_session_is_active(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    session = spawned(api, projectId=project_id, taskIds=task_ids)
    active = api.get("/api/sessions", params={"projectId": project_id, "active": "true"}).json()
    assert [s["id"] for s in active] == [session["id"]]


def test_spawn_metadata_holds_the_defaults(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    session = spawned(api, projectId=project_id, taskIds=task_ids)
    assert session["metadata"] == {
        "skills": ["maestro-worker"],
        "role": "worker",
        "agent": "claude",
        "model": None,
        "spawnSource": "api",
        "spawnedBy": None,
        "spawnReason": None,
        "context": {},
    }


def test_spawn_metadata_holds_what_the_client_asked_for(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    parent = spawned(api, projectId=project_id, taskIds=task_ids, role="orchestrator")
    session = spawned(
        api,
        projectId=project_id,
        taskIds=task_ids,
        skills=["maestro-worker", "testing"],
        role="worker",
        agent="codex",
        model="o3",
        spawnSource="orchestrator",
        spawnedBy=parent["id"],
        spawnReason="split the work",
        context={"branch": "main", "depth": 1},
    )
    assert session["metadata"] == {
        "skills": ["maestro-worker", "testing"],
        "role": "worker",
        "agent": "codex",
        "model": "o3",
        "spawnSource": "orchestrator",
        "spawnedBy": parent["id"],
        "spawnReason": "split the work",
        "context": {"branch": "main", "depth": 1},
    }


def test_an_unknown_skill_is_kept_in_metadata(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    session = spawned(api, projectId=project_id, taskIds=task_ids, skills=["no-such-skill"])
    assert session["metadata"]["skills"] == ["no-such-skill"]
    assert session["env"]["MAESTRO_SKILLS"] == "no-such-skill"


def test_spawn_env_holds_the_session_context(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 2)
    session = spawned(
        api, projectId=project_id, taskIds=task_ids, skills=["maestro-worker", "testing"]
    )
    env = session["env"]
    assert env["MAESTRO_SESSION_ID"] == session["id"]
    assert env["MAESTRO_PROJECT_ID"] == project_id
    assert env["MAESTRO_TASK_IDS"] == ",".join(task_ids)
    assert env["MAESTRO_SKILLS"] == "maestro-worker,testing"
    assert env["MAESTRO_ROLE"] == "worker"
    assert set(env) >= {
        "MAESTRO_SESSION_ID",
        "MAESTRO_PROJECT_ID",
        "MAESTRO_TASK_IDS",
        "MAESTRO_SERVER_URL",
        "MAESTRO_SKILLS",
        "MAESTRO_ROLE",
    }


def test_spawn_env_server_url_reaches_this_server(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    url = spawned(api, projectId=project_id, taskIds=task_ids)["env"]["MAESTRO_SERVER_URL"]
    assert url.startswith("http")
    assert not url.endswith("/")
    response = httpx.get(f"{url}/api/sessions", params={"projectId": project_id}, timeout=5)
    assert response.status_code == 200
    assert len(response.json()) == 1


def test_spawn_env_server_url_is_the_configured_public_url(server_factory: Any) -> None:
    server: RunningServer = server_factory(MAESTRO_SERVER_URL="https://maestro.example.test/")
    with httpx.Client(base_url=server.url, timeout=10) as api:
        project_id, task_ids = project_with_tasks(api, 1)
        env = spawned(api, projectId=project_id, taskIds=task_ids)["env"]
    assert env["MAESTRO_SERVER_URL"] == "https://maestro.example.test"


def test_an_orchestrator_spawn_says_so_in_env_and_metadata(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    session = spawned(api, projectId=project_id, taskIds=task_ids, role="orchestrator")
    assert session["env"]["MAESTRO_ROLE"] == "orchestrator"
    assert session["metadata"]["role"] == "orchestrator"


def test_a_spawn_links_its_tasks_on_both_sides(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 2)
    session = spawned(api, projectId=project_id, taskIds=task_ids)
    assert session["taskIds"] == task_ids
    for task_id in task_ids:
        assert api.get(f"/api/tasks/{task_id}").json()["sessionIds"] == [session["id"]]


def test_a_spawn_appends_session_started_to_each_task(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 2)
    session = spawned(api, projectId=project_id, taskIds=task_ids)
    for task_id in task_ids:
        event = api.get(f"/api/tasks/{task_id}").json()["timeline"][-1]
        assert event["type"] == "session_started"
        assert event["sessionId"] == session["id"]


def test_a_task_named_twice_is_linked_once(api: httpx.Client) -> None:
    project_id, (task_id,) = project_with_tasks(api, 1)
    session = spawned(api, projectId=project_id, taskIds=[task_id, task_id])
    assert session["taskIds"] == [task_id]
    assert session["env"]["MAESTRO_TASK_IDS"] == task_id
    assert api.get(f"/api/tasks/{task_id}").json()["sessionIds"] == [session["id"]]


def test_a_spawn_uses_the_session_name_given(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    session = spawned(api, projectId=project_id, taskIds=task_ids, sessionName="Worker 7")
    assert session["name"] == "Worker 7"


def test_a_spawn_names_the_session_after_its_tasks_by_default(api: httpx.Client) -> None:
    project_id = make_spawn_project(api)["id"]
    first = make_task(api, project_id, title="Build the API")["id"]
    second = make_task(api, project_id, title="Other")["id"]
    assert spawned(api, projectId=project_id, taskIds=[first])["name"] == "Build the API"
    assert (
        spawned(api, projectId=project_id, taskIds=[first, second])["name"]
        == "Build the API (+1 more)"
    )


def test_every_spawn_makes_a_new_session(api: httpx.Client) -> None:
    project_id, task_ids = project_with_tasks(api, 1)
    first = spawned(api, projectId=project_id, taskIds=task_ids)
    second = spawned(api, projectId=project_id, taskIds=task_ids)
    assert first["id"] != second["id"]
    task = api.get(f"/api/tasks/{task_ids[0]}").json()
    assert task["sessionIds"] == [first["id"], second["id"]]
