"""/api/sessions: create, read, filter, update, delete, and the task links, which the
server keeps in step on both sides whichever way they are made or broken."""

from __future__ import annotations

import re
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.helpers import SESSION_FIELDS, assert_error, make_project, make_session, make_task

SESSION_ID_RE = re.compile(r"^sess_\d{13}_[a-z0-9]+$")
EVENT_ID_RE = re.compile(r"^evt_\d{13}_[a-z0-9]+$")


def get_task(api: httpx.Client, task_id: str) -> Any:
    response = api.get(f"/api/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()


def get_session(api: httpx.Client, session_id: str) -> Any:
    response = api.get(f"/api/sessions/{session_id}")
    assert response.status_code == 200, response.text
    return response.json()


def patch_session(api: httpx.Client, session_id: str, **fields: Any) -> Any:
    response = api.patch(f"/api/sessions/{session_id}", json=fields)
    assert response.status_code == 200, response.text
    return response.json()


def list_sessions(api: httpx.Client, **params: str) -> list[str]:
    response = api.get("/api/sessions", params=params)
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()]


def list_tasks_of_session(api: httpx.Client, session_id: str) -> list[str]:
    return [t["id"] for t in api.get("/api/tasks", params={"sessionId": session_id}).json()]


def link_events(task: dict[str, Any], session_id: str) -> list[str]:
    """The session_started/session_ended events a task holds for one session."""
    return [
        e["type"]
        for e in task["timeline"]
        if e["type"] in ("session_started", "session_ended") and e.get("sessionId") == session_id
    ]


def project_with_tasks(api: httpx.Client, count: int) -> tuple[str, list[dict[str, Any]]]:
    project_id = make_project(api)["id"]
    return project_id, [make_task(api, project_id, title=f"Task {n}") for n in range(count)]


# -- create ---------------------------------------------------------------------


def test_creating_a_session_answers_201_with_every_field_and_its_defaults(
    api: httpx.Client,
) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    response = api.post("/api/sessions", json={"projectId": project_id, "taskIds": [task["id"]]})
    assert response.status_code == 201
    session = response.json()
    assert set(session) == SESSION_FIELDS
    assert SESSION_ID_RE.match(session["id"])
    assert session["projectId"] == project_id
    assert session["taskIds"] == [task["id"]]
    assert session["agentId"] is None
    assert session["status"] == "running"
    assert session["env"] == {}
    assert session["events"] == []
    assert session["metadata"] == {}
    assert isinstance(session["startedAt"], int)
    assert session["lastActivity"] == session["startedAt"]
    assert session["completedAt"] is None


def test_a_created_session_can_be_read_back(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    session = make_session(api, project_id, [task["id"]])
    assert get_session(api, session["id"]) == session


def test_a_session_keeps_the_fields_given_on_create(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    session = make_session(
        api,
        project_id,
        [],
        name="Night shift",
        agentId="claude",
        status="spawning",
        env={"A": "1"},
        metadata={"model": "opus", "depth": 2},
        hostname="build-box",
        platform="plan9",
    )
    assert session["name"] == "Night shift"
    assert session["agentId"] == "claude"
    assert session["status"] == "spawning"
    assert session["env"] == {"A": "1"}
    assert session["metadata"] == {"model": "opus", "depth": 2}
    assert session["hostname"] == "build-box"
    assert session["platform"] == "plan9"


def test_a_session_may_start_with_no_tasks(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    assert session["taskIds"] == []
    assert isinstance(session["name"], str) and session["name"]


def test_a_session_without_task_ids_is_refused(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    response = api.post("/api/sessions", json={"projectId": project_id, "name": "Nameless"})
    body = assert_error(response, 400, "VALIDATION_ERROR", "taskIds is required")
    assert body["details"] == {"field": "taskIds"}
    assert list_sessions(api, projectId=project_id) == []


def test_hostname_and_platform_default_to_the_servers(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    assert session["hostname"] == socket.gethostname()
    assert session["platform"] == sys.platform


def test_the_name_defaults_to_the_first_tasks_title(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    task = make_task(api, project_id, title="Fix login")
    assert make_session(api, project_id, [task["id"]])["name"] == "Fix login"


def test_the_default_name_counts_the_other_tasks(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    ids = [make_task(api, project_id, title=title)["id"] for title in ("Fix login", "B", "C")]
    assert make_session(api, project_id, ids)["name"] == "Fix login (+2 more)"


def test_the_legacy_task_id_field_links_one_task(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    response = api.post("/api/sessions", json={"projectId": project_id, "taskId": task["id"]})
    assert response.status_code == 201
    session = response.json()
    assert session["taskIds"] == [task["id"]]
    assert get_task(api, task["id"])["sessionIds"] == [session["id"]]


def test_a_repeated_task_id_is_linked_once(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    session = make_session(api, project_id, [task["id"], task["id"]])
    assert session["taskIds"] == [task["id"]]
    assert get_task(api, task["id"])["sessionIds"] == [session["id"]]


def test_creating_a_session_links_its_tasks_on_both_sides(api: httpx.Client) -> None:
    project_id, tasks = project_with_tasks(api, 2)
    session = make_session(api, project_id, [t["id"] for t in tasks])
    assert session["taskIds"] == [t["id"] for t in tasks]
    for task in tasks:
        after = get_task(api, task["id"])
        assert after["sessionIds"] == [session["id"]]
        assert after["updatedAt"] > task["updatedAt"]


def test_creating_a_session_appends_session_started_to_each_task(api: httpx.Client) -> None:
    project_id, tasks = project_with_tasks(api, 2)
    session = make_session(api, project_id, [t["id"] for t in tasks])
    for task in tasks:
        timeline = get_task(api, task["id"])["timeline"]
        assert [e["type"] for e in timeline] == ["created", "session_started"]
        event = timeline[-1]
        assert event["sessionId"] == session["id"]
        assert EVENT_ID_RE.match(event["id"])
        assert isinstance(event["timestamp"], int)


def test_a_client_may_choose_the_session_id(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    chosen = f"mine-{project_id}"
    session = make_session(api, project_id, [], id=chosen)
    assert session["id"] == chosen
    assert get_session(api, chosen)["id"] == chosen


def test_a_duplicate_session_id_is_409(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    chosen = f"dup-{project_id}"
    make_session(api, project_id, [], id=chosen, name="original")
    response = api.post(
        "/api/sessions",
        json={"projectId": project_id, "taskIds": [], "id": chosen, "name": "impostor"},
    )
    assert_error(response, 409, "SESSION_EXISTS")
    assert get_session(api, chosen)["name"] == "original"


def test_a_session_id_that_could_address_a_path_is_refused(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    for bad in ("../../etc/passwd", "..", ".", "a/b", "", "x" * 129, "-lead"):
        response = api.post(
            "/api/sessions", json={"projectId": project_id, "taskIds": [], "id": bad}
        )
        body = assert_error(response, 400, "VALIDATION_ERROR")
        assert body["message"].startswith("id ")
    assert list_sessions(api, projectId=project_id) == []


def test_a_session_without_project_is_refused(api: httpx.Client) -> None:
    response = api.post("/api/sessions", json={"taskIds": []})
    assert_error(response, 400, "VALIDATION_ERROR", "projectId is required")


def test_a_session_in_an_unknown_project_is_404(api: httpx.Client) -> None:
    response = api.post("/api/sessions", json={"projectId": "proj_0_missing", "taskIds": []})
    assert_error(response, 404, "PROJECT_NOT_FOUND")


def test_a_session_with_an_unknown_task_is_404_and_creates_nothing(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    response = api.post(
        "/api/sessions", json={"projectId": project_id, "taskIds": [task["id"], "task_0_missing"]}
    )
    assert_error(response, 404, "TASK_NOT_FOUND")
    assert list_sessions(api, projectId=project_id) == []
    assert get_task(api, task["id"]) == task


def test_a_session_with_a_task_of_another_project_is_refused(api: httpx.Client) -> None:
    _, (foreign,) = project_with_tasks(api, 1)
    project_id = make_project(api)["id"]
    response = api.post("/api/sessions", json={"projectId": project_id, "taskIds": [foreign["id"]]})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("taskIds ")
    assert get_task(api, foreign["id"])["sessionIds"] == []


def test_a_malformed_task_id_on_create_is_refused(api: httpx.Client) -> None:
    response = api.post(
        "/api/sessions", json={"projectId": make_project(api)["id"], "taskIds": ["../x"]}
    )
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("taskIds ")


def test_task_ids_that_are_not_a_list_are_refused(api: httpx.Client) -> None:
    response = api.post(
        "/api/sessions", json={"projectId": make_project(api)["id"], "taskIds": "t1"}
    )
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("taskIds must be")


def test_a_session_with_an_unknown_status_is_refused(api: httpx.Client) -> None:
    response = api.post(
        "/api/sessions",
        json={"projectId": make_project(api)["id"], "taskIds": [], "status": "idle"},
    )
    assert_error(
        response,
        400,
        "VALIDATION_ERROR",
        "status must be one of spawning, running, completed, failed",
    )


def test_env_values_must_be_strings(api: httpx.Client) -> None:
    response = api.post(
        "/api/sessions", json={"projectId": make_project(api)["id"], "taskIds": [], "env": {"A": 1}}
    )
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("env")


def test_a_session_created_completed_has_completed_at(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [], status="completed")
    assert session["completedAt"] == session["startedAt"]


# -- read -----------------------------------------------------------------------


def test_getting_an_unknown_session_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/api/sessions/sess_0_missing"), 404, "SESSION_NOT_FOUND")


def test_a_malformed_session_id_in_the_path_is_400(api: httpx.Client) -> None:
    assert_error(api.get("/api/sessions/..."), 400, "VALIDATION_ERROR")


# -- list and filters -----------------------------------------------------------


def test_sessions_of_a_project_are_listed_oldest_first(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    # Enough creations that several fall in one millisecond.
    made = [make_session(api, project_id, []) for _ in range(30)]
    make_session(api, make_project(api)["id"], [])
    assert list_sessions(api, projectId=project_id) == [session["id"] for session in made]
    stamps = [session["startedAt"] for session in made]
    assert stamps == sorted(set(stamps))


def test_the_listing_holds_full_sessions(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    session = make_session(api, project_id, [])
    assert api.get("/api/sessions", params={"projectId": project_id}).json() == [session]


def test_sessions_can_be_filtered_by_task(api: httpx.Client) -> None:
    project_id, (task, other) = project_with_tasks(api, 2)
    linked = make_session(api, project_id, [task["id"], other["id"]])
    make_session(api, project_id, [other["id"]])
    assert list_sessions(api, taskId=task["id"]) == [linked["id"]]


def test_sessions_can_be_filtered_by_status(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    make_session(api, project_id, [])
    failed = make_session(api, project_id, [], status="failed")
    assert list_sessions(api, projectId=project_id, status="failed") == [failed["id"]]


def test_active_true_drops_completed_and_failed_sessions(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    running = make_session(api, project_id, [], status="running")
    spawning = make_session(api, project_id, [], status="spawning")
    make_session(api, project_id, [], status="completed")
    make_session(api, project_id, [], status="failed")
    assert list_sessions(api, projectId=project_id, active="true") == [
        running["id"],
        spawning["id"],
    ]
    assert len(list_sessions(api, projectId=project_id, active="false")) == 4


def test_session_filters_combine(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    wanted = make_session(api, project_id, [task["id"]], status="spawning")
    make_session(api, project_id, [task["id"]], status="completed")
    make_session(api, project_id, [], status="spawning")
    assert list_sessions(
        api, projectId=project_id, taskId=task["id"], status="spawning", active="true"
    ) == [wanted["id"]]
    assert list_sessions(api, taskId=task["id"], status="completed", active="true") == []


def test_an_unknown_status_filter_is_400(api: httpx.Client) -> None:
    response = api.get("/api/sessions", params={"status": "idle"})
    assert_error(
        response,
        400,
        "VALIDATION_ERROR",
        "status must be one of spawning, running, completed, failed",
    )


def test_a_malformed_active_flag_is_400(api: httpx.Client) -> None:
    assert_error(api.get("/api/sessions", params={"active": "yes"}), 400, "VALIDATION_ERROR")


def test_a_malformed_task_filter_is_400(api: httpx.Client) -> None:
    assert_error(api.get("/api/sessions", params={"taskId": "../t"}), 400, "VALIDATION_ERROR")


# -- update ---------------------------------------------------------------------


def test_patch_changes_name_and_agent(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    updated = patch_session(api, session["id"], name="Renamed", agentId="codex")
    assert updated["name"] == "Renamed"
    assert updated["agentId"] == "codex"
    assert updated["startedAt"] == session["startedAt"]
    assert get_session(api, session["id"]) == updated


def test_patch_can_clear_the_agent(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [], agentId="claude")
    assert patch_session(api, session["id"], agentId=None)["agentId"] is None


def test_completing_a_session_sets_completed_at(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    updated = patch_session(api, session["id"], status="completed")
    assert updated["status"] == "completed"
    assert updated["completedAt"] is not None
    assert updated["completedAt"] >= session["startedAt"]


def test_a_failed_session_has_completed_at(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    assert patch_session(api, session["id"], status="failed")["completedAt"] is not None


def test_a_session_back_to_running_clears_completed_at(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    patch_session(api, session["id"], status="failed")
    assert patch_session(api, session["id"], status="running")["completedAt"] is None


def test_a_session_back_to_spawning_clears_completed_at(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [], status="completed")
    assert patch_session(api, session["id"], status="spawning")["completedAt"] is None


def test_patch_refuses_an_unknown_status(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    response = api.patch(f"/api/sessions/{session['id']}", json={"status": "done"})
    assert_error(
        response,
        400,
        "VALIDATION_ERROR",
        "status must be one of spawning, running, completed, failed",
    )


def test_patch_merges_env_instead_of_replacing_it(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [], env={"A": "1", "B": "2"})
    updated = patch_session(api, session["id"], env={"B": "two", "C": "3"})
    assert updated["env"] == {"A": "1", "B": "two", "C": "3"}


def test_patch_merges_metadata_shallowly(api: httpx.Client) -> None:
    session = make_session(
        api, make_project(api)["id"], [], metadata={"keep": 1, "nested": {"a": 1, "b": 2}}
    )
    updated = patch_session(api, session["id"], metadata={"nested": {"c": 3}, "new": True})
    assert updated["metadata"] == {"keep": 1, "nested": {"c": 3}, "new": True}


def test_patch_appends_events_with_ids_and_timestamps(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    updated = patch_session(
        api,
        session["id"],
        events=[{"type": "file_modified", "data": {"path": "a.py"}}, {"type": "ping"}],
    )
    first, second = updated["events"]
    assert set(first) == {"id", "timestamp", "type", "data"}
    assert (first["type"], first["data"]) == ("file_modified", {"path": "a.py"})
    assert (second["type"], second["data"]) == ("ping", None)
    assert EVENT_ID_RE.match(first["id"]) and EVENT_ID_RE.match(second["id"])
    assert first["id"] != second["id"]
    assert first["timestamp"] >= session["startedAt"]


def test_session_events_are_appended_not_replaced(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    once = patch_session(api, session["id"], events=[{"type": "one"}])
    twice = patch_session(api, session["id"], events=[{"type": "two"}])
    assert twice["events"][0] == once["events"][0]
    assert [e["type"] for e in twice["events"]] == ["one", "two"]


def test_a_session_event_without_type_is_refused(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    response = api.patch(f"/api/sessions/{session['id']}", json={"events": [{"data": 1}]})
    assert_error(response, 400, "VALIDATION_ERROR")
    assert get_session(api, session["id"]) == session


def test_two_patches_back_to_back_move_last_activity_strictly_forward(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    first = patch_session(api, session["id"], metadata={"n": 1})
    second = patch_session(api, session["id"], metadata={"n": 2})
    assert session["lastActivity"] < first["lastActivity"] < second["lastActivity"]


def test_patching_an_unknown_session_is_404(api: httpx.Client) -> None:
    response = api.patch("/api/sessions/sess_0_missing", json={"name": "x"})
    assert_error(response, 404, "SESSION_NOT_FOUND")


def test_patch_without_a_json_content_type_is_415(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    response = api.patch(
        f"/api/sessions/{session['id']}", content=b"<x/>", headers={"Content-Type": "text/xml"}
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


# -- links through PATCH /api/sessions/:id taskIds ------------------------------


def test_patching_task_ids_links_new_tasks_on_both_sides(api: httpx.Client) -> None:
    project_id, (first, second) = project_with_tasks(api, 2)
    session = make_session(api, project_id, [first["id"]])
    updated = patch_session(api, session["id"], taskIds=[first["id"], second["id"]])
    assert updated["taskIds"] == [first["id"], second["id"]]
    after = get_task(api, second["id"])
    assert after["sessionIds"] == [session["id"]]
    assert link_events(after, session["id"]) == ["session_started"]
    assert link_events(get_task(api, first["id"]), session["id"]) == ["session_started"]


def test_patching_task_ids_unlinks_dropped_tasks_on_both_sides(api: httpx.Client) -> None:
    project_id, (first, second) = project_with_tasks(api, 2)
    session = make_session(api, project_id, [first["id"], second["id"]])
    updated = patch_session(api, session["id"], taskIds=[second["id"]])
    assert updated["taskIds"] == [second["id"]]
    after = get_task(api, first["id"])
    assert after["sessionIds"] == []
    assert link_events(after, session["id"]) == ["session_started", "session_ended"]
    assert get_task(api, second["id"])["sessionIds"] == [session["id"]]


def test_patching_task_ids_to_empty_unlinks_every_task(api: httpx.Client) -> None:
    project_id, tasks = project_with_tasks(api, 2)
    session = make_session(api, project_id, [t["id"] for t in tasks])
    assert patch_session(api, session["id"], taskIds=[])["taskIds"] == []
    for task in tasks:
        assert get_task(api, task["id"])["sessionIds"] == []


def test_patching_task_ids_moves_the_tasks_updated_at_forward(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    session = make_session(api, project_id, [])
    before = get_task(api, task["id"])["updatedAt"]
    patch_session(api, session["id"], taskIds=[task["id"]])
    assert get_task(api, task["id"])["updatedAt"] > before


def test_patching_task_ids_with_an_unknown_task_changes_nothing(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    session = make_session(api, project_id, [], name="Keep")
    response = api.patch(
        f"/api/sessions/{session['id']}",
        json={"name": "Changed", "taskIds": [task["id"], "task_0_missing"]},
    )
    assert_error(response, 404, "TASK_NOT_FOUND")
    assert get_session(api, session["id"]) == session
    assert get_task(api, task["id"]) == task


def test_patching_task_ids_with_a_task_of_another_project_is_refused(api: httpx.Client) -> None:
    _, (foreign,) = project_with_tasks(api, 1)
    session = make_session(api, make_project(api)["id"], [])
    response = api.patch(f"/api/sessions/{session['id']}", json={"taskIds": [foreign["id"]]})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("taskIds ")
    assert get_task(api, foreign["id"])["sessionIds"] == []
    assert get_session(api, session["id"])["taskIds"] == []


# -- links through PATCH /api/tasks/:id sessionIds ------------------------------


def test_patching_a_tasks_session_ids_links_both_sides(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    session = make_session(api, project_id, [])
    response = api.patch(f"/api/tasks/{task['id']}", json={"sessionIds": [session["id"]]})
    assert response.status_code == 200
    assert response.json()["sessionIds"] == [session["id"]]
    assert link_events(response.json(), session["id"]) == ["session_started"]
    after = get_session(api, session["id"])
    assert after["taskIds"] == [task["id"]]
    assert after["lastActivity"] > session["lastActivity"]


def test_patching_a_tasks_session_ids_unlinks_dropped_sessions(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    dropped = make_session(api, project_id, [task["id"]])
    kept = make_session(api, project_id, [task["id"]])
    response = api.patch(f"/api/tasks/{task['id']}", json={"sessionIds": [kept["id"]]})
    assert response.status_code == 200
    updated = response.json()
    assert updated["sessionIds"] == [kept["id"]]
    assert link_events(updated, dropped["id"]) == ["session_started", "session_ended"]
    after = get_session(api, dropped["id"])
    assert after["taskIds"] == []
    assert after["lastActivity"] > dropped["lastActivity"]
    assert get_session(api, kept["id"])["taskIds"] == [task["id"]]


def test_patching_a_tasks_session_ids_with_an_unknown_session_changes_nothing(
    api: httpx.Client,
) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    session = make_session(api, project_id, [])
    response = api.patch(
        f"/api/tasks/{task['id']}", json={"sessionIds": [session["id"], "sess_0_missing"]}
    )
    assert_error(response, 404, "SESSION_NOT_FOUND")
    assert get_task(api, task["id"]) == task
    assert get_session(api, session["id"]) == session


def test_patching_a_tasks_session_ids_with_a_session_of_another_project_is_refused(
    api: httpx.Client,
) -> None:
    foreign = make_session(api, make_project(api)["id"], [])
    _, (task,) = project_with_tasks(api, 1)
    response = api.patch(f"/api/tasks/{task['id']}", json={"sessionIds": [foreign["id"]]})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("sessionIds ")
    assert get_session(api, foreign["id"])["taskIds"] == []
    assert get_task(api, task["id"])["sessionIds"] == []


# -- link endpoints -------------------------------------------------------------


def test_linking_a_task_answers_the_session_and_links_both_sides(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    session = make_session(api, project_id, [])
    response = api.post(f"/api/sessions/{session['id']}/tasks/{task['id']}")
    assert response.status_code == 200
    linked = response.json()
    assert set(linked) == SESSION_FIELDS
    assert linked["taskIds"] == [task["id"]]
    assert linked["lastActivity"] > session["lastActivity"]
    after = get_task(api, task["id"])
    assert after["sessionIds"] == [session["id"]]
    assert link_events(after, session["id"]) == ["session_started"]
    assert after["updatedAt"] > task["updatedAt"]


def test_linking_twice_changes_nothing(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    session = make_session(api, project_id, [])
    first = api.post(f"/api/sessions/{session['id']}/tasks/{task['id']}").json()
    task_after_first = get_task(api, task["id"])
    second = api.post(f"/api/sessions/{session['id']}/tasks/{task['id']}")
    assert second.status_code == 200
    assert second.json() == first
    assert get_task(api, task["id"]) == task_after_first


def test_linking_an_unknown_task_is_404(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    response = api.post(f"/api/sessions/{session['id']}/tasks/task_0_missing")
    assert_error(response, 404, "TASK_NOT_FOUND")
    assert get_session(api, session["id"]) == session


def test_linking_to_an_unknown_session_is_404(api: httpx.Client) -> None:
    _, (task,) = project_with_tasks(api, 1)
    response = api.post(f"/api/sessions/sess_0_missing/tasks/{task['id']}")
    assert_error(response, 404, "SESSION_NOT_FOUND")
    assert get_task(api, task["id"]) == task


def test_linking_a_task_of_another_project_is_refused(api: httpx.Client) -> None:
    _, (foreign,) = project_with_tasks(api, 1)
    session = make_session(api, make_project(api)["id"], [])
    response = api.post(f"/api/sessions/{session['id']}/tasks/{foreign['id']}")
    assert_error(response, 400, "VALIDATION_ERROR")
    assert get_task(api, foreign["id"])["sessionIds"] == []
    assert get_session(api, session["id"])["taskIds"] == []


def test_linking_with_a_malformed_task_id_is_400(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    response = api.post(f"/api/sessions/{session['id']}/tasks/-x")
    assert_error(response, 400, "VALIDATION_ERROR")


def test_linking_accepts_an_empty_json_body(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    session = make_session(api, project_id, [])
    response = api.post(
        f"/api/sessions/{session['id']}/tasks/{task['id']}",
        content=b"",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["taskIds"] == [task["id"]]


def test_concurrent_links_to_one_session_are_all_kept(api: httpx.Client) -> None:
    project_id, tasks = project_with_tasks(api, 12)
    session = make_session(api, project_id, [])

    def link(task_id: str) -> int:
        url = f"{api.base_url}/api/sessions/{session['id']}/tasks/{task_id}"
        response = httpx.post(url, timeout=10)
        assert response.status_code == 200, response.text
        stamp: int = response.json()["lastActivity"]
        return stamp

    with ThreadPoolExecutor(max_workers=6) as pool:
        stamps = list(pool.map(link, [t["id"] for t in tasks]))
    after = get_session(api, session["id"])
    assert sorted(after["taskIds"]) == sorted(t["id"] for t in tasks)
    assert len(set(stamps)) == len(tasks)
    for task in tasks:
        assert get_task(api, task["id"])["sessionIds"] == [session["id"]]


def test_unlinking_a_task_answers_the_session_and_unlinks_both_sides(api: httpx.Client) -> None:
    project_id, (task, kept) = project_with_tasks(api, 2)
    session = make_session(api, project_id, [task["id"], kept["id"]])
    response = api.delete(f"/api/sessions/{session['id']}/tasks/{task['id']}")
    assert response.status_code == 200
    unlinked = response.json()
    assert unlinked["taskIds"] == [kept["id"]]
    assert unlinked["lastActivity"] > session["lastActivity"]
    after = get_task(api, task["id"])
    assert after["sessionIds"] == []
    assert link_events(after, session["id"]) == ["session_started", "session_ended"]


def test_unlinking_a_task_that_is_not_linked_changes_nothing(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    session = make_session(api, project_id, [])
    response = api.delete(f"/api/sessions/{session['id']}/tasks/{task['id']}")
    assert response.status_code == 200
    assert response.json() == session
    assert get_task(api, task["id"]) == task


def test_unlinking_twice_changes_nothing_the_second_time(api: httpx.Client) -> None:
    project_id, (task,) = project_with_tasks(api, 1)
    session = make_session(api, project_id, [task["id"]])
    first = api.delete(f"/api/sessions/{session['id']}/tasks/{task['id']}").json()
    task_after_first = get_task(api, task["id"])
    second = api.delete(f"/api/sessions/{session['id']}/tasks/{task['id']}")
    assert second.status_code == 200
    assert second.json() == first
    assert get_task(api, task["id"]) == task_after_first


def test_unlinking_an_unknown_task_is_404(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    response = api.delete(f"/api/sessions/{session['id']}/tasks/task_0_missing")
    assert_error(response, 404, "TASK_NOT_FOUND")


def test_unlinking_from_an_unknown_session_is_404(api: httpx.Client) -> None:
    _, (task,) = project_with_tasks(api, 1)
    response = api.delete(f"/api/sessions/sess_0_missing/tasks/{task['id']}")
    assert_error(response, 404, "SESSION_NOT_FOUND")


# -- delete ---------------------------------------------------------------------


def test_deleting_a_session_answers_success_and_id(api: httpx.Client) -> None:
    session = make_session(api, make_project(api)["id"], [])
    response = api.delete(f"/api/sessions/{session['id']}")
    assert response.status_code == 200
    assert response.json() == {"success": True, "id": session["id"]}


def test_a_deleted_session_is_gone(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    session = make_session(api, project_id, [])
    api.delete(f"/api/sessions/{session['id']}")
    assert_error(api.get(f"/api/sessions/{session['id']}"), 404, "SESSION_NOT_FOUND")
    assert list_sessions(api, projectId=project_id) == []


def test_deleting_a_session_unlinks_its_tasks(api: httpx.Client) -> None:
    project_id, tasks = project_with_tasks(api, 2)
    session = make_session(api, project_id, [t["id"] for t in tasks])
    other = make_session(api, project_id, [tasks[0]["id"]])
    api.delete(f"/api/sessions/{session['id']}")
    assert get_task(api, tasks[0]["id"])["sessionIds"] == [other["id"]]
    assert get_task(api, tasks[1]["id"])["sessionIds"] == []
    assert list_tasks_of_session(api, session["id"]) == []


def test_deleting_a_session_appends_session_ended_to_each_task(api: httpx.Client) -> None:
    project_id, tasks = project_with_tasks(api, 2)
    session = make_session(api, project_id, [t["id"] for t in tasks])
    linked = [get_task(api, t["id"]) for t in tasks]
    api.delete(f"/api/sessions/{session['id']}")
    for before in linked:
        after = get_task(api, before["id"])
        assert link_events(after, session["id"]) == ["session_started", "session_ended"]
        assert after["updatedAt"] > before["updatedAt"]


def test_deleting_an_unknown_session_is_404(api: httpx.Client) -> None:
    assert_error(api.delete("/api/sessions/sess_0_missing"), 404, "SESSION_NOT_FOUND")


def test_a_deleted_sessions_id_may_be_used_again(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    chosen = f"again-{project_id}"
    make_session(api, project_id, [], id=chosen)
    api.delete(f"/api/sessions/{chosen}")
    assert make_session(api, project_id, [], id=chosen)["id"] == chosen
