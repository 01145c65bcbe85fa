"""The project dialog's session settings: worktrees, base branch, setup, files to
copy, agent, model and the auto-start limit, saved with the project; the server's
refusal shown in the dialog."""

from __future__ import annotations

import httpx
from playwright.sync_api import Locator, expect

from tests.ui.pages import MaestroPage, unique

SETTINGS = {
    "worktrees": "on",
    "baseBranch": "release/1.2",
    "setupCommand": "npm ci\nnpm run build",
    "setupTimeout": 120,
    "worktreeInclude": [".env", "config/*.local"],
    "agent": "codex",
    "model": "gpt-5-codex",
    "maxConcurrent": 4,
}


def fill_settings(dialog: Locator) -> None:
    dialog.get_by_test_id("project-worktrees").select_option("on")
    dialog.get_by_test_id("project-base-branch").fill("release/1.2")
    dialog.get_by_test_id("project-setup-command").fill("npm ci\nnpm run build")
    dialog.get_by_test_id("project-setup-timeout").fill("120")
    dialog.get_by_test_id("project-worktree-include").fill(".env\n\n  config/*.local  ")
    dialog.get_by_test_id("project-agent").select_option("codex")
    dialog.get_by_test_id("project-model").fill("gpt-5-codex")
    dialog.get_by_test_id("project-max-concurrent").fill("4")


def settings_of(api: httpx.Client, project_id: str) -> dict[str, object]:
    project = api.get(f"/api/projects/{project_id}").json()
    return {key: project[key] for key in SETTINGS}


def test_a_new_project_is_created_with_every_setting(ui: MaestroPage, api: httpx.Client) -> None:
    name = unique("Settings new")
    ui.page.get_by_test_id("new-project").click()
    dialog = ui.dialog("project-dialog")
    dialog.get_by_label("Name").fill(name)
    fill_settings(dialog)
    ui.submit(dialog)
    expect(dialog).to_be_hidden()
    expect(ui.page.get_by_test_id("project-title")).to_have_text(name)

    assert settings_of(api, ui.project_id()) == SETTINGS


def test_untouched_settings_keep_the_server_defaults(ui: MaestroPage, api: httpx.Client) -> None:
    project_id = ui.create_project(unique("Settings default"))

    assert settings_of(api, project_id) == {
        "worktrees": "auto",
        "baseBranch": None,
        "setupCommand": None,
        "setupTimeout": 600,
        "worktreeInclude": [],
        "agent": None,
        "model": None,
        "maxConcurrent": 2,
    }


def test_edited_settings_are_saved_and_shown_again(ui: MaestroPage, api: httpx.Client) -> None:
    name = unique("Settings edit")
    project_id = ui.create_project(name)

    dialog = ui.edit_project(name)
    expect(dialog.get_by_test_id("project-worktrees")).to_have_value("auto")
    expect(dialog.get_by_test_id("project-setup-timeout")).to_have_value("600")
    expect(dialog.get_by_test_id("project-max-concurrent")).to_have_value("2")
    fill_settings(dialog)
    ui.submit(dialog)
    expect(dialog).to_be_hidden()

    assert settings_of(api, project_id) == SETTINGS
    reopened = ui.edit_project(name)
    expect(reopened.get_by_test_id("project-worktrees")).to_have_value("on")
    expect(reopened.get_by_test_id("project-base-branch")).to_have_value("release/1.2")
    expect(reopened.get_by_test_id("project-setup-command")).to_have_value("npm ci\nnpm run build")
    expect(reopened.get_by_test_id("project-worktree-include")).to_have_value(
        ".env\nconfig/*.local"
    )
    expect(reopened.get_by_test_id("project-agent")).to_have_value("codex")
    expect(reopened.get_by_test_id("project-model")).to_have_value("gpt-5-codex")


def test_clearing_a_setting_puts_its_default_back(ui: MaestroPage, api: httpx.Client) -> None:
    name = unique("Settings cleared")
    project_id = ui.create_project(name)
    api.patch(f"/api/projects/{project_id}", json=SETTINGS).raise_for_status()

    dialog = ui.edit_project(name)
    dialog.get_by_test_id("project-base-branch").fill("")
    dialog.get_by_test_id("project-setup-command").fill("  ")
    dialog.get_by_test_id("project-worktree-include").fill("")
    dialog.get_by_test_id("project-agent").select_option("")
    dialog.get_by_test_id("project-model").fill("")
    ui.submit(dialog)
    expect(dialog).to_be_hidden()

    stored = settings_of(api, project_id)
    assert stored["baseBranch"] is None
    assert stored["setupCommand"] is None
    assert stored["worktreeInclude"] == []
    assert stored["agent"] is None
    assert stored["model"] is None
    assert stored["worktrees"] == "on"  # untouched


def test_the_worktrees_mode_is_explained(ui: MaestroPage) -> None:
    name = unique("Settings explained")
    ui.create_project(name)
    dialog = ui.edit_project(name)
    hint = dialog.get_by_test_id("project-worktrees-hint")

    expect(hint).to_contain_text("when the working directory is in a git repository")
    dialog.get_by_test_id("project-worktrees").select_option("off")
    expect(hint).to_contain_text("in the working directory itself")


def test_a_bad_base_branch_shows_the_server_refusal_and_changes_nothing(
    ui: MaestroPage, api: httpx.Client
) -> None:
    name = unique("Settings refused")
    project_id = ui.create_project(name)
    before = api.get(f"/api/projects/{project_id}").json()

    dialog = ui.edit_project(name)
    dialog.get_by_label("Description").fill("Not saved either")
    dialog.get_by_test_id("project-model").fill("sonnet")
    dialog.get_by_test_id("project-base-branch").fill("-x")
    ui.submit(dialog)

    error = dialog.get_by_test_id("dialog-error")
    expect(error).to_contain_text("baseBranch must be a branch name git accepts")
    expect(error).to_contain_text("VALIDATION_ERROR")
    expect(dialog).to_be_visible()
    field = dialog.get_by_test_id("project-base-branch")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    assert api.get(f"/api/projects/{project_id}").json() == before

    field.fill("main")
    ui.submit(dialog)
    expect(dialog).to_be_hidden()
    assert settings_of(api, project_id)["baseBranch"] == "main"


def test_a_bad_setting_of_a_new_project_is_refused_in_the_dialog(ui: MaestroPage) -> None:
    ui.page.get_by_test_id("new-project").click()
    dialog = ui.dialog("project-dialog")
    dialog.get_by_label("Name").fill(unique("Settings refused new"))
    dialog.get_by_test_id("project-worktree-include").fill("../secrets")
    ui.submit(dialog)

    expect(dialog.get_by_test_id("dialog-error")).to_contain_text(
        "worktreeInclude[0] must be a file pattern relative to the repository"
    )
    expect(dialog.get_by_test_id("project-worktree-include")).to_have_attribute(
        "aria-invalid", "true"
    )


def test_spawn_worker_leaves_the_agent_and_model_to_the_project(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Settings spawn"))
    settings = {"agent": "codex", "model": "gpt-5-codex"}
    api.patch(f"/api/projects/{project_id}", json=settings).raise_for_status()
    ui.create_task("Needs the project's agent")

    detail = ui.open_task("Needs the project's agent")
    detail.get_by_test_id("spawn-worker").click()
    dialog = ui.dialog("spawn-dialog")
    expect(dialog.get_by_test_id("spawn-agent")).to_have_value("")
    expect(dialog.get_by_test_id("spawn-agent").locator("option:checked")).to_have_text(
        "Project's (codex)"
    )
    ui.submit(dialog)
    expect(dialog).to_be_hidden()

    session_id = detail.get_by_test_id("detail-session").get_attribute("data-session-id")
    metadata = api.get(f"/api/sessions/{session_id}").json()["metadata"]
    assert (metadata["agent"], metadata["model"]) == ("codex", "gpt-5-codex")
