"""The task detail: editing, timeline, child tasks, dependencies, spawning."""

from __future__ import annotations

import httpx
from playwright.sync_api import Route, expect

from tests.ui.pages import MaestroPage, unique


def test_editing_a_task_updates_its_card_and_detail(ui: MaestroPage) -> None:
    ui.create_project(unique("Detail"))
    ui.create_task("Draft title")
    detail = ui.open_task("Draft title")

    detail.get_by_test_id("detail-edit").click()
    dialog = ui.dialog("task-dialog")
    dialog.get_by_label("Title").fill("Final title")
    dialog.get_by_label("Description").fill("What it is about.")
    dialog.get_by_label("Priority").select_option("low")
    ui.submit(dialog)

    expect(detail.get_by_test_id("detail-title")).to_have_text("Final title")
    expect(detail.get_by_test_id("detail-description")).to_have_text("What it is about.")
    expect(detail.get_by_test_id("detail-priority")).to_have_value("low")
    expect(ui.card("Final title").get_by_test_id("card-priority")).to_have_text("Low")


def test_the_timeline_is_newest_first_and_tells_event_types_apart(ui: MaestroPage) -> None:
    ui.create_project(unique("Timeline"))
    ui.create_task("Chronicle")
    detail = ui.open_task("Chronicle")

    detail.get_by_test_id("note-type").select_option("milestone")
    detail.get_by_test_id("note-input").fill("Parser done")
    detail.get_by_test_id("note-add").click()
    expect(ui.timeline()).to_have_count(2)
    detail.get_by_test_id("note-type").select_option("blocker")
    detail.get_by_test_id("note-input").fill("Waiting for review")
    detail.get_by_test_id("note-add").click()

    entries = ui.timeline()
    expect(entries).to_have_count(3)
    types = [entries.nth(i).get_attribute("data-type") for i in range(3)]
    assert types == ["blocker", "milestone", "created"]
    expect(entries.first).to_contain_text("Waiting for review")
    expect(entries.first).to_contain_text("Blocker")


def test_child_tasks_and_dependencies_are_listed_and_linked(ui: MaestroPage) -> None:
    ui.create_project(unique("Tree"))
    ui.create_task("Groundwork")
    ui.create_task("Parent")
    detail = ui.open_task("Parent")

    detail.get_by_test_id("add-child").click()
    dialog = ui.dialog("task-dialog")
    dialog.get_by_label("Title").fill("Child")
    ui.submit(dialog)
    expect(detail.get_by_test_id("child-list")).to_contain_text("Child")
    expect(ui.card("Child")).to_contain_text("Parent")

    detail.get_by_test_id("dependency-select").select_option(label="Groundwork")
    detail.get_by_test_id("dependency-add").click()
    expect(detail.get_by_test_id("dependency")).to_have_count(1)
    expect(detail.get_by_test_id("dependency")).to_contain_text("Groundwork")

    detail.get_by_test_id("dependency").get_by_test_id("dependency-remove").click()
    expect(detail.get_by_test_id("dependency")).to_have_count(0)


def test_spawning_a_worker_shows_a_spawning_session(ui: MaestroPage, api: httpx.Client) -> None:
    ui.create_project(unique("Spawn"))
    card = ui.create_task("Needs an agent")
    detail = ui.open_task("Needs an agent")

    detail.get_by_test_id("spawn-worker").click()
    dialog = ui.dialog("spawn-dialog")
    expect(dialog.get_by_label("maestro-worker")).to_be_checked()
    dialog.get_by_label("Role", exact=True).select_option("orchestrator")
    dialog.get_by_label("Agent", exact=True).select_option("codex")
    dialog.get_by_label("Model", exact=True).fill("gpt-test")
    ui.submit(dialog)
    expect(dialog).to_be_hidden()

    session = detail.get_by_test_id("detail-session")
    expect(session.get_by_test_id("detail-session-status")).to_have_text("Spawning")
    expect(card.get_by_test_id("card-sessions")).to_contain_text("1 spawning")
    stored = api.get(f"/api/sessions/{session.get_attribute('data-session-id')}").json()
    assert stored["status"] == "spawning"
    assert stored["metadata"]["role"] == "orchestrator"
    assert stored["metadata"]["agent"] == "codex"
    assert stored["metadata"]["model"] == "gpt-test"
    assert stored["metadata"]["skills"] == ["maestro-worker"]
    assert stored["metadata"]["spawnSource"] == "ui"

    sessions = ui.open_sessions()
    row = sessions.get_by_test_id("session-row")
    expect(row.get_by_test_id("session-status")).to_have_text("Spawning")
    expect(row.get_by_test_id("session-role")).to_have_text("orchestrator")


def test_deleting_a_task_closes_the_detail_and_removes_the_card(ui: MaestroPage) -> None:
    ui.create_project(unique("Delete"))
    ui.create_task("Short-lived")
    detail = ui.open_task("Short-lived")

    detail.get_by_test_id("detail-delete").click()
    ui.submit(ui.dialog("confirm-dialog"))

    expect(detail).to_be_hidden()
    expect(ui.card("Short-lived")).to_have_count(0)


def test_a_refused_subtask_shows_the_server_message(ui: MaestroPage) -> None:
    ui.create_project(unique("Errors"))
    ui.create_task("Picky")
    detail = ui.open_task("Picky")

    detail.get_by_test_id("subtask-input").fill("   ")  # the browser lets it through
    detail.get_by_test_id("subtask-add").click()

    notice = ui.page.get_by_test_id("notice-error")
    expect(notice).to_contain_text("Could not add the subtask")
    expect(notice).to_contain_text("title is required")


def test_a_refused_status_change_is_reported_and_undone(ui: MaestroPage) -> None:
    ui.create_project(unique("Errors"))
    card = ui.create_task("Stuck")
    refusal = {"error": True, "code": "INTERNAL_ERROR", "message": "the disk is full"}

    def refuse_patches(route: Route) -> None:
        if route.request.method == "PATCH":
            route.fulfill(status=500, json=refusal)
        else:
            route.continue_()

    ui.page.route("**/api/tasks/*", refuse_patches)
    card.get_by_test_id("card-status").select_option("completed")

    notice = ui.page.get_by_test_id("notice-error")
    expect(notice).to_contain_text("Could not change the status")
    expect(notice).to_contain_text("the disk is full")
    expect(card.get_by_test_id("card-status")).to_have_value("pending")
    expect(ui.column("pending").locator(card)).to_be_visible()
