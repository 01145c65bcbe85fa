"""With MAESTRO_TOKEN set, the page asks for the token once and keeps it."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.conftest import RunningServer
from tests.ui.pages import MaestroPage


def test_the_page_asks_for_the_token_once_and_remembers_it(
    page: Page, server_factory: Callable[..., RunningServer]
) -> None:
    server = server_factory(MAESTRO_TOKEN="s3cret-token")
    page.goto(server.url)
    dialog = page.get_by_test_id("token-dialog")

    dialog.get_by_label("Token").fill("wrong")
    dialog.get_by_test_id("dialog-submit").click()
    expect(dialog).to_contain_text("refused")
    dialog.get_by_label("Token").fill("s3cret-token")
    dialog.get_by_test_id("dialog-submit").click()

    ui = MaestroPage(page, server.url)
    ui.expect_connection("connected")
    ui.create_project("Guarded")

    page.reload()
    ui.expect_connection("connected")
    expect(ui.project_item("Guarded")).to_be_visible()
    expect(page.get_by_test_id("token-dialog")).to_have_count(0)
