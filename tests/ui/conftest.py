"""Browser fixtures for the web UI tests: Debian's Chromium (never a downloaded
browser) driven headless by Playwright's sync API, one fresh context per test so
each starts with an empty localStorage."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Error, Page, Playwright, sync_playwright

from tests.conftest import RunningServer
from tests.ui.pages import MaestroPage

CHROMIUM = os.environ.get("MAESTRO_TEST_CHROMIUM", "/usr/bin/chromium")
# The test machine may have no network: keep Chromium from trying to reach it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 5000


def launch_chromium(playwright: Playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install -y chromium); the UI tests never download a browser"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test if the UI throws an uncaught error."""
    page = context.new_page()
    errors: list[Error] = []
    page.on("pageerror", lambda error: errors.append(error))
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def ui(page: Page, shared_server: RunningServer) -> MaestroPage:
    """The UI of the shared server, opened and live."""
    return MaestroPage(page, shared_server.url).open()
