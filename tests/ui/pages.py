"""A page object for the Maestro web UI, so the tests read as what a user does.

Locators use the UI's stable ``data-testid`` attributes.
"""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Dialog, Locator, Page, expect


def unique(name: str) -> str:
    """Names stay unique on the server shared by many tests."""
    return f"{name} {uuid.uuid4().hex[:6]}"


class MaestroPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    # -- the whole page -------------------------------------------------------

    def open(self, fragment: str = "") -> MaestroPage:
        self.page.goto(f"{self.base_url}/{fragment}")
        self.expect_connection("connected")
        return self

    @property
    def connection(self) -> Locator:
        return self.page.get_by_test_id("connection-status")

    def expect_connection(self, state: str, timeout: float = 10_000) -> None:
        expect(self.connection).to_have_attribute("data-state", state, timeout=timeout)

    def record_dialogs(self) -> list[str]:
        """The messages of the alerts the page opens from now on (each dismissed),
        which an injected script would open."""
        messages: list[str] = []

        def dismiss(dialog: Dialog) -> None:
            messages.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", dismiss)
        return messages

    def dialog(self, testid: str) -> Locator:
        return self.page.get_by_test_id(testid)

    def submit(self, dialog: Locator) -> None:
        dialog.get_by_test_id("dialog-submit").click()

    # -- projects -------------------------------------------------------------

    def project_item(self, name: str) -> Locator:
        return self.page.get_by_test_id("project-item").filter(
            has=self.page.get_by_text(name, exact=True)
        )

    def create_project(self, name: str, working_dir: str = "/tmp/demo") -> str:
        """Create a project through the sidebar; returns its id (from the URL)."""
        self.page.get_by_test_id("new-project").click()
        dialog = self.dialog("project-dialog")
        dialog.get_by_label("Name").fill(name)
        dialog.get_by_label("Working directory").fill(working_dir)
        self.submit(dialog)
        expect(dialog).to_be_hidden()
        expect(self.page.get_by_test_id("project-title")).to_have_text(name)
        return self.project_id()

    def project_id(self) -> str:
        match = re.search(r"#/projects/([^/]+)", self.page.url)
        assert match, self.page.url
        return match.group(1)

    def edit_project(self, name: str) -> Locator:
        """Open the project's edit dialog; returns it."""
        self.project_item(name).get_by_test_id("project-edit").click()
        dialog = self.dialog("project-dialog")
        expect(dialog).to_be_visible()
        return dialog

    def select_project(self, name: str) -> None:
        self.project_item(name).get_by_test_id("project-link").click()
        expect(self.page.get_by_test_id("project-title")).to_have_text(name)

    # -- the board --------------------------------------------------------------

    def column(self, status: str) -> Locator:
        return self.page.get_by_test_id(f"column-{status}")

    def card(self, title: str) -> Locator:
        return self.page.get_by_test_id("task-card").filter(
            has=self.page.get_by_test_id("card-title").get_by_text(title, exact=True)
        )

    def create_task(self, title: str, priority: str | None = None) -> Locator:
        self.page.get_by_test_id("new-task").click()
        dialog = self.dialog("task-dialog")
        dialog.get_by_label("Title").fill(title)
        if priority:
            dialog.get_by_label("Priority").select_option(priority)
        self.submit(dialog)
        expect(dialog).to_be_hidden()
        card = self.card(title)
        expect(card).to_be_visible()
        return card

    def set_status(self, title: str, status: str) -> None:
        self.card(title).get_by_test_id("card-status").select_option(status)
        expect(self.column(status).locator(self.card(title))).to_be_visible()

    # -- the task detail --------------------------------------------------------

    @property
    def detail(self) -> Locator:
        return self.page.get_by_test_id("task-detail")

    def open_task(self, title: str) -> Locator:
        self.card(title).get_by_test_id("card-title").click()
        expect(self.detail.get_by_test_id("detail-title")).to_have_text(title)
        return self.detail

    def add_subtask(self, title: str) -> None:
        self.detail.get_by_test_id("subtask-input").fill(title)
        self.detail.get_by_test_id("subtask-add").click()
        expect(self.subtask(title)).to_be_visible()

    def subtask(self, title: str) -> Locator:
        return self.detail.get_by_test_id("subtask").filter(
            has=self.page.get_by_test_id("subtask-title").get_by_text(title, exact=True)
        )

    def timeline(self) -> Locator:
        return self.detail.get_by_test_id("timeline-entry")

    # -- sessions ---------------------------------------------------------------

    def open_sessions(self) -> Locator:
        self.page.get_by_test_id("tab-sessions").click()
        view = self.page.get_by_test_id("sessions-view")
        expect(view).to_be_visible()
        return view

    def session_row(self, name: str) -> Locator:
        return self.page.get_by_test_id("session-row").filter(
            has=self.page.get_by_test_id("session-name").get_by_text(name, exact=True)
        )

    def session_row_of(self, session_id: str) -> Locator:
        """The row of a session, whatever its name becomes."""
        return self.page.locator(f'[data-testid="session-row"][data-session-id="{session_id}"]')

    # -- the inbox --------------------------------------------------------------

    @property
    def inbox_count(self) -> Locator:
        """The number on the inbox button in the top bar."""
        return self.page.get_by_test_id("inbox-count")

    @property
    def inbox(self) -> Locator:
        return self.page.get_by_test_id("inbox")

    def open_inbox(self) -> Locator:
        if not self.inbox.is_visible():
            self.page.get_by_test_id("inbox-button").click()
        expect(self.inbox).to_be_visible()
        return self.inbox

    def approval(self, approval_id: str) -> Locator:
        """An approval listed in the inbox."""
        return self.inbox.locator(f'[data-testid="approval"][data-approval-id="{approval_id}"]')

    # -- runners ----------------------------------------------------------------

    def open_runners(self) -> Locator:
        """Follow the top bar's Runners link; returns the view."""
        self.page.get_by_test_id("runners-link").click()
        view = self.page.get_by_test_id("runners-view")
        expect(view).to_be_visible()
        return view

    def runner_row(self, name: str) -> Locator:
        return self.page.get_by_test_id("runner-row").filter(
            has=self.page.get_by_test_id("runner-name").get_by_text(name, exact=True)
        )
