"""A session's worktree in the sessions view and the task detail: its branch,
and once the agent exited the change summary (files with line counts, leftovers
committed, worktree removed or kept) and the worktree notes."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.helpers import make_session, make_task
from tests.ui.pages import MaestroPage, unique

WORKTREE = "/home/me/.maestro/worktrees/proj/sess"
MINUS = "\N{MINUS SIGN}"  # the UI counts deleted lines with a real minus sign


def branch_metadata(branch: str = "maestro/ab12-parse-config") -> dict[str, Any]:
    return {
        "branch": branch,
        "baseBranch": "main",
        "worktree": WORKTREE,
        "baseCommit": "0a1b2c3d",
        "mergedBranches": [],
    }


def summary(files: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A ``worktree_summary`` event as ``worker init`` writes it."""
    data = {
        "branch": "maestro/ab12-parse-config",
        "head": "9f8e7d6c",
        "baseCommit": "0a1b2c3d",
        "committedLeftovers": True,
        "files": files,
        "added": sum(f["added"] for f in files),
        "deleted": sum(f["deleted"] for f in files),
        "removed": False,
        "worktree": WORKTREE,
        **fields,
    }
    return {"type": "worktree_summary", "data": data}


def patch_session(api: httpx.Client, session_id: str, body: dict[str, Any]) -> None:
    api.patch(f"/api/sessions/{session_id}", json=body).raise_for_status()


def test_a_session_shows_its_branch_then_its_change_summary(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Worktree"))
    task = make_task(api, project_id, title="Parse the config")
    session = make_session(api, project_id, [task["id"]], name="Parser", status="running")
    patch_session(api, session["id"], {"metadata": branch_metadata()})

    ui.open_sessions()
    row = ui.session_row("Parser")
    expect(row.get_by_test_id("session-branch-name")).to_have_text("maestro/ab12-parse-config")
    expect(row.get_by_test_id("session-branch-base")).to_have_text("main")
    expect(row.get_by_test_id("session-changes")).to_have_count(0)  # the agent is at work

    files = [
        {"path": "src/config/loader.ts", "added": 40, "deleted": 12},
        {"path": "src/config/loader.test.ts", "added": 80, "deleted": 2},
    ]
    patch_session(api, session["id"], {"status": "failed", "events": [summary(files)]})

    changes = row.get_by_test_id("session-changes")
    expect(changes.locator("summary")).to_have_text(f"2 files changed +120 {MINUS}14")
    expect(row.get_by_test_id("changed-file")).to_have_count(2)
    expect(row.get_by_test_id("changed-file").first).to_be_hidden()  # collapsed
    changes.locator("summary").click()
    expect(row.get_by_test_id("changed-file").first).to_have_text(
        f"src/config/loader.ts+40 {MINUS}12"
    )
    expect(row.get_by_test_id("changed-file").nth(1)).to_contain_text(f"+80 {MINUS}2")
    expect(row.get_by_test_id("session-leftovers")).to_have_text(
        "work left uncommitted was committed"
    )
    expect(row.get_by_test_id("session-worktree-state")).to_have_text(
        f"worktree kept at {WORKTREE}"
    )

    # A live update of the session keeps the list open.
    patch_session(api, session["id"], {"name": "Parser (done)"})
    row = ui.session_row("Parser (done)")
    expect(row.get_by_test_id("changed-file").first).to_be_visible()


def test_a_removed_worktree_and_its_notes_are_shown(ui: MaestroPage, api: httpx.Client) -> None:
    project_id = ui.create_project(unique("Worktree removed"))
    session = make_session(api, project_id, [], name="Tidy", status="running")
    note = (
        "the working directory has uncommitted changes: the worktree starts from main as committed"
    )
    events = [
        {"type": "worktree_created", "data": branch_metadata()},
        {"type": "worktree_note", "data": {"message": note}},
        summary([], committedLeftovers=False, removed=True),
    ]
    patch_session(
        api, session["id"], {"status": "completed", "metadata": branch_metadata(), "events": events}
    )

    ui.open_sessions()
    row = ui.session_row("Tidy")
    expect(row.get_by_test_id("session-worktree-note")).to_have_text(f"Note: {note}")
    expect(row.get_by_test_id("session-changes-files")).to_have_text("No files changed")
    expect(row.get_by_test_id("session-leftovers")).to_have_text("nothing left uncommitted")
    expect(row.get_by_test_id("session-worktree-state")).to_have_text("worktree removed")


def test_the_task_detail_lists_each_session_with_its_branch_and_changes(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Worktree detail"))
    task = make_task(api, project_id, title="Retry uploads")
    session = make_session(api, project_id, [task["id"]], name="Uploader", status="running")
    files = [{"path": "src/upload.ts", "added": 7, "deleted": 1}]
    patch_session(
        api,
        session["id"],
        {
            "status": "completed",
            "metadata": branch_metadata("maestro/cd34-retry"),
            "events": [summary(files, removed=True)],
        },
    )

    detail = ui.open_task("Retry uploads")
    item = detail.get_by_test_id("detail-session")
    expect(item.get_by_test_id("detail-session-branch-name")).to_have_text("maestro/cd34-retry")
    expect(item.get_by_test_id("session-changes").locator("summary")).to_have_text(
        f"1 file changed +7 {MINUS}1"
    )
    item.get_by_test_id("session-changes").locator("summary").click()
    expect(item.get_by_test_id("changed-file-path")).to_have_text("src/upload.ts")


def test_hostile_branch_names_and_file_paths_are_shown_as_text(
    ui: MaestroPage, api: httpx.Client
) -> None:
    alerts = ui.record_dialogs()
    project_id = ui.create_project(unique("Worktree hostile"))
    task = make_task(api, project_id, title="Hostile")
    session = make_session(api, project_id, [task["id"]], name="Mischief", status="running")
    branch = "<img src=x onerror=alert(1)>"
    path = "<script>alert(2)</script><b>bold</b>.py"
    note = "<img src=y onerror=alert(3)>"
    metadata = {**branch_metadata(branch), "baseBranch": "<i>main</i>", "worktree": "<u>wt</u>"}
    events = [
        {"type": "worktree_note", "data": {"message": note}},
        summary([{"path": path, "added": 1, "deleted": 0}], removed=False, worktree="<u>wt</u>"),
    ]
    patch_session(api, session["id"], {"status": "failed", "metadata": metadata, "events": events})

    ui.open_sessions()
    row = ui.session_row("Mischief")
    row.get_by_test_id("session-changes").locator("summary").click()
    expect(row.get_by_test_id("session-branch-name")).to_have_text(branch)
    expect(row.get_by_test_id("session-branch-base")).to_have_text("<i>main</i>")
    expect(row.get_by_test_id("changed-file-path")).to_have_text(path)
    expect(row.get_by_test_id("session-worktree-path")).to_have_text("<u>wt</u>")
    expect(row.get_by_test_id("session-worktree-note")).to_have_text(f"Note: {note}")
    for tag in ("img", "script", "b", "i", "u"):
        expect(row.locator(tag)).to_have_count(0)

    ui.page.get_by_test_id("tab-board").click()
    detail = ui.open_task("Hostile")
    expect(detail.get_by_test_id("detail-session-branch-name")).to_have_text(branch)
    expect(detail.get_by_test_id("detail-session").locator("img")).to_have_count(0)
    assert alerts == []
