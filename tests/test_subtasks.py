"""/api/tasks/{taskId}/subtasks: subtasks embedded in their task, kept in a dense order."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.helpers import assert_error, make_project, make_task

SUBTASK_ID_RE = re.compile(r"^sub_\d{13}_[a-z0-9]+$")
SUBTASK_FIELDS = {
    "id",
    "taskId",
    "title",
    "description",
    "completed",
    "order",
    "createdAt",
    "updatedAt",
    "completedAt",
}


def make_parent_task(api: httpx.Client) -> dict[str, Any]:
    """A task, in a project of its own, to give subtasks to."""
    return make_task(api, make_project(api)["id"], title="Parent")


def add_subtask(api: httpx.Client, task_id: str, title: str = "Step", **fields: Any) -> Any:
    response = api.post(f"/api/tasks/{task_id}/subtasks", json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def patch_subtask(api: httpx.Client, task_id: str, subtask_id: str, **fields: Any) -> Any:
    response = api.patch(f"/api/tasks/{task_id}/subtasks/{subtask_id}", json=fields)
    assert response.status_code == 200, response.text
    return response.json()


def subtasks(api: httpx.Client, task_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/api/tasks/{task_id}/subtasks")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def titles_in_order(api: httpx.Client, task_id: str) -> list[tuple[int, str]]:
    return [(s["order"], s["title"]) for s in subtasks(api, task_id)]


def with_steps(api: httpx.Client, *titles: str) -> tuple[str, list[dict[str, Any]]]:
    task = make_parent_task(api)
    return task["id"], [add_subtask(api, task["id"], title) for title in titles]


# -- create ---------------------------------------------------------------------


def test_creating_a_subtask_answers_201_with_the_subtask(api: httpx.Client) -> None:
    task = make_parent_task(api)
    response = api.post(
        f"/api/tasks/{task['id']}/subtasks", json={"title": "Write tests", "description": "all"}
    )
    assert response.status_code == 201
    subtask = response.json()
    assert set(subtask) == SUBTASK_FIELDS
    assert SUBTASK_ID_RE.match(subtask["id"])
    assert subtask["taskId"] == task["id"]
    assert subtask["title"] == "Write tests"
    assert subtask["description"] == "all"
    assert subtask["completed"] is False
    assert subtask["order"] == 0
    assert subtask["completedAt"] is None
    assert subtask["updatedAt"] == subtask["createdAt"]


def test_a_subtask_description_defaults_to_empty(api: httpx.Client) -> None:
    task = make_parent_task(api)
    assert add_subtask(api, task["id"])["description"] == ""


def test_new_subtasks_are_appended_in_order(api: httpx.Client) -> None:
    task_id, _ = with_steps(api, "one", "two", "three")
    assert titles_in_order(api, task_id) == [(0, "one"), (1, "two"), (2, "three")]


def test_a_subtask_shows_in_its_task(api: httpx.Client) -> None:
    task = make_parent_task(api)
    subtask = add_subtask(api, task["id"])
    after = api.get(f"/api/tasks/{task['id']}").json()
    assert after["subtasks"] == [subtask]
    assert after["updatedAt"] > task["updatedAt"]


def test_a_subtask_title_is_stored_trimmed(api: httpx.Client) -> None:
    task = make_parent_task(api)
    assert add_subtask(api, task["id"], "  Tidy up ")["title"] == "Tidy up"


def test_a_subtask_without_title_is_refused(api: httpx.Client) -> None:
    task = make_parent_task(api)
    response = api.post(f"/api/tasks/{task['id']}/subtasks", json={"description": "no title"})
    assert_error(response, 400, "VALIDATION_ERROR", "title is required")


def test_a_subtask_with_a_blank_title_is_refused(api: httpx.Client) -> None:
    task = make_parent_task(api)
    response = api.post(f"/api/tasks/{task['id']}/subtasks", json={"title": " \t "})
    assert_error(response, 400, "VALIDATION_ERROR", "title is required")
    assert subtasks(api, task["id"]) == []


def test_a_subtask_on_an_unknown_task_is_404(api: httpx.Client) -> None:
    response = api.post("/api/tasks/task_0_missing/subtasks", json={"title": "x"})
    assert_error(response, 404, "TASK_NOT_FOUND")


def test_a_subtask_body_that_is_not_json_is_415(api: httpx.Client) -> None:
    task = make_parent_task(api)
    response = api.post(
        f"/api/tasks/{task['id']}/subtasks",
        content=b"title=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


# -- list -----------------------------------------------------------------------


def test_a_new_task_has_no_subtasks(api: httpx.Client) -> None:
    assert subtasks(api, make_parent_task(api)["id"]) == []


def test_listing_subtasks_of_an_unknown_task_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/api/tasks/task_0_missing/subtasks"), 404, "TASK_NOT_FOUND")


# -- update ---------------------------------------------------------------------


def test_patch_changes_title_and_description(api: httpx.Client) -> None:
    task_id, (step,) = with_steps(api, "Old")
    updated = patch_subtask(api, task_id, step["id"], title=" New ", description="more")
    assert updated["title"] == "New"
    assert updated["description"] == "more"
    assert updated["id"] == step["id"]
    assert updated["createdAt"] == step["createdAt"]
    assert subtasks(api, task_id) == [updated]


def test_patch_refuses_a_blank_title(api: httpx.Client) -> None:
    task_id, (step,) = with_steps(api, "Keep")
    response = api.patch(f"/api/tasks/{task_id}/subtasks/{step['id']}", json={"title": ""})
    assert_error(response, 400, "VALIDATION_ERROR", "title is required")
    assert subtasks(api, task_id) == [step]


def test_patch_refuses_a_completed_flag_that_is_not_a_boolean(api: httpx.Client) -> None:
    task_id, (step,) = with_steps(api, "x")
    response = api.patch(f"/api/tasks/{task_id}/subtasks/{step['id']}", json={"completed": "yes"})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("completed must be")


def test_completing_a_subtask_sets_completed_at(api: httpx.Client) -> None:
    task_id, (step,) = with_steps(api, "x")
    done = patch_subtask(api, task_id, step["id"], completed=True)
    assert done["completed"] is True
    assert done["completedAt"] is not None
    assert done["completedAt"] >= step["createdAt"]


def test_reopening_a_subtask_clears_completed_at(api: httpx.Client) -> None:
    task_id, (step,) = with_steps(api, "x")
    patch_subtask(api, task_id, step["id"], completed=True)
    reopened = patch_subtask(api, task_id, step["id"], completed=False)
    assert reopened["completed"] is False
    assert reopened["completedAt"] is None


def test_completing_twice_keeps_the_first_completed_at(api: httpx.Client) -> None:
    task_id, (step,) = with_steps(api, "x")
    first = patch_subtask(api, task_id, step["id"], completed=True)["completedAt"]
    again = patch_subtask(api, task_id, step["id"], completed=True)
    assert again["completedAt"] == first


def test_two_patches_back_to_back_move_updated_at_strictly_forward(api: httpx.Client) -> None:
    task_id, (step,) = with_steps(api, "x")
    first = patch_subtask(api, task_id, step["id"], description="a")
    second = patch_subtask(api, task_id, step["id"], description="b")
    assert step["updatedAt"] < first["updatedAt"] < second["updatedAt"]


def test_a_subtask_change_moves_its_tasks_updated_at_forward(api: httpx.Client) -> None:
    task_id, (step,) = with_steps(api, "x")
    before = api.get(f"/api/tasks/{task_id}").json()["updatedAt"]
    patch_subtask(api, task_id, step["id"], completed=True)
    assert api.get(f"/api/tasks/{task_id}").json()["updatedAt"] > before


def test_patching_an_unknown_subtask_is_404(api: httpx.Client) -> None:
    task = make_parent_task(api)
    response = api.patch(f"/api/tasks/{task['id']}/subtasks/sub_0_missing", json={"title": "x"})
    assert_error(response, 404, "SUBTASK_NOT_FOUND")


def test_patching_a_subtask_through_another_task_is_404(api: httpx.Client) -> None:
    _, (step,) = with_steps(api, "x")
    other = make_parent_task(api)
    response = api.patch(f"/api/tasks/{other['id']}/subtasks/{step['id']}", json={"title": "y"})
    assert_error(response, 404, "SUBTASK_NOT_FOUND")


def test_patching_a_subtask_of_an_unknown_task_is_404(api: httpx.Client) -> None:
    response = api.patch("/api/tasks/task_0_missing/subtasks/sub_0_missing", json={"title": "x"})
    assert_error(response, 404, "TASK_NOT_FOUND")


# -- order ----------------------------------------------------------------------


def test_moving_a_subtask_up_renumbers_the_others(api: httpx.Client) -> None:
    task_id, steps = with_steps(api, "a", "b", "c", "d")
    moved = patch_subtask(api, task_id, steps[3]["id"], order=1)
    assert moved["order"] == 1
    assert titles_in_order(api, task_id) == [(0, "a"), (1, "d"), (2, "b"), (3, "c")]


def test_moving_a_subtask_down_renumbers_the_others(api: httpx.Client) -> None:
    task_id, steps = with_steps(api, "a", "b", "c", "d")
    moved = patch_subtask(api, task_id, steps[0]["id"], order=2)
    assert moved["order"] == 2
    assert titles_in_order(api, task_id) == [(0, "b"), (1, "c"), (2, "a"), (3, "d")]


def test_an_order_past_the_end_moves_the_subtask_last(api: httpx.Client) -> None:
    task_id, steps = with_steps(api, "a", "b", "c")
    assert patch_subtask(api, task_id, steps[0]["id"], order=99)["order"] == 2
    assert titles_in_order(api, task_id) == [(0, "b"), (1, "c"), (2, "a")]


def test_a_negative_order_moves_the_subtask_first(api: httpx.Client) -> None:
    task_id, steps = with_steps(api, "a", "b", "c")
    assert patch_subtask(api, task_id, steps[2]["id"], order=-5)["order"] == 0
    assert titles_in_order(api, task_id) == [(0, "c"), (1, "a"), (2, "b")]


def test_a_patch_without_order_keeps_the_position(api: httpx.Client) -> None:
    task_id, steps = with_steps(api, "a", "b", "c")
    assert patch_subtask(api, task_id, steps[1]["id"], title="B")["order"] == 1
    assert titles_in_order(api, task_id) == [(0, "a"), (1, "B"), (2, "c")]


def test_an_order_that_is_not_an_integer_is_refused(api: httpx.Client) -> None:
    task_id, steps = with_steps(api, "a", "b")
    response = api.patch(f"/api/tasks/{task_id}/subtasks/{steps[0]['id']}", json={"order": "1"})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("order must be")


def test_subtasks_in_the_task_follow_their_order(api: httpx.Client) -> None:
    task_id, steps = with_steps(api, "a", "b", "c")
    patch_subtask(api, task_id, steps[2]["id"], order=0)
    task = api.get(f"/api/tasks/{task_id}").json()
    assert [(s["order"], s["title"]) for s in task["subtasks"]] == [(0, "c"), (1, "a"), (2, "b")]


# -- delete ---------------------------------------------------------------------


def test_deleting_a_subtask_answers_success_and_id(api: httpx.Client) -> None:
    task_id, (step,) = with_steps(api, "x")
    response = api.delete(f"/api/tasks/{task_id}/subtasks/{step['id']}")
    assert response.status_code == 200
    assert response.json() == {"success": True, "id": step["id"]}
    assert subtasks(api, task_id) == []


def test_deleting_a_subtask_renumbers_the_rest(api: httpx.Client) -> None:
    task_id, steps = with_steps(api, "a", "b", "c", "d")
    api.delete(f"/api/tasks/{task_id}/subtasks/{steps[1]['id']}")
    assert titles_in_order(api, task_id) == [(0, "a"), (1, "c"), (2, "d")]


def test_a_subtask_added_after_a_delete_goes_last(api: httpx.Client) -> None:
    task_id, steps = with_steps(api, "a", "b", "c")
    api.delete(f"/api/tasks/{task_id}/subtasks/{steps[0]['id']}")
    assert add_subtask(api, task_id, "d")["order"] == 2
    assert titles_in_order(api, task_id) == [(0, "b"), (1, "c"), (2, "d")]


def test_deleting_a_subtask_moves_its_tasks_updated_at_forward(api: httpx.Client) -> None:
    task_id, (step,) = with_steps(api, "x")
    before = api.get(f"/api/tasks/{task_id}").json()["updatedAt"]
    api.delete(f"/api/tasks/{task_id}/subtasks/{step['id']}")
    assert api.get(f"/api/tasks/{task_id}").json()["updatedAt"] > before


def test_deleting_an_unknown_subtask_is_404(api: httpx.Client) -> None:
    task = make_parent_task(api)
    response = api.delete(f"/api/tasks/{task['id']}/subtasks/sub_0_missing")
    assert_error(response, 404, "SUBTASK_NOT_FOUND")


def test_deleting_a_subtask_twice_is_404_the_second_time(api: httpx.Client) -> None:
    task_id, (step,) = with_steps(api, "x")
    api.delete(f"/api/tasks/{task_id}/subtasks/{step['id']}")
    response = api.delete(f"/api/tasks/{task_id}/subtasks/{step['id']}")
    assert_error(response, 404, "SUBTASK_NOT_FOUND")


def test_a_malformed_subtask_id_is_400(api: httpx.Client) -> None:
    task = make_parent_task(api)
    response = api.delete(f"/api/tasks/{task['id']}/subtasks/-bad")
    assert_error(response, 400, "VALIDATION_ERROR")
