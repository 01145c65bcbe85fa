"""The URL a server prints with its generated admin token (``/?token=...``) hands
the token to the page: kept once, taken out of the address bar, never asked for."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.conftest import RunningServer
from tests.ui.pages import MaestroPage

TOKEN = "s3cret-token-from-the-url"


def test_the_page_takes_the_token_from_its_url_once_and_keeps_it(
    page: Page, server_factory: Callable[..., RunningServer]
) -> None:
    server = server_factory(MAESTRO_TOKEN=TOKEN)
    page.goto(f"{server.url}/?token={TOKEN}")

    ui = MaestroPage(page, server.url)
    ui.expect_connection("connected")  # the WebSocket got the token too
    ui.create_project("Opened by URL")
    expect(page.get_by_test_id("token-dialog")).to_have_count(0)
    assert "token" not in page.url, "the secret must not stay in the address bar"

    page.goto(server.url)  # later visits need nothing in the URL
    ui.expect_connection("connected")
    expect(ui.project_item("Opened by URL")).to_be_visible()
    expect(page.get_by_test_id("token-dialog")).to_have_count(0)
