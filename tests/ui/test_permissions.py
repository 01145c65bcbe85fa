"""The project dialog's permissions: mode and rules, saved as one policy."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.ui.pages import MaestroPage, unique


def test_the_edit_dialog_shows_the_stored_policy(ui: MaestroPage, api: httpx.Client) -> None:
    name = unique("Policy shown")
    project_id = ui.create_project(name)
    stored = api.get(f"/api/projects/{project_id}").json()["permissions"]

    dialog = ui.edit_project(name)

    expect(dialog.get_by_test_id("permissions-mode")).to_have_value(stored["mode"])
    expect(dialog.get_by_test_id("permissions-allow")).to_have_value("\n".join(stored["allow"]))
    expect(dialog.get_by_test_id("permissions-deny")).to_have_value("\n".join(stored["deny"]))
    dialog.get_by_test_id("permissions-mode").select_option("bypassPermissions")
    expect(dialog.get_by_test_id("permissions-mode-hint")).to_have_text(
        "Runs every command without asking."
    )
    expect(dialog.get_by_test_id("permissions-mode-hint")).to_have_class("hint danger-text")


def test_an_edited_policy_is_stored_whole(ui: MaestroPage, api: httpx.Client) -> None:
    name = unique("Policy edited")
    project_id = ui.create_project(name)

    dialog = ui.edit_project(name)
    dialog.get_by_label("Mode", exact=True).select_option("plan")
    dialog.get_by_label("Allowed rules").fill(
        "Edit\n  Bash(npm test:*)  \n\nWebFetch(domain:example.com)"
    )
    dialog.get_by_label("Denied rules").fill("Bash(rm:*)")
    ui.submit(dialog)
    expect(dialog).to_be_hidden()

    stored = api.get(f"/api/projects/{project_id}").json()
    assert stored["name"] == name
    assert stored["permissions"] == {
        "mode": "plan",
        "allow": ["Edit", "Bash(npm test:*)", "WebFetch(domain:example.com)"],
        "deny": ["Bash(rm:*)"],
    }
    reopened = ui.edit_project(name)
    expect(reopened.get_by_label("Mode", exact=True)).to_have_value("plan")
    expect(reopened.get_by_label("Denied rules")).to_have_value("Bash(rm:*)")


def test_a_bad_rule_shows_the_server_error_and_changes_nothing(
    ui: MaestroPage, api: httpx.Client
) -> None:
    name = unique("Policy refused")
    project_id = ui.create_project(name)
    before = api.get(f"/api/projects/{project_id}").json()

    dialog = ui.edit_project(name)
    dialog.get_by_label("Description").fill("Not saved either")
    dialog.get_by_label("Allowed rules").fill("Edit\nnot a rule")
    ui.submit(dialog)

    error = dialog.get_by_test_id("dialog-error")
    expect(error).to_contain_text("permissions.allow[1] must be a permission rule")
    expect(error).to_contain_text("VALIDATION_ERROR")
    expect(dialog).to_be_visible()
    assert api.get(f"/api/projects/{project_id}").json() == before


def test_a_new_project_gets_the_default_policy(ui: MaestroPage, api: httpx.Client) -> None:
    ui.page.get_by_test_id("new-project").click()
    expect(ui.dialog("project-dialog").get_by_test_id("project-permissions-note")).to_be_visible()
    ui.dialog("project-dialog").get_by_test_id("dialog-cancel").click()

    project_id = ui.create_project(unique("Policy default"))

    assert api.get(f"/api/projects/{project_id}").json()["permissions"]["mode"] == "acceptEdits"
