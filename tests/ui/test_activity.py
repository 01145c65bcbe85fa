"""The activity pane of a session: the log so far, then each line the agent's
side posts, live, over a WebSocket of its own that lives only while the pane
is open."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, WebSocket, WebSocketRoute, expect

from tests.helpers import ok
from tests.ui.pages import MaestroPage, unique
from tests.ui.seed import working_session


def post(api: httpx.Client, session_id: str, *entries: tuple[str, str]) -> None:
    body = {"entries": [{"kind": kind, "text": text} for kind, text in entries]}
    ok(api.post(f"/api/sessions/{session_id}/activity", json=body))


def lines(n: int, start: int = 1) -> list[tuple[str, str]]:
    return [("assistant", f"line {i}") for i in range(start, start + n)]


class Sockets:
    """The page's WebSockets that watch a session (``?sessionId=``)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.opened: list[WebSocket] = []
        page.on("websocket", self.seen)

    def seen(self, socket: WebSocket) -> None:
        if "sessionId=" in socket.url:
            self.opened.append(socket)

    def expect_all_closed(self) -> None:
        for _ in range(50):
            if all(socket.is_closed() for socket in self.opened):
                return
            self.page.wait_for_timeout(100)
        raise AssertionError([s.url for s in self.opened if not s.is_closed()])


@pytest.fixture
def session(ui: MaestroPage, api: httpx.Client) -> dict[str, Any]:
    """A running session, shown in the sessions view."""
    made = working_session(api, unique("Busy"))
    ui.page.goto(f"{ui.base_url}/#/projects/{made['projectId']}/sessions")
    expect(ui.session_row(made["name"])).to_be_visible()
    return made


def open_pane(ui: MaestroPage, session: dict[str, Any]) -> Locator:
    pane = ui.session_row(session["name"]).get_by_test_id("session-activity")
    pane.locator("summary").click()
    expect(pane.get_by_test_id("activity-state")).to_have_text("· Live")
    return pane


def test_the_log_so_far_then_new_entries_live(
    ui: MaestroPage, api: httpx.Client, session: dict[str, Any]
) -> None:
    sockets = Sockets(ui.page)
    post(api, session["id"], ("status", "● started"), ("assistant", "Reading the tests."))

    pane = open_pane(ui, session)
    entries = pane.get_by_test_id("activity-entry")
    expect(entries).to_have_count(2)
    assert len(sockets.opened) == 1 and f"sessionId={session['id']}" in sockets.opened[0].url

    post(api, session["id"], ("tool", "→ Bash: pytest -q"), ("assistant", "All green."))
    expect(entries).to_have_count(4, timeout=1000)
    expect(entries.nth(2)).to_have_attribute("data-kind", "tool")
    expect(entries.nth(2)).to_contain_text("→ Bash: pytest -q")
    assert [e.get_attribute("data-index") for e in entries.all()] == ["1", "2", "3", "4"]
    expect(entries.nth(3).get_by_test_id("activity-text")).to_have_text("All green.")


def test_closing_the_pane_closes_its_socket(
    ui: MaestroPage, api: httpx.Client, session: dict[str, Any]
) -> None:
    sockets = Sockets(ui.page)
    pane = open_pane(ui, session)
    pane.locator("summary").click()  # closed
    sockets.expect_all_closed()

    post(api, session["id"], ("assistant", "said while nobody watched"))
    pane.locator("summary").click()  # open again: read from the log
    expect(pane.get_by_test_id("activity-text")).to_have_text(["said while nobody watched"])
    ui.page.get_by_test_id("tab-board").click()  # leaving the view closes it too
    sockets.expect_all_closed()
    assert len(sockets.opened) == 2


def test_only_the_last_thousand_entries_are_kept(
    ui: MaestroPage, api: httpx.Client, session: dict[str, Any]
) -> None:
    for start in range(1, 601, 200):
        post(api, session["id"], *lines(200, start))
    pane = open_pane(ui, session)
    entries = pane.get_by_test_id("activity-entry")
    expect(entries).to_have_count(600)

    for start in range(601, 1201, 200):
        post(api, session["id"], *lines(200, start))

    expect(entries.last).to_have_attribute("data-index", "1200")
    expect(entries).to_have_count(1000)
    expect(entries.first).to_have_attribute("data-index", "201")


def test_the_log_follows_the_bottom_unless_scrolled_up(
    ui: MaestroPage, api: httpx.Client, session: dict[str, Any]
) -> None:
    post(api, session["id"], *lines(60))
    pane = open_pane(ui, session)
    log = pane.get_by_test_id("activity-log")
    entries = pane.get_by_test_id("activity-entry")
    expect(entries).to_have_count(60)
    at_bottom = "el => el.scrollTop + el.clientHeight >= el.scrollHeight - 4"
    assert log.evaluate(at_bottom)

    post(api, session["id"], *lines(20, 61))
    expect(entries).to_have_count(80)
    assert log.evaluate(at_bottom)

    log.evaluate("el => { el.scrollTop = 0; }")
    post(api, session["id"], *lines(20, 81))
    expect(entries).to_have_count(100)
    assert log.evaluate("el => el.scrollTop") == 0


def test_an_entry_is_shown_as_text(
    ui: MaestroPage, api: httpx.Client, session: dict[str, Any]
) -> None:
    dialogs = ui.record_dialogs()
    pane = open_pane(ui, session)
    attack = "<img src=x onerror=alert(1)>"

    post(api, session["id"], ("tool", attack))

    expect(pane.get_by_test_id("activity-text")).to_have_text(attack)
    expect(pane.locator("img")).to_have_count(0)
    ui.page.wait_for_timeout(200)
    assert dialogs == []


def test_a_frame_the_page_missed_is_read_from_the_log(
    ui: MaestroPage, api: httpx.Client, session: dict[str, Any]
) -> None:
    """A gap in the indexes (the server skips frames for a slow client) is filled."""
    skipped: list[str | bytes] = []

    def skip_the_first_frame(page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()

        def relay(message: str | bytes) -> None:
            if "session:activity" in str(message) and not skipped:
                skipped.append(message)
            else:
                page_side.send(message)

        server_side.on_message(relay)

    ui.page.route_web_socket(re.compile(r"sessionId="), skip_the_first_frame)
    pane = open_pane(ui, session)

    post(api, session["id"], ("assistant", "first"))
    post(api, session["id"], ("assistant", "second"))

    expect(pane.get_by_test_id("activity-text")).to_have_text(["first", "second"])
    assert skipped
