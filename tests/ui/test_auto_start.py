"""Auto-start tasks: the toggle and the dependencies in the task form, the cycle
the server refuses, and the line on the card saying what the dispatcher waits
for ("waiting on: …", "ready to dispatch") or when it started the task."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Locator, expect

from tests.helpers import make_task, request_spawn
from tests.ui.pages import MaestroPage, unique


def dispatch_line(ui: MaestroPage, title: str) -> Locator:
    """The auto-start line of a card (its state in ``data-state``)."""
    return ui.card(title).get_by_test_id("card-dispatch")


def dispatch_text(ui: MaestroPage, title: str) -> Locator:
    """What the auto-start line of a card says."""
    return dispatch_line(ui, title).get_by_test_id("dispatch-text")


def stored_task(api: httpx.Client, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = api.get(f"/api/tasks/{task_id}").json()
    return task


def complete(api: httpx.Client, task_id: str) -> None:
    api.patch(f"/api/tasks/{task_id}", json={"status": "completed"}).raise_for_status()


def test_the_task_form_saves_auto_start_and_dependencies(
    ui: MaestroPage, api: httpx.Client
) -> None:
    ui.create_project(unique("Auto form"))
    groundwork = ui.create_task("Groundwork").get_attribute("data-task-id")
    ui.create_task("Unrelated")

    ui.page.get_by_test_id("new-task").click()
    dialog = ui.dialog("task-dialog")
    dialog.get_by_label("Title").fill("Follow-on")
    dialog.get_by_test_id("task-auto-start").check()
    dialog.get_by_test_id("task-dependencies").get_by_label("Groundwork").check()
    ui.submit(dialog)
    expect(dialog).to_be_hidden()

    card = ui.card("Follow-on")
    follow_on = card.get_attribute("data-task-id")
    assert follow_on and groundwork
    stored = stored_task(api, follow_on)
    assert stored["autoStart"] is True
    assert stored["dependencies"] == [groundwork]
    expect(dispatch_text(ui, "Follow-on")).to_have_text("waiting on: Groundwork")

    ui.open_task("Follow-on").get_by_test_id("detail-edit").click()
    dialog = ui.dialog("task-dialog")
    expect(dialog.get_by_test_id("task-auto-start")).to_be_checked()
    expect(dialog.get_by_test_id("task-dependencies").get_by_label("Groundwork")).to_be_checked()
    expect(dialog.get_by_test_id("task-dependencies").get_by_label("Follow-on")).to_have_count(0)
    dialog.get_by_test_id("task-auto-start").uncheck()
    dialog.get_by_test_id("task-dependencies").get_by_label("Groundwork").uncheck()
    ui.submit(dialog)
    expect(dialog).to_be_hidden()

    stored = stored_task(api, follow_on)
    assert stored["autoStart"] is False
    assert stored["dependencies"] == []
    expect(dispatch_line(ui, "Follow-on")).to_have_count(0)


def test_a_dependency_cycle_is_refused_with_the_server_message(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Cycle"))
    first = make_task(api, project_id, title="Lay the pipes")
    second = make_task(api, project_id, title="Pour the floor", dependencies=[first["id"]])

    ui.open_task("Lay the pipes").get_by_test_id("detail-edit").click()
    dialog = ui.dialog("task-dialog")
    dialog.get_by_test_id("task-dependencies").get_by_label("Pour the floor").check()
    ui.submit(dialog)

    error = dialog.get_by_test_id("dialog-error")
    cycle = f"dependencies would make a cycle: {first['id']} → {second['id']} → {first['id']}"
    expect(error).to_contain_text(cycle)
    expect(error).to_contain_text("VALIDATION_ERROR")
    expect(error).to_contain_text(
        "“Lay the pipes” depends on “Pour the floor”, which depends on “Lay the pipes”."
    )
    expect(dialog).to_be_visible()
    assert stored_task(api, first["id"])["dependencies"] == []


def test_a_cycle_added_in_the_detail_is_reported_as_a_notice(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Cycle detail"))
    first = make_task(api, project_id, title="Chicken")
    make_task(api, project_id, title="Egg", dependencies=[first["id"]])

    detail = ui.open_task("Chicken")
    detail.get_by_test_id("dependency-select").select_option(label="Egg")
    detail.get_by_test_id("dependency-add").click()

    notice = ui.page.get_by_test_id("notice-error")
    expect(notice).to_contain_text("Could not add the dependency")
    expect(notice).to_contain_text("dependencies would make a cycle")
    expect(notice).to_contain_text("“Chicken” depends on “Egg”, which depends on “Chicken”.")


def test_the_card_says_what_it_waits_on_until_it_is_dispatched(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Waiting"))
    schema = make_task(api, project_id, title="Schema")
    docs = make_task(api, project_id, title="Docs")
    migrate = make_task(
        api, project_id, title="Migrate", autoStart=True, dependencies=[schema["id"], docs["id"]]
    )
    line, text = dispatch_line(ui, "Migrate"), dispatch_text(ui, "Migrate")
    expect(text).to_have_text("waiting on: Schema, Docs")
    expect(line).to_have_attribute("data-state", "waiting")
    expect(dispatch_line(ui, "Schema")).to_have_count(0)  # not auto-start: nothing to say

    complete(api, schema["id"])
    expect(text).to_have_text("waiting on: Docs")

    complete(api, docs["id"])
    expect(text).to_have_text("ready to dispatch")
    expect(line).to_have_attribute("data-state", "ready")

    reason = f"dependencies completed: {schema['id']}, {docs['id']}"
    session_id = request_spawn(
        api, project_id, [migrate["id"]], spawnSource="dispatch", spawnReason=reason
    )
    expect(text).to_have_text("dispatched just now")
    expect(line).to_have_attribute("data-state", "dispatched")
    expect(line).to_have_attribute("title", re.compile(re.escape(reason)))

    api.patch(f"/api/sessions/{session_id}", json={"status": "failed"}).raise_for_status()
    expect(text).to_have_text("dispatch failed · left to you")
    expect(line).to_have_attribute("data-state", "failed")


def test_a_completed_dependency_with_an_active_session_still_holds_the_task(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Still running"))
    build = make_task(api, project_id, title="Build")
    make_task(api, project_id, title="Ship", autoStart=True, dependencies=[build["id"]])
    session_id = request_spawn(api, project_id, [build["id"]])
    complete(api, build["id"])

    text = dispatch_text(ui, "Ship")
    expect(text).to_have_text("waiting on: Build (session still active)")

    api.patch(f"/api/sessions/{session_id}", json={"status": "completed"}).raise_for_status()
    expect(text).to_have_text("ready to dispatch")


def test_a_ready_task_beyond_the_project_limit_shows_it_is_queued(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Queued"))
    api.patch(f"/api/projects/{project_id}", json={"maxConcurrent": 1}).raise_for_status()
    first = make_task(api, project_id, title="First", autoStart=True)
    make_task(api, project_id, title="Second", autoStart=True)
    request_spawn(api, project_id, [first["id"]], spawnSource="dispatch")

    expect(dispatch_line(ui, "First")).to_have_attribute("data-state", "dispatched")
    expect(dispatch_text(ui, "Second")).to_have_text("ready to dispatch · queued (1/1 running)")


def test_the_sessions_view_says_which_session_the_dispatcher_started(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Dispatched session"))
    task = make_task(api, project_id, title="Started for me", autoStart=True)
    request_spawn(api, project_id, [task["id"]], spawnSource="dispatch", spawnReason="auto-start")
    request_spawn(api, project_id, [task["id"]], spawnSource="ui", sessionName="By hand")

    ui.open_sessions()
    expect(ui.session_row("Started for me").get_by_test_id("session-dispatch")).to_have_text(
        "Started by the auto-start dispatcher (auto-start)"
    )
    expect(ui.session_row("By hand").get_by_test_id("session-dispatch")).to_have_count(0)


def test_the_detail_toggles_auto_start_and_shows_the_same_line(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Detail toggle"))
    before = make_task(api, project_id, title="Before")
    after = make_task(api, project_id, title="After", dependencies=[before["id"]])

    detail = ui.open_task("After")
    toggle = detail.get_by_test_id("detail-auto-start")
    expect(toggle).not_to_be_checked()
    toggle.check()

    expect(detail.get_by_test_id("detail-dispatch").get_by_test_id("dispatch-text")).to_have_text(
        "waiting on: Before"
    )
    expect(dispatch_text(ui, "After")).to_have_text("waiting on: Before")
    assert stored_task(api, after["id"])["autoStart"] is True


def test_hostile_dependency_titles_are_shown_as_text(ui: MaestroPage, api: httpx.Client) -> None:
    alerts = ui.record_dialogs()
    project_id = ui.create_project(unique("Hostile titles"))
    hostile = "<img src=x onerror=alert(1)>"
    dependency = make_task(api, project_id, title=hostile)
    make_task(api, project_id, title="Downstream", autoStart=True, dependencies=[dependency["id"]])

    line = dispatch_line(ui, "Downstream")
    expect(line.get_by_test_id("dispatch-text")).to_have_text(f"waiting on: {hostile}")
    expect(line.locator("img")).to_have_count(0)
    assert alerts == []
