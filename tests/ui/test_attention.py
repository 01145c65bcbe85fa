"""A session that needs a person (its ``attention``) is marked in the sessions
view and on the cards of its tasks, live."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.ui.pages import MaestroPage, unique
from tests.ui.seed import decide, file_approval, working_session

FORMAT_JS = (Path(__file__).parents[2] / "src" / "maestro" / "web" / "js" / "format.js").read_text()


def test_an_approval_marks_the_session_and_its_task_until_decided(
    ui: MaestroPage, api: httpx.Client
) -> None:
    name = unique("Needs me")
    session = working_session(api, name)
    ui.page.goto(f"{ui.base_url}/#/projects/{session['projectId']}")
    card = ui.card(f"{name} task")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("card-attention")).to_have_count(0)

    approval = file_approval(api, session["id"])
    expect(card.get_by_test_id("card-attention")).to_have_text("⚑ Approval needed", timeout=1000)
    expect(card).to_have_class(re.compile(r"\bneeds-attention\b"))
    detail = ui.open_task(f"{name} task")
    expect(detail.get_by_test_id("detail-session-attention")).to_have_text("⚑ Approval needed")
    row = ui.session_row(name)
    ui.open_sessions()
    expect(row.get_by_test_id("session-attention")).to_have_text("⚑ Approval needed")

    row.get_by_test_id("session-attention").click()  # the way to the decision
    expect(ui.approval(approval["id"])).to_be_visible()

    decide(api, approval["id"], "allow")
    expect(row.get_by_test_id("session-attention")).to_have_count(0, timeout=1000)
    ui.page.get_by_test_id("tab-board").click()
    expect(card.get_by_test_id("card-attention")).to_have_count(0)


def test_input_and_failure_are_marked_too(ui: MaestroPage, api: httpx.Client) -> None:
    name = unique("Asking")
    session = working_session(api, name)
    ui.page.goto(f"{ui.base_url}/#/projects/{session['projectId']}/sessions")
    row = ui.session_row(name)
    expect(row).to_be_visible()

    api.patch(f"/api/sessions/{session['id']}", json={"attention": "input"})
    expect(row.get_by_test_id("session-attention")).to_have_text("⚑ Input needed", timeout=1000)
    api.patch(f"/api/sessions/{session['id']}", json={"status": "failed"})
    expect(row.get_by_test_id("session-attention")).to_have_text("⚑ Failed", timeout=1000)

    ui.page.get_by_test_id("tab-board").click()
    attention = ui.card(f"{name} task").get_by_test_id("card-attention")
    expect(attention.locator("[data-attention]")).to_have_attribute("data-attention", "failed")
