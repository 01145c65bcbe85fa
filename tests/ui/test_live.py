"""Live updates: changes from other clients appear without a reload, and the
page survives a server restart without missing anything."""

from __future__ import annotations

import re
import shutil
import time
from typing import Any

import httpx
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.conftest import RunningServer
from tests.ui.pages import MaestroPage, unique


def take_down(server: RunningServer, ui: MaestroPage) -> None:
    """Stop the server; the page says it is reconnecting."""
    server.stop()
    ui.expect_connection("reconnecting")


def test_a_change_made_through_the_api_appears_within_a_second(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Live"))

    task = api.post("/api/tasks", json={"projectId": project_id, "title": "From curl"}).json()
    expect(ui.column("pending").locator(ui.card("From curl"))).to_be_visible(timeout=1000)

    api.patch(f"/api/tasks/{task['id']}", json={"status": "completed"})
    expect(ui.column("completed").locator(ui.card("From curl"))).to_be_visible(timeout=1000)

    api.post(f"/api/tasks/{task['id']}/subtasks", json={"title": "step"})
    progress = ui.card("From curl").get_by_test_id("card-progress")
    expect(progress).to_contain_text("0/1", timeout=1000)


def test_the_page_reconnects_after_a_restart(page: Page, server: RunningServer) -> None:
    ui = MaestroPage(page, server.url).open()
    ui.create_project("Before the restart")

    take_down(server, ui)
    server.start()

    ui.expect_connection("connected")
    expect(ui.page.get_by_test_id("project-title")).to_have_text("Before the restart")


def test_a_change_made_while_disconnected_is_replayed_on_reconnect(
    page: Page, server: RunningServer
) -> None:
    gate = SocketGate(page)
    ui = MaestroPage(page, server.url).open()
    project_id = ui.create_project("Replay")
    ui.create_task("Seen live")

    take_down(server, ui)
    gate.closed = True  # the page may not reconnect until we say so
    server.start()
    with httpx.Client(base_url=server.url) as api:
        body = {"projectId": project_id, "title": "Made while away"}
        assert api.post("/api/tasks", json=body).status_code == 201
    time.sleep(0.5)
    expect(ui.card("Made while away")).to_have_count(0)  # not connected yet

    gate.closed = False
    ui.expect_connection("connected")
    expect(ui.column("pending").locator(ui.card("Made while away"))).to_be_visible()
    expect(ui.card("Seen live")).to_be_visible()
    assert any("since=" in url for url in gate.urls[1:]), gate.urls


def test_a_replaced_store_makes_the_page_reload_everything(
    page: Page, server: RunningServer
) -> None:
    ui = MaestroPage(page, server.url).open()
    ui.create_project("Old store")
    ui.create_task("Old task")  # the page has seen more events than the new store will hold

    take_down(server, ui)
    shutil.rmtree(server.data_dir)  # a new, empty store: its seq restarts below ours
    server.start()
    with httpx.Client(base_url=server.url) as api:
        api.post("/api/projects", json={"name": "New store"})

    ui.expect_connection("connected")
    expect(ui.project_item("New store")).to_be_visible()
    expect(ui.project_item("Old store")).to_have_count(0)


def test_a_replaced_store_that_caught_up_with_the_page_is_still_reloaded(
    page: Page, server: RunningServer
) -> None:
    """Same seq, other events: only the store id tells the page its state is stale."""
    gate = SocketGate(page)
    ui = MaestroPage(page, server.url).open()
    ui.create_project("Old store")
    ui.create_task("Old task")

    take_down(server, ui)
    gate.closed = True
    shutil.rmtree(server.data_dir)
    server.start()
    with httpx.Client(base_url=server.url) as api:
        project = api.post("/api/projects", json={"name": "New store"}).json()
        api.post("/api/tasks", json={"projectId": project["id"], "title": "New task"})
        assert api.get("/health").json()["latestSeq"] == 2  # where the page stopped

    gate.closed = False
    ui.expect_connection("connected")
    expect(ui.project_item("New store")).to_be_visible()
    expect(ui.project_item("Old store")).to_have_count(0)
    assert "storeId=" in gate.urls[-1], gate.urls


class SocketGate:
    """Routes the page's WebSockets through Playwright so a test can hold the
    page off the server: while ``closed``, every connection attempt fails."""

    def __init__(self, page: Page) -> None:
        self.closed = False
        self.urls: list[str] = []
        page.route_web_socket(re.compile(r"^wss?://"), self.handle)

    def handle(self, socket: WebSocketRoute) -> Any:
        self.urls.append(socket.url)
        if self.closed:
            socket.close(code=1011, reason="gate closed")
        else:
            socket.connect_to_server()
