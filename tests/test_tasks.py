"""/api/tasks: create, read, filter, update, timeline, children, delete, and the
rules the server keeps for them (status stamps, parents, dependencies)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.helpers import assert_error, make_project, make_session, make_task

TASK_ID_RE = re.compile(r"^task_\d{13}_[a-z0-9]+$")
EVENT_ID_RE = re.compile(r"^evt_\d{13}_[a-z0-9]+$")
TASK_FIELDS = {
    "id",
    "projectId",
    "parentId",
    "title",
    "description",
    "initialPrompt",
    "status",
    "priority",
    "sessionIds",
    "skillIds",
    "agentIds",
    "dependencies",
    "autoStart",  # SPEC section 12 (dispatch)
    "subtasks",
    "timeline",
    "createdAt",
    "updatedAt",
    "startedAt",
    "completedAt",
}


def get_task(api: httpx.Client, task_id: str) -> dict[str, Any]:
    response = api.get(f"/api/tasks/{task_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def patch_task(api: httpx.Client, task_id: str, **fields: Any) -> dict[str, Any]:
    response = api.patch(f"/api/tasks/{task_id}", json=fields)
    assert response.status_code == 200, response.text
    updated: dict[str, Any] = response.json()
    return updated


def list_tasks(api: httpx.Client, **params: str) -> list[str]:
    response = api.get("/api/tasks", params=params)
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()]


def event_types(task: dict[str, Any]) -> list[str]:
    return [event["type"] for event in task["timeline"]]


# -- create ---------------------------------------------------------------------


def test_creating_a_task_answers_201_with_every_field_and_its_defaults(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    response = api.post("/api/tasks", json={"projectId": project_id, "title": "Write docs"})
    assert response.status_code == 201
    task = response.json()
    assert set(task) == TASK_FIELDS
    assert TASK_ID_RE.match(task["id"])
    assert task["projectId"] == project_id
    assert task["title"] == "Write docs"
    assert task["parentId"] is None
    assert task["description"] == ""
    assert task["initialPrompt"] == ""
    assert task["status"] == "pending"
    assert task["priority"] == "medium"
    assert task["autoStart"] is False
    for field in ("sessionIds", "skillIds", "agentIds", "dependencies", "subtasks"):
        assert task[field] == []
    assert task["updatedAt"] == task["createdAt"]
    assert task["startedAt"] is None
    assert task["completedAt"] is None


def test_a_new_task_timeline_holds_exactly_one_created_event(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    (event,) = task["timeline"]
    assert event["type"] == "created"
    assert EVENT_ID_RE.match(event["id"])
    assert event["timestamp"] == task["createdAt"]


def test_a_task_keeps_every_optional_field_given_on_create(api: httpx.Client) -> None:
    task = make_task(
        api,
        make_project(api)["id"],
        description="Long text",
        initialPrompt="Do it well",
        priority="high",
        skillIds=["maestro-worker"],
        agentIds=["claude"],
    )
    assert task["description"] == "Long text"
    assert task["initialPrompt"] == "Do it well"
    assert task["priority"] == "high"
    assert task["skillIds"] == ["maestro-worker"]
    assert task["agentIds"] == ["claude"]


def test_a_created_task_can_be_read_back_with_subtasks_and_timeline(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    assert get_task(api, task["id"]) == task


def test_task_title_is_stored_trimmed(api: httpx.Client) -> None:
    assert make_task(api, make_project(api)["id"], title="  Fix bug\t")["title"] == "Fix bug"


def test_task_without_title_is_refused(api: httpx.Client) -> None:
    response = api.post("/api/tasks", json={"projectId": make_project(api)["id"]})
    assert_error(response, 400, "VALIDATION_ERROR", "title is required")


def test_task_with_blank_title_is_refused(api: httpx.Client) -> None:
    response = api.post("/api/tasks", json={"projectId": make_project(api)["id"], "title": "  "})
    assert_error(response, 400, "VALIDATION_ERROR", "title is required")


def test_task_without_project_is_refused(api: httpx.Client) -> None:
    response = api.post("/api/tasks", json={"title": "Orphan"})
    assert_error(response, 400, "VALIDATION_ERROR", "projectId is required")


def test_task_in_an_unknown_project_is_404(api: httpx.Client) -> None:
    response = api.post("/api/tasks", json={"projectId": "proj_0_missing", "title": "x"})
    assert_error(response, 404, "PROJECT_NOT_FOUND")


def test_task_with_a_malformed_project_id_is_400(api: httpx.Client) -> None:
    response = api.post("/api/tasks", json={"projectId": "../etc", "title": "x"})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("projectId ")


def test_task_with_an_unknown_priority_is_refused(api: httpx.Client) -> None:
    response = api.post(
        "/api/tasks",
        json={"projectId": make_project(api)["id"], "title": "x", "priority": "urgent"},
    )
    assert_error(response, 400, "VALIDATION_ERROR", "priority must be one of low, medium, high")


def test_task_with_an_unknown_status_is_refused(api: httpx.Client) -> None:
    response = api.post(
        "/api/tasks", json={"projectId": make_project(api)["id"], "title": "x", "status": "done"}
    )
    assert_error(
        response,
        400,
        "VALIDATION_ERROR",
        "status must be one of pending, in_progress, completed, blocked",
    )


def test_task_with_a_title_of_the_wrong_type_is_refused(api: httpx.Client) -> None:
    response = api.post("/api/tasks", json={"projectId": make_project(api)["id"], "title": 7})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("title must be")


def test_a_task_created_in_progress_has_started_at(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"], status="in_progress")
    assert task["startedAt"] == task["createdAt"]
    assert task["completedAt"] is None


def test_a_task_created_completed_has_completed_at(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"], status="completed")
    assert task["completedAt"] == task["createdAt"]


def test_a_task_can_be_created_under_a_parent(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    parent = make_task(api, project_id)
    child = make_task(api, project_id, parentId=parent["id"])
    assert child["parentId"] == parent["id"]


def test_a_task_under_an_unknown_parent_is_404(api: httpx.Client) -> None:
    response = api.post(
        "/api/tasks",
        json={"projectId": make_project(api)["id"], "title": "x", "parentId": "task_0_missing"},
    )
    assert_error(response, 404, "TASK_NOT_FOUND")


def test_a_task_under_a_parent_of_another_project_is_refused(api: httpx.Client) -> None:
    foreign = make_task(api, make_project(api)["id"])
    project_id = make_project(api)["id"]
    response = api.post(
        "/api/tasks", json={"projectId": project_id, "title": "x", "parentId": foreign["id"]}
    )
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("parentId ")
    assert list_tasks(api, projectId=project_id) == []


def test_a_task_can_depend_on_tasks_of_its_project(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    first = make_task(api, project_id)
    second = make_task(api, project_id)
    task = make_task(api, project_id, dependencies=[first["id"], second["id"], first["id"]])
    assert task["dependencies"] == [first["id"], second["id"]]


def test_a_dependency_on_a_task_of_another_project_is_refused(api: httpx.Client) -> None:
    foreign = make_task(api, make_project(api)["id"])
    response = api.post(
        "/api/tasks",
        json={"projectId": make_project(api)["id"], "title": "x", "dependencies": [foreign["id"]]},
    )
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("dependencies ")


def test_a_dependency_on_an_unknown_task_is_404(api: httpx.Client) -> None:
    response = api.post(
        "/api/tasks",
        json={
            "projectId": make_project(api)["id"],
            "title": "x",
            "dependencies": ["task_0_missing"],
        },
    )
    assert_error(response, 404, "TASK_NOT_FOUND")


def test_a_malformed_dependency_id_is_refused(api: httpx.Client) -> None:
    response = api.post(
        "/api/tasks",
        json={"projectId": make_project(api)["id"], "title": "x", "dependencies": ["../../etc"]},
    )
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("dependencies ")


# -- read -----------------------------------------------------------------------


def test_getting_an_unknown_task_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/api/tasks/task_0_missing"), 404, "TASK_NOT_FOUND")


def test_a_malformed_task_id_in_the_path_is_400(api: httpx.Client) -> None:
    assert_error(api.get("/api/tasks/.hidden"), 400, "VALIDATION_ERROR")


# -- list and filters -----------------------------------------------------------


def test_tasks_of_a_project_are_listed_oldest_first(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    # Enough creations that several fall in one millisecond.
    made = [make_task(api, project_id, title=f"T{n}") for n in range(30)]
    make_task(api, make_project(api)["id"])
    assert list_tasks(api, projectId=project_id) == [task["id"] for task in made]
    stamps = [task["createdAt"] for task in made]
    assert stamps == sorted(set(stamps))


def test_the_listing_holds_full_tasks(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    task = make_task(api, project_id)
    assert api.get("/api/tasks", params={"projectId": project_id}).json() == [task]


def test_without_filters_every_task_is_listed(api: httpx.Client) -> None:
    first = make_task(api, make_project(api)["id"])
    second = make_task(api, make_project(api)["id"])
    listed = list_tasks(api)
    assert listed.index(first["id"]) < listed.index(second["id"])


def test_tasks_can_be_filtered_by_status(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    make_task(api, project_id)
    blocked = make_task(api, project_id, status="blocked")
    assert list_tasks(api, projectId=project_id, status="blocked") == [blocked["id"]]


def test_an_unknown_status_filter_is_400(api: httpx.Client) -> None:
    response = api.get("/api/tasks", params={"status": "done"})
    assert_error(
        response,
        400,
        "VALIDATION_ERROR",
        "status must be one of pending, in_progress, completed, blocked",
    )


def test_a_malformed_project_filter_is_400(api: httpx.Client) -> None:
    assert_error(api.get("/api/tasks", params={"projectId": "a/b"}), 400, "VALIDATION_ERROR")


def test_an_unknown_project_filter_gives_an_empty_list(api: httpx.Client) -> None:
    assert list_tasks(api, projectId="proj_0_missing") == []


def test_tasks_can_be_filtered_by_parent(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    parent = make_task(api, project_id)
    child = make_task(api, project_id, parentId=parent["id"])
    make_task(api, project_id, parentId=child["id"])
    assert list_tasks(api, parentId=parent["id"]) == [child["id"]]


def test_parent_null_lists_only_root_tasks(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    root = make_task(api, project_id)
    other_root = make_task(api, project_id)
    make_task(api, project_id, parentId=root["id"])
    assert list_tasks(api, projectId=project_id, parentId="null") == [
        root["id"],
        other_root["id"],
    ]


def test_a_malformed_parent_filter_is_400(api: httpx.Client) -> None:
    assert_error(api.get("/api/tasks", params={"parentId": "-x"}), 400, "VALIDATION_ERROR")


def test_tasks_can_be_filtered_by_session(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    linked = make_task(api, project_id)
    make_task(api, project_id)
    session = make_session(api, project_id, [linked["id"]])
    assert list_tasks(api, sessionId=session["id"]) == [linked["id"]]


def test_task_filters_combine(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    parent = make_task(api, project_id)
    wanted = make_task(api, project_id, parentId=parent["id"], status="in_progress")
    make_task(api, project_id, parentId=parent["id"])
    make_task(api, project_id, status="in_progress")
    session = make_session(api, project_id, [wanted["id"], parent["id"]])
    assert list_tasks(
        api,
        projectId=project_id,
        status="in_progress",
        parentId=parent["id"],
        sessionId=session["id"],
    ) == [wanted["id"]]
    assert list_tasks(api, projectId=project_id, status="pending", parentId="null") == [
        parent["id"]
    ]


# -- update ---------------------------------------------------------------------


def test_patch_changes_only_the_fields_given(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"], description="keep", priority="low")
    updated = patch_task(api, task["id"], title="Renamed", initialPrompt="Go")
    assert updated["title"] == "Renamed"
    assert updated["initialPrompt"] == "Go"
    assert updated["description"] == "keep"
    assert updated["priority"] == "low"
    assert updated["createdAt"] == task["createdAt"]
    assert get_task(api, task["id"]) == updated


def test_patch_replaces_skill_and_agent_ids(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"], skillIds=["a"], agentIds=["x"])
    updated = patch_task(api, task["id"], skillIds=["b", "c"], agentIds=[])
    assert updated["skillIds"] == ["b", "c"]
    assert updated["agentIds"] == []


def test_patch_stores_the_title_trimmed(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    assert patch_task(api, task["id"], title=" Tidy ")["title"] == "Tidy"


REFUSED_PATCHES = {
    "blank-title": ({"title": ""}, "title is required"),
    "unknown-priority": ({"priority": "urgent"}, "priority must be one of low, medium, high"),
    "unknown-status": (
        {"status": "finished"},
        "status must be one of pending, in_progress, completed, blocked",
    ),
}


@pytest.mark.parametrize(("patch", "message"), REFUSED_PATCHES.values(), ids=REFUSED_PATCHES.keys())
def test_patch_refuses_an_invalid_value_naming_the_field(
    api: httpx.Client, patch: dict[str, Any], message: str
) -> None:
    task = make_task(api, make_project(api)["id"], title="Keep")
    response = api.patch(f"/api/tasks/{task['id']}", json=patch)
    assert_error(response, 400, "VALIDATION_ERROR", message)
    assert get_task(api, task["id"])["title"] == "Keep"


def test_a_refused_patch_changes_nothing(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    response = api.patch(
        f"/api/tasks/{task['id']}", json={"title": "Changed", "dependencies": ["task_0_missing"]}
    )
    assert_error(response, 404, "TASK_NOT_FOUND")
    assert get_task(api, task["id"]) == task


def test_patching_an_unknown_task_is_404(api: httpx.Client) -> None:
    response = api.patch("/api/tasks/task_0_missing", json={"title": "x"})
    assert_error(response, 404, "TASK_NOT_FOUND")


def test_patch_without_a_json_content_type_is_415(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    response = api.patch(
        f"/api/tasks/{task['id']}", content=b"title=x", headers={"Content-Type": "text/plain"}
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_two_patches_back_to_back_move_updated_at_strictly_forward(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    first = patch_task(api, task["id"], description="one")
    second = patch_task(api, task["id"], description="two")
    assert task["updatedAt"] < first["updatedAt"] < second["updatedAt"]


def test_an_empty_patch_still_moves_updated_at_forward(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    assert patch_task(api, task["id"])["updatedAt"] > task["updatedAt"]


# -- status ---------------------------------------------------------------------


def test_a_status_change_appends_a_status_changed_event(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    updated = patch_task(api, task["id"], status="in_progress")
    assert event_types(updated) == ["created", "status_changed"]
    event = updated["timeline"][-1]
    assert event["message"] == "Status changed from pending to in_progress"
    assert EVENT_ID_RE.match(event["id"])
    assert isinstance(event["timestamp"], int)


def test_every_status_change_is_recorded_in_order(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    for status in ("in_progress", "blocked", "completed"):
        task = patch_task(api, task["id"], status=status)
    assert [e["message"] for e in task["timeline"] if e["type"] == "status_changed"] == [
        "Status changed from pending to in_progress",
        "Status changed from in_progress to blocked",
        "Status changed from blocked to completed",
    ]


def test_setting_the_same_status_appends_no_event(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    updated = patch_task(api, task["id"], status="pending")
    assert event_types(updated) == ["created"]


def test_moving_to_in_progress_sets_started_at(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    updated = patch_task(api, task["id"], status="in_progress")
    assert updated["startedAt"] is not None
    assert updated["startedAt"] >= task["createdAt"]
    assert updated["completedAt"] is None


def test_started_at_is_kept_when_work_resumes(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    started = patch_task(api, task["id"], status="in_progress")["startedAt"]
    patch_task(api, task["id"], status="blocked")
    resumed = patch_task(api, task["id"], status="in_progress")
    assert resumed["startedAt"] == started


def test_moving_to_completed_sets_completed_at(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    updated = patch_task(api, task["id"], status="completed")
    assert updated["completedAt"] is not None
    assert updated["completedAt"] >= task["createdAt"]


def test_completed_at_is_kept_when_completed_again(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    completed = patch_task(api, task["id"], status="completed")["completedAt"]
    patch_task(api, task["id"], status="in_progress")
    again = patch_task(api, task["id"], status="completed")
    assert again["completedAt"] == completed


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("pending", "completed"),
        ("completed", "pending"),
        ("blocked", "in_progress"),
        ("completed", "blocked"),
        ("in_progress", "pending"),
    ],
)
def test_any_status_may_follow_any_other(api: httpx.Client, before: str, after: str) -> None:
    task = make_task(api, make_project(api)["id"], status=before)
    updated = patch_task(api, task["id"], status=after)
    assert updated["status"] == after
    assert updated["timeline"][-1]["message"] == f"Status changed from {before} to {after}"


# -- timeline -------------------------------------------------------------------


def test_appending_to_the_timeline_answers_the_updated_task(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    response = api.post(f"/api/tasks/{task['id']}/timeline", json={"message": "Halfway there"})
    assert response.status_code == 200
    updated = response.json()
    assert updated["id"] == task["id"]
    assert updated["timeline"][0] == task["timeline"][0]
    event = updated["timeline"][-1]
    assert event["type"] == "update"
    assert event["message"] == "Halfway there"
    assert EVENT_ID_RE.match(event["id"])
    assert event["timestamp"] >= task["createdAt"]
    assert "sessionId" not in event or event["sessionId"] is None
    assert updated["updatedAt"] > task["updatedAt"]
    assert get_task(api, task["id"]) == updated


def test_a_timeline_entry_keeps_its_type_and_session(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    task = make_task(api, project_id)
    session = make_session(api, project_id, [])
    response = api.post(
        f"/api/tasks/{task['id']}/timeline",
        json={"type": "milestone", "message": "Tests pass", "sessionId": session["id"]},
    )
    event = response.json()["timeline"][-1]
    assert event["type"] == "milestone"
    assert event["sessionId"] == session["id"]


def test_a_timeline_message_is_stored_trimmed(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    response = api.post(f"/api/tasks/{task['id']}/timeline", json={"message": "  note \n"})
    assert response.json()["timeline"][-1]["message"] == "note"


# Timeline entries refused as invalid, and the message saying why (None: any).
REFUSED_ENTRIES = {
    "without-message": ({"type": "blocker"}, "message is required"),
    "blank-message": ({"message": "   "}, "message is required"),
    "unknown-type": (
        {"type": "gossip", "message": "x"},
        "type must be one of created, session_started, session_ended, update, milestone, "
        "blocker, status_changed",
    ),
    "malformed-session-id": ({"message": "x", "sessionId": "../s"}, None),
}


@pytest.mark.parametrize(("entry", "message"), REFUSED_ENTRIES.values(), ids=REFUSED_ENTRIES.keys())
def test_an_invalid_timeline_entry_is_refused_and_changes_nothing(
    api: httpx.Client, entry: dict[str, Any], message: str | None
) -> None:
    task = make_task(api, make_project(api)["id"])
    response = api.post(f"/api/tasks/{task['id']}/timeline", json=entry)
    assert_error(response, 400, "VALIDATION_ERROR", message)
    assert get_task(api, task["id"]) == task


def test_appending_to_an_unknown_tasks_timeline_is_404(api: httpx.Client) -> None:
    response = api.post("/api/tasks/task_0_missing/timeline", json={"message": "x"})
    assert_error(response, 404, "TASK_NOT_FOUND")


def test_patch_appends_timeline_entries_given_in_the_body(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    updated = patch_task(
        api,
        task["id"],
        timeline=[{"message": "first"}, {"type": "blocker", "message": "second"}],
    )
    assert updated["timeline"][0] == task["timeline"][0]
    first, second = updated["timeline"][1:]
    assert (first["type"], first["message"]) == ("update", "first")
    assert (second["type"], second["message"]) == ("blocker", "second")
    assert EVENT_ID_RE.match(first["id"]) and EVENT_ID_RE.match(second["id"])
    assert first["id"] != second["id"]
    assert isinstance(first["timestamp"], int)


def test_the_timeline_is_append_only(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    once = patch_task(api, task["id"], timeline=[{"message": "one"}])
    twice = patch_task(api, task["id"], timeline=[{"message": "two"}])
    assert twice["timeline"][: len(once["timeline"])] == once["timeline"]
    assert [e["message"] for e in twice["timeline"][1:]] == ["one", "two"]


def test_patch_refuses_a_timeline_entry_without_message(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    response = api.patch(f"/api/tasks/{task['id']}", json={"timeline": [{"type": "update"}]})
    assert_error(response, 400, "VALIDATION_ERROR")
    assert get_task(api, task["id"]) == task


def test_concurrent_timeline_appends_are_all_kept(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    url = f"{api.base_url}/api/tasks/{task['id']}/timeline"

    def append(n: int) -> int:
        response = httpx.post(url, json={"message": f"note {n}"}, timeout=10)
        assert response.status_code == 200, response.text
        stamp: int = response.json()["updatedAt"]
        return stamp

    with ThreadPoolExecutor(max_workers=8) as pool:
        stamps = list(pool.map(append, range(24)))
    after = get_task(api, task["id"])
    notes = {e["message"] for e in after["timeline"] if e["type"] == "update"}
    assert notes == {f"note {n}" for n in range(24)}
    assert len(set(stamps)) == 24
    assert after["updatedAt"] == max(stamps)


# -- parents --------------------------------------------------------------------


def test_patch_can_move_a_task_under_a_parent_and_back_to_the_root(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    parent = make_task(api, project_id)
    task = make_task(api, project_id)
    assert patch_task(api, task["id"], parentId=parent["id"])["parentId"] == parent["id"]
    assert patch_task(api, task["id"], parentId=None)["parentId"] is None


def test_a_task_cannot_be_its_own_parent(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    response = api.patch(f"/api/tasks/{task['id']}", json={"parentId": task["id"]})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("parentId ")


def test_a_task_cannot_move_under_its_own_descendant(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    top = make_task(api, project_id)
    middle = make_task(api, project_id, parentId=top["id"])
    bottom = make_task(api, project_id, parentId=middle["id"])
    response = api.patch(f"/api/tasks/{top['id']}", json={"parentId": bottom["id"]})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("parentId ")
    assert get_task(api, top["id"])["parentId"] is None


def test_a_task_cannot_move_under_a_parent_of_another_project(api: httpx.Client) -> None:
    foreign = make_task(api, make_project(api)["id"])
    task = make_task(api, make_project(api)["id"])
    response = api.patch(f"/api/tasks/{task['id']}", json={"parentId": foreign["id"]})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("parentId ")


def test_moving_under_an_unknown_parent_is_404(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    response = api.patch(f"/api/tasks/{task['id']}", json={"parentId": "task_0_missing"})
    assert_error(response, 404, "TASK_NOT_FOUND")


# -- dependencies ---------------------------------------------------------------


def test_patch_replaces_the_dependencies(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    first = make_task(api, project_id)
    second = make_task(api, project_id)
    task = make_task(api, project_id, dependencies=[first["id"]])
    assert patch_task(api, task["id"], dependencies=[second["id"]])["dependencies"] == [
        second["id"]
    ]


def test_a_task_cannot_depend_on_itself(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    response = api.patch(f"/api/tasks/{task['id']}", json={"dependencies": [task["id"]]})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("dependencies ")


def test_patch_refuses_a_dependency_of_another_project(api: httpx.Client) -> None:
    foreign = make_task(api, make_project(api)["id"])
    task = make_task(api, make_project(api)["id"])
    response = api.patch(f"/api/tasks/{task['id']}", json={"dependencies": [foreign["id"]]})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("dependencies ")
    assert get_task(api, task["id"])["dependencies"] == []


# -- children -------------------------------------------------------------------


def test_children_lists_direct_children_oldest_first(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    parent = make_task(api, project_id)
    # Made back to back, so several fall in one millisecond.
    children = [make_task(api, project_id, parentId=parent["id"]) for _ in range(20)]
    make_task(api, project_id, parentId=children[0]["id"])
    make_task(api, project_id)
    response = api.get(f"/api/tasks/{parent['id']}/children")
    assert response.status_code == 200
    assert response.json() == [get_task(api, child["id"]) for child in children]


def test_a_task_without_children_has_an_empty_children_list(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    response = api.get(f"/api/tasks/{task['id']}/children")
    assert response.status_code == 200
    assert response.json() == []


def test_children_of_an_unknown_task_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/api/tasks/task_0_missing/children"), 404, "TASK_NOT_FOUND")


# -- delete ---------------------------------------------------------------------


def test_deleting_a_task_answers_success_and_id(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    response = api.delete(f"/api/tasks/{task['id']}")
    assert response.status_code == 200
    assert response.json() == {"success": True, "id": task["id"]}


def test_a_deleted_task_is_gone(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    task = make_task(api, project_id)
    api.delete(f"/api/tasks/{task['id']}")
    assert_error(api.get(f"/api/tasks/{task['id']}"), 404, "TASK_NOT_FOUND")
    assert list_tasks(api, projectId=project_id) == []


def test_deleting_an_unknown_task_is_404(api: httpx.Client) -> None:
    assert_error(api.delete("/api/tasks/task_0_missing"), 404, "TASK_NOT_FOUND")


def test_a_task_with_children_cannot_be_deleted_without_cascade(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    parent = make_task(api, project_id)
    child = make_task(api, project_id, parentId=parent["id"])
    response = api.delete(f"/api/tasks/{parent['id']}")
    assert_error(response, 400, "TASK_HAS_CHILDREN")
    assert list_tasks(api, projectId=project_id) == [parent["id"], child["id"]]


def test_cascade_false_still_refuses_a_task_with_children(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    parent = make_task(api, project_id)
    make_task(api, project_id, parentId=parent["id"])
    response = api.delete(f"/api/tasks/{parent['id']}", params={"cascade": "false"})
    assert_error(response, 400, "TASK_HAS_CHILDREN")


def test_a_malformed_cascade_flag_is_400(api: httpx.Client) -> None:
    task = make_task(api, make_project(api)["id"])
    response = api.delete(f"/api/tasks/{task['id']}", params={"cascade": "maybe"})
    assert_error(response, 400, "VALIDATION_ERROR")
    assert get_task(api, task["id"]) == task


def test_cascade_deletes_every_descendant(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    root = make_task(api, project_id)
    child = make_task(api, project_id, parentId=root["id"])
    grandchild = make_task(api, project_id, parentId=child["id"])
    unrelated = make_task(api, project_id)
    response = api.delete(f"/api/tasks/{root['id']}", params={"cascade": "true"})
    assert response.status_code == 200
    assert response.json() == {"success": True, "id": root["id"]}
    for gone in (root, child, grandchild):
        assert_error(api.get(f"/api/tasks/{gone['id']}"), 404, "TASK_NOT_FOUND")
    assert list_tasks(api, projectId=project_id) == [unrelated["id"]]


def test_deleting_a_child_leaves_its_parent_without_it(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    parent = make_task(api, project_id)
    child = make_task(api, project_id, parentId=parent["id"])
    api.delete(f"/api/tasks/{child['id']}")
    assert api.get(f"/api/tasks/{parent['id']}/children").json() == []
    assert api.delete(f"/api/tasks/{parent['id']}").status_code == 200


def test_deleting_a_task_unlinks_it_from_its_sessions(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    task = make_task(api, project_id)
    kept = make_task(api, project_id)
    session = make_session(api, project_id, [task["id"], kept["id"]])
    api.delete(f"/api/tasks/{task['id']}")
    after = api.get(f"/api/sessions/{session['id']}").json()
    assert after["taskIds"] == [kept["id"]]
    assert after["lastActivity"] > session["lastActivity"]
    assert get_task(api, kept["id"])["sessionIds"] == [session["id"]]


def test_cascade_unlinks_every_descendant_from_its_sessions(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    root = make_task(api, project_id)
    child = make_task(api, project_id, parentId=root["id"])
    grandchild = make_task(api, project_id, parentId=child["id"])
    first = make_session(api, project_id, [child["id"]])
    second = make_session(api, project_id, [grandchild["id"], root["id"]])
    api.delete(f"/api/tasks/{root['id']}", params={"cascade": "true"})
    for session in (first, second):
        assert api.get(f"/api/sessions/{session['id']}").json()["taskIds"] == []
    assert api.get("/api/sessions", params={"taskId": child["id"]}).json() == []


def test_deleting_a_task_removes_it_from_other_tasks_dependencies(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    doomed = make_task(api, project_id)
    other = make_task(api, project_id)
    dependent = make_task(api, project_id, dependencies=[doomed["id"], other["id"]])
    api.delete(f"/api/tasks/{doomed['id']}")
    after = get_task(api, dependent["id"])
    assert after["dependencies"] == [other["id"]]
    assert after["updatedAt"] > dependent["updatedAt"]


def test_cascade_removes_descendants_from_other_tasks_dependencies(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    root = make_task(api, project_id)
    child = make_task(api, project_id, parentId=root["id"])
    dependent = make_task(api, project_id, dependencies=[child["id"]])
    api.delete(f"/api/tasks/{root['id']}", params={"cascade": "true"})
    assert get_task(api, dependent["id"])["dependencies"] == []
