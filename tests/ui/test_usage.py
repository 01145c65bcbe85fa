"""What agents spent: on the session, rolled up on the task detail and the project."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.helpers import SAMPLE_USAGE, make_session, make_task
from tests.ui.pages import MaestroPage, unique


def test_a_session_shows_its_usage_as_soon_as_it_is_reported(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Spent"))
    task = make_task(api, project_id, title="Costly")
    session = make_session(api, project_id, [task["id"]], name="Worker")
    view = ui.open_sessions()
    row = view.get_by_test_id("session-row").filter(has_text="Worker")
    expect(row.get_by_test_id("session-status")).to_have_text("Running")
    expect(row.get_by_test_id("session-usage")).to_have_count(0)

    body = {"usage": SAMPLE_USAGE, "agentSessionId": "5e6f-claude"}
    api.patch(f"/api/sessions/{session['id']}", json=body)

    expect(row.get_by_test_id("session-cost")).to_have_text("$0.0123")
    expect(row.get_by_test_id("session-tokens")).to_have_text(
        "1,234 in · 567 out · 8,900 cache read · 120 cache write"
    )
    expect(row.get_by_test_id("session-turns")).to_have_text("7")
    expect(row.get_by_test_id("session-duration")).to_have_text("1m 23s")
    expect(row.get_by_test_id("session-model")).to_have_text("claude-sonnet-4-5")
    expect(row.get_by_test_id("session-agent-session")).to_have_text("5e6f-claude")


def test_the_task_detail_rolls_up_its_child_tasks_sessions_live(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Rollup"))
    parent = make_task(api, project_id, title="Parent")
    child = make_task(api, project_id, title="Child", parentId=parent["id"])
    own = make_session(api, project_id, [parent["id"]], name="On the parent")
    api.patch(f"/api/sessions/{own['id']}", json={"usage": {**SAMPLE_USAGE, "costUsd": 0.01}})
    detail = ui.open_task("Parent")
    usage = detail.get_by_test_id("detail-usage")
    expect(usage.get_by_test_id("detail-usage-cost")).to_have_text("$0.0100")

    childs = make_session(api, project_id, [child["id"]], name="On the child")
    api.patch(f"/api/sessions/{childs['id']}", json={"usage": {**SAMPLE_USAGE, "costUsd": 0.0023}})

    expect(usage.get_by_test_id("detail-usage-cost")).to_have_text("$0.0123")
    expect(usage.get_by_test_id("detail-usage-scope")).to_have_text(
        " · 2 session(s) in 2 task(s) incl. child tasks"
    )
    expect(usage).to_contain_text("14 turns")


def test_a_task_without_usage_shows_no_usage_line(ui: MaestroPage, api: httpx.Client) -> None:
    ui.create_project(unique("Idle"))
    ui.create_task("Nothing spent")
    detail = ui.open_task("Nothing spent")
    expect(detail.get_by_test_id("detail-title")).to_have_text("Nothing spent")
    expect(detail.get_by_test_id("detail-usage")).to_be_hidden()


def test_the_project_header_totals_every_session(ui: MaestroPage, api: httpx.Client) -> None:
    project_id = ui.create_project(unique("Totals"))
    header = ui.page.get_by_test_id("project-usage")
    expect(header).to_have_count(0)
    for title in ("One", "Two"):
        task = make_task(api, project_id, title=title)
        session = make_session(api, project_id, [task["id"]], name=title)
        api.patch(f"/api/sessions/{session['id']}", json={"usage": SAMPLE_USAGE})

    expect(header).to_have_text("$0.0246 · 21.6K tokens")
