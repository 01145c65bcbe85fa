"""The inbox: the approvals waiting for a person, across every project, counted
in the top bar and in the tab's title, decided from the page, and gone from
every open page as soon as anyone decides them."""

from __future__ import annotations

import json
import re
import shutil
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.conftest import RunningServer
from tests.helpers import ok
from tests.ui.pages import MaestroPage
from tests.ui.seed import decide, file_approval, working_session


@pytest.fixture
def own(page: Page, server: RunningServer) -> MaestroPage:
    """The UI of a server of this test's own: its inbox holds only this test's approvals."""
    return MaestroPage(page, server.url).open()


def test_the_badge_and_the_title_count_approvals_live(own: MaestroPage, http: httpx.Client) -> None:
    expect(own.inbox_count).to_have_text("0")
    expect(own.page).to_have_title("Maestro")
    one = working_session(http, "Builder")
    other = working_session(http, "Reviewer")  # another project: the inbox holds them all

    first = file_approval(http, one["id"])
    expect(own.inbox_count).to_have_text("1", timeout=1000)
    expect(own.page).to_have_title("(1) Maestro")
    file_approval(http, other["id"], "WebFetch", url="https://example.com/")
    expect(own.inbox_count).to_have_text("2", timeout=1000)
    expect(own.page).to_have_title("(2) Maestro")

    decide(http, first["id"])
    expect(own.inbox_count).to_have_text("1", timeout=1000)
    expect(own.page).to_have_title("(1) Maestro")


def test_approvals_pending_before_the_page_opened_are_listed(
    page: Page, server: RunningServer, http: httpx.Client
) -> None:
    session = working_session(http, "Early")
    approval = file_approval(http, session["id"], command="make deploy")

    ui = MaestroPage(page, server.url).open()
    expect(ui.inbox_count).to_have_text("1")
    ui.open_inbox()
    expect(ui.approval(approval["id"]).get_by_test_id("approval-target")).to_have_text(
        "make deploy"
    )


def test_an_approval_shows_its_session_tasks_tool_target_and_times(
    own: MaestroPage, http: httpx.Client
) -> None:
    session = working_session(http, "Cleaner")
    approval = file_approval(http, session["id"], command="rm -rf build && make all")

    own.open_inbox()
    item = own.approval(approval["id"])
    expect(item.get_by_test_id("approval-tool")).to_have_text("Bash")
    expect(item.get_by_test_id("approval-kind")).to_have_text("Command")
    expect(item.get_by_test_id("approval-target")).to_have_text("rm -rf build && make all")
    expect(item.get_by_test_id("approval-project")).to_have_text("Cleaner project")
    expect(item.get_by_test_id("approval-tasks")).to_have_text("Cleaner task")
    expect(item.get_by_test_id("approval-times")).to_contain_text("asked just now")
    expect(item.get_by_test_id("approval-times")).to_contain_text("expires in 10 minutes")

    item.get_by_test_id("approval-session").get_by_role("link").click()
    expect(own.inbox).to_be_hidden()  # the link leads away from the inbox
    expect(own.session_row("Cleaner")).to_have_class(re.compile(r"\bselected\b"))


@pytest.mark.parametrize(
    ("tool", "input", "kind", "shown"),
    [
        ("Edit", {"file_path": "/srv/app.py", "old_string": "a"}, "File", "/srv/app.py"),
        ("WebFetch", {"url": "https://example.com/a?b=c", "prompt": "x"}, "URL", "https://example.com/a?b=c"),
        ("mcp__github__create_issue", {"title": "Bug", "labels": ["x"]}, "Input",
         json.dumps({"title": "Bug", "labels": ["x"]}, indent=2)),
    ],
)  # fmt: skip
def test_the_target_is_the_file_the_url_or_else_the_whole_input(
    ui: MaestroPage, api: httpx.Client, tool: str, input: dict[str, Any], kind: str, shown: str
) -> None:
    session = working_session(api, "Agent")
    approval = file_approval(api, session["id"], tool, **input)

    ui.open_inbox()
    item = ui.approval(approval["id"])
    expect(item.get_by_test_id("approval-kind")).to_have_text(kind)
    assert item.get_by_test_id("approval-target").inner_text() == shown
    decide(api, approval["id"])


def test_allow_from_the_inbox_reaches_the_api(own: MaestroPage, http: httpx.Client) -> None:
    session = working_session(http, "Tester")
    approval = file_approval(http, session["id"], command="pytest -x")

    own.open_inbox()
    own.approval(approval["id"]).get_by_test_id("approval-allow").click()

    expect(own.approval(approval["id"])).to_have_count(0)
    expect(own.inbox_count).to_have_text("0")
    expect(own.inbox.get_by_test_id("inbox-empty")).to_be_visible()
    decided = ok(http.get(f"/api/approvals/{approval['id']}"))
    assert (decided["status"], decided["decidedBy"], decided["message"]) == ("allowed", "ui", None)


def test_deny_with_a_message_reaches_the_agent(ui: MaestroPage, api: httpx.Client) -> None:
    session = working_session(api, "Pusher")
    approval = file_approval(api, session["id"], command="git push --force")

    ui.open_inbox()
    item = ui.approval(approval["id"])
    item.get_by_label("Message for the agent").fill("  Open a pull request instead.  ")
    item.get_by_test_id("approval-deny").click()

    expect(item).to_have_count(0)
    decided = ok(api.get(f"/api/approvals/{approval['id']}"))
    assert (decided["status"], decided["decision"]) == ("denied", "deny")
    assert decided["message"] == "Open a pull request instead."


def test_allow_and_remember_adds_the_rule_to_the_project(
    ui: MaestroPage, api: httpx.Client
) -> None:
    session = working_session(api, "Linter")
    approval = file_approval(api, session["id"], command="ruff check .")

    ui.open_inbox()
    ui.approval(approval["id"]).get_by_test_id("approval-allow-remember").click()

    expect(ui.approval(approval["id"])).to_have_count(0)
    assert ok(api.get(f"/api/approvals/{approval['id']}"))["status"] == "allowed"
    project = ok(api.get(f"/api/projects/{session['projectId']}"))
    assert "Bash(ruff check .)" in project["permissions"]["allow"]


def test_a_refused_decision_stays_in_the_inbox_with_the_servers_message(
    ui: MaestroPage, api: httpx.Client
) -> None:
    session = working_session(api, "Odd")
    approval = file_approval(api, session["id"], "Bash", cwd="/tmp")  # no command to remember

    ui.open_inbox()
    item = ui.approval(approval["id"])
    item.get_by_test_id("approval-allow-remember").click()

    expect(item.get_by_test_id("approval-error")).to_contain_text("VALIDATION_ERROR")
    assert ok(api.get(f"/api/approvals/{approval['id']}"))["status"] == "pending"
    item.get_by_test_id("approval-allow").click()  # without remember it goes through
    expect(item).to_have_count(0)


def test_an_approval_decided_through_the_api_leaves_the_open_inbox(
    ui: MaestroPage, api: httpx.Client
) -> None:
    session = working_session(api, "Watcher")
    approval = file_approval(api, session["id"])
    ui.open_inbox()
    expect(ui.approval(approval["id"])).to_be_visible()

    decide(api, approval["id"], "allow")

    expect(ui.approval(approval["id"])).to_have_count(0, timeout=1000)


def test_two_open_pages_both_follow(
    context: BrowserContext, own: MaestroPage, server: RunningServer, http: httpx.Client
) -> None:
    other = MaestroPage(context.new_page(), server.url).open()
    session = working_session(http, "Shared")

    approval = file_approval(http, session["id"])
    for ui in (own, other):
        expect(ui.inbox_count).to_have_text("1", timeout=1000)
        ui.open_inbox()
        expect(ui.approval(approval["id"])).to_be_visible()

    own.approval(approval["id"]).get_by_test_id("approval-allow").click()

    for ui in (own, other):
        expect(ui.approval(approval["id"])).to_have_count(0, timeout=1000)
        expect(ui.inbox_count).to_have_text("0")
        expect(ui.page).to_have_title("Maestro")


def test_a_decision_that_lost_the_race_says_so_and_drops_the_approval(
    ui: MaestroPage, api: httpx.Client
) -> None:
    session = working_session(api, "Racer")
    approval = file_approval(api, session["id"])
    ui.open_inbox()

    def someone_else_first(route: Route) -> None:
        decide(api, approval["id"], "deny")  # from the CLI, a moment earlier
        route.continue_()

    ui.page.route("**/decision", someone_else_first)
    ui.approval(approval["id"]).get_by_test_id("approval-allow").click()

    expect(ui.page.get_by_test_id("notice-info")).to_contain_text(
        "already decided elsewhere (denied)"
    )
    expect(ui.approval(approval["id"])).to_have_count(0)
    assert ok(api.get(f"/api/approvals/{approval['id']}"))["decidedBy"] == "cli"


def test_untrusted_input_is_shown_as_text(ui: MaestroPage, api: httpx.Client) -> None:
    dialogs = ui.record_dialogs()
    session = working_session(api, "<b>Mallory</b>")
    attack = "<img src=x onerror=alert(1)>"
    body = {
        "tool": "<i>Bash</i>",
        "input": {"command": attack},
        "reason": "<script>alert(2)</script>",
    }
    approval = ok(api.post(f"/api/sessions/{session['id']}/approvals", json=body), 201)

    ui.open_inbox()
    item = ui.approval(approval["id"])
    expect(item.get_by_test_id("approval-target")).to_have_text(attack)
    expect(item.get_by_test_id("approval-tool")).to_have_text("<i>Bash</i>")
    expect(item.get_by_test_id("approval-reason")).to_have_text("<script>alert(2)</script>")
    expect(item.get_by_test_id("approval-session")).to_have_text("<b>Mallory</b>")
    expect(ui.inbox.locator("img, script, i, b")).to_have_count(0)
    ui.page.wait_for_timeout(200)  # an onerror would have fired by now
    assert dialogs == []
    decide(api, approval["id"])


def test_after_a_resync_the_inbox_is_reloaded(page: Page, server: RunningServer) -> None:
    """A replaced store: the page reloads its whole state, approvals included."""
    with httpx.Client(base_url=server.url) as api:
        old = file_approval(api, working_session(api, "Old")["id"])
    ui = MaestroPage(page, server.url).open()
    expect(ui.inbox_count).to_have_text("1")

    server.stop()
    ui.expect_connection("reconnecting")
    shutil.rmtree(server.data_dir)
    server.start()
    with httpx.Client(base_url=server.url) as api:
        new = file_approval(api, working_session(api, "New")["id"], command="make new")

    ui.expect_connection("connected")
    ui.open_inbox()
    expect(ui.approval(new["id"])).to_be_visible()
    expect(ui.approval(old["id"])).to_have_count(0)
    expect(ui.inbox_count).to_have_text("1")


def test_the_inbox_opens_and_closes_from_the_keyboard(own: MaestroPage, http: httpx.Client) -> None:
    session = working_session(http, "Keys")
    approval = file_approval(http, session["id"])
    button = own.page.get_by_test_id("inbox-button")
    expect(button).to_have_attribute("aria-label", "Inbox: 1 approval waiting")

    button.focus()
    own.page.keyboard.press("Enter")
    expect(own.inbox).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    own.page.keyboard.press("Escape")
    expect(own.inbox).to_be_hidden()
    expect(button).to_be_focused()
    decide(http, approval["id"])
