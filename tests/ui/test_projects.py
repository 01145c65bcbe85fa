"""The projects sidebar: create, edit, delete, and the server's refusal shown."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.ui.pages import MaestroPage, unique


def test_a_created_project_is_listed_and_selected(ui: MaestroPage) -> None:
    name = unique("Created")

    ui.create_project(name, working_dir="/srv/app")

    item = ui.project_item(name)
    expect(item.get_by_test_id("project-link")).to_have_attribute("aria-current", "page")
    expect(ui.page.get_by_text("/srv/app")).to_be_visible()


def test_editing_a_project_renames_it_everywhere(ui: MaestroPage) -> None:
    old, new = unique("Old name"), unique("New name")
    ui.create_project(old)

    ui.project_item(old).get_by_test_id("project-edit").click()
    dialog = ui.dialog("project-dialog")
    expect(dialog.get_by_label("Name")).to_have_value(old)
    dialog.get_by_label("Name").fill(new)
    dialog.get_by_label("Description").fill("Now with a description")
    ui.submit(dialog)

    expect(ui.page.get_by_test_id("project-title")).to_have_text(new)
    expect(ui.project_item(new)).to_be_visible()
    expect(ui.page.get_by_text("Now with a description")).to_be_visible()


def test_deleting_a_project_with_tasks_shows_the_server_refusal(
    ui: MaestroPage, api: httpx.Client
) -> None:
    name = unique("Busy")
    project_id = ui.create_project(name)
    ui.create_task("Keeps it alive")
    refusal = api.delete(f"/api/projects/{project_id}").json()["message"]

    ui.project_item(name).get_by_test_id("project-delete").click()
    dialog = ui.dialog("confirm-dialog")
    ui.submit(dialog)

    error = dialog.get_by_test_id("dialog-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(refusal)
    expect(error).to_contain_text("PROJECT_HAS_DEPENDENCIES")
    dialog.get_by_test_id("dialog-cancel").click()
    expect(ui.project_item(name)).to_be_visible()


def test_deleting_an_empty_project_removes_it(ui: MaestroPage) -> None:
    name = unique("Empty")
    ui.create_project(name)

    ui.project_item(name).get_by_test_id("project-delete").click()
    ui.submit(ui.dialog("confirm-dialog"))

    expect(ui.project_item(name)).to_have_count(0)
    expect(ui.page.get_by_test_id("project-title")).not_to_have_text(name)


def test_a_project_without_a_name_is_refused_with_the_server_message(ui: MaestroPage) -> None:
    ui.page.get_by_test_id("new-project").click()
    dialog = ui.dialog("project-dialog")
    dialog.get_by_label("Name").fill("   ")  # passes the browser's check, not the server's
    ui.submit(dialog)

    expect(dialog.get_by_test_id("dialog-error")).to_contain_text("name is required")
