"""Browser notifications, opt-in with the bell: an approval asked for, a
session completed or failed, only for what happens while the page watches.

Headless Chromium shows no notification, so an init script puts a recorder in
place of ``window.Notification`` (it asks the real one for the permission)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import RunningServer
from tests.ui.pages import MaestroPage, unique
from tests.ui.seed import decide, file_approval, working_session

RECORDER = """
(() => {
  const Real = window.Notification;
  const record = { shown: [], asked: [] };
  class Recorded {
    constructor(title, options = {}) {
      this.title = title;
      this.options = options;
      this.onclick = null;
      record.shown.push(this);
    }
    close() {}
    static get permission() { return Real.permission; }
    static async requestPermission() {
      const answer = await Real.requestPermission();
      record.asked.push(answer);
      return answer;
    }
  }
  window.Notification = Recorded;
  window.notificationRecord = record;
})();
"""


@pytest.fixture
def context(context: BrowserContext) -> Iterator[BrowserContext]:
    context.add_init_script(RECORDER)
    yield context


def shown(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate(
        "notificationRecord.shown.map((n) => ({title: n.title, body: n.options.body}))"
    )
    return result


def turn_on(ui: MaestroPage) -> None:
    bell = ui.page.get_by_test_id("notifications-toggle")
    bell.click()
    expect(bell).to_have_attribute("aria-pressed", "true")


def test_the_bell_asks_the_browser_and_the_choice_is_remembered(
    context: BrowserContext, ui: MaestroPage
) -> None:
    context.grant_permissions(["notifications"])
    bell = ui.page.get_by_test_id("notifications-toggle")
    expect(bell).to_have_attribute("aria-pressed", "false")

    turn_on(ui)
    assert ui.page.evaluate("notificationRecord.asked") == ["granted"]
    assert ui.page.evaluate("localStorage.getItem('maestro.notifications')") == "on"

    ui.page.reload()
    expect(bell).to_have_attribute("aria-pressed", "true")
    bell.click()
    expect(bell).to_have_attribute("aria-pressed", "false")
    ui.page.reload()
    expect(bell).to_have_attribute("aria-pressed", "false")


def test_without_the_browsers_permission_the_bell_stays_off(ui: MaestroPage) -> None:
    bell = ui.page.get_by_test_id("notifications-toggle")
    bell.click()
    expect(ui.page.get_by_test_id("notice-info")).to_be_visible()
    expect(bell).to_have_attribute("aria-pressed", "false")
    assert ui.page.evaluate("notificationRecord.asked") != []


def test_an_approval_notifies_and_the_click_opens_the_inbox(
    context: BrowserContext, ui: MaestroPage, api: httpx.Client
) -> None:
    context.grant_permissions(["notifications"])
    turn_on(ui)
    name = unique("Deployer")
    session = working_session(api, name)

    approval = file_approval(api, session["id"], command="make deploy")

    ui.page.wait_for_function("notificationRecord.shown.length > 0")
    assert shown(ui.page) == [
        {"title": "Bash: make deploy", "body": f"{name} asks for approval ({name} project)"}
    ]
    ui.page.evaluate("notificationRecord.shown[0].onclick()")
    expect(ui.inbox).to_be_visible()
    expect(ui.approval(approval["id"]).get_by_test_id("approval-allow")).to_be_focused()
    decide(api, approval["id"])


def test_a_session_finishing_notifies_but_what_the_page_loads_does_not(
    context: BrowserContext, page: Page, shared_server: RunningServer, api: httpx.Client
) -> None:
    context.grant_permissions(["notifications"])
    page.add_init_script("localStorage.setItem('maestro.notifications', 'on')")
    done_before = working_session(api, unique("Done before"), status="completed")
    file_approval(api, working_session(api, unique("Asked before"))["id"])
    name = unique("Worker")
    worker = working_session(api, name)
    failing = working_session(api, unique("Failing"), project_id=worker["projectId"])
    ui = MaestroPage(page, shared_server.url).open(f"#/projects/{worker['projectId']}/sessions")
    expect(ui.session_row(name)).to_be_visible()  # loaded
    expect(ui.page.get_by_test_id("notifications-toggle")).to_have_attribute("aria-pressed", "true")

    api.patch(f"/api/sessions/{worker['id']}", json={"status": "completed"})
    ui.page.wait_for_function("notificationRecord.shown.length > 0")
    api.patch(f"/api/sessions/{failing['id']}", json={"status": "failed"})
    ui.page.wait_for_function("notificationRecord.shown.length > 1")
    api.patch(f"/api/sessions/{worker['id']}", json={"name": f"{name} (renamed)"})  # no new status

    ui.page.wait_for_timeout(300)
    titles = [n["title"] for n in shown(ui.page)]
    assert titles == [f"Session completed: {name}", f"Session failed: {failing['name']}"]
    assert done_before["name"] not in str(titles)
    ui.page.get_by_test_id("tab-board").click()
    ui.page.evaluate("notificationRecord.shown[0].onclick()")  # back to the session
    row = ui.session_row_of(worker["id"])
    expect(row).to_have_class(re.compile(r"\bselected\b"))


def test_nothing_is_notified_while_the_bell_is_off(
    context: BrowserContext, ui: MaestroPage, api: httpx.Client
) -> None:
    context.grant_permissions(["notifications"])
    session = working_session(api, unique("Quiet"))
    approval = file_approval(api, session["id"])
    expect(ui.approval(approval["id"])).to_have_count(1)
    api.patch(f"/api/sessions/{session['id']}", json={"status": "completed"})
    ui.page.wait_for_timeout(300)
    assert shown(ui.page) == []
    decide(api, approval["id"])
