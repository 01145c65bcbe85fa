"""The board: tasks in four status columns, moved by select, drag and drop, or
keyboard alone; the card shows subtask progress."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.ui.pages import MaestroPage, unique


def test_a_new_task_appears_in_pending(ui: MaestroPage) -> None:
    ui.create_project(unique("Board"))

    card = ui.create_task("Write the parser", priority="high")

    expect(ui.column("pending").locator(card)).to_be_visible()
    expect(card.get_by_test_id("card-priority")).to_have_text("High")
    for status in ("in_progress", "blocked", "completed"):
        expect(ui.column(status).get_by_test_id("task-card")).to_have_count(0)


def test_moving_a_task_to_in_progress_shows_the_change_in_the_timeline(ui: MaestroPage) -> None:
    ui.create_project(unique("Board"))
    ui.create_task("Ship it")

    ui.set_status("Ship it", "in_progress")
    ui.open_task("Ship it")

    newest = ui.timeline().first
    expect(newest).to_have_attribute("data-type", "status_changed")
    expect(newest).to_contain_text("Status changed from pending to in_progress")
    expect(ui.timeline().last).to_have_attribute("data-type", "created")
    expect(ui.detail.get_by_test_id("detail-status")).to_have_value("in_progress")


def test_dragging_a_card_to_another_column_changes_its_status(ui: MaestroPage) -> None:
    ui.create_project(unique("Board"))
    card = ui.create_task("Drag me")

    card.drag_to(ui.column("blocked"))

    expect(ui.column("blocked").locator(ui.card("Drag me"))).to_be_visible()
    expect(ui.card("Drag me").get_by_test_id("card-status")).to_have_value("blocked")


def test_adding_and_ticking_subtasks_updates_the_card_progress(ui: MaestroPage) -> None:
    ui.create_project(unique("Board"))
    card = ui.create_task("With steps")
    ui.open_task("With steps")

    ui.add_subtask("First step")
    ui.add_subtask("Second step")
    expect(card.get_by_test_id("card-progress")).to_contain_text("0/2")

    ui.subtask("First step").get_by_test_id("subtask-toggle").check()

    expect(card.get_by_test_id("card-progress")).to_contain_text("1/2")
    expect(ui.subtask("First step").get_by_test_id("subtask-toggle")).to_be_checked()


def test_subtasks_can_be_reordered_and_deleted(ui: MaestroPage) -> None:
    ui.create_project(unique("Board"))
    card = ui.create_task("Ordered")
    ui.open_task("Ordered")
    for title in ("A", "B", "C"):
        ui.add_subtask(title)
    titles = ui.detail.get_by_test_id("subtask-title")

    ui.subtask("C").get_by_test_id("subtask-up").click()
    expect(titles).to_have_text(["A", "C", "B"])
    ui.subtask("A").get_by_test_id("subtask-down").click()
    expect(titles).to_have_text(["C", "A", "B"])
    ui.subtask("A").get_by_test_id("subtask-delete").click()

    expect(titles).to_have_text(["C", "B"])
    expect(card.get_by_test_id("card-progress")).to_contain_text("0/2")


def test_a_task_can_be_created_and_moved_with_the_keyboard_alone(
    ui: MaestroPage, page: Page
) -> None:
    ui.create_project(unique("Keys"))
    keyboard = page.keyboard

    tab_to(page, "new-task")
    keyboard.press("Enter")
    expect(page.get_by_test_id("task-dialog")).to_be_visible()
    keyboard.type("Typed, not clicked")
    keyboard.press("Enter")
    card = ui.card("Typed, not clicked")
    expect(ui.column("pending").locator(card)).to_be_visible()

    tab_to(page, "card-status")
    keyboard.press("ArrowDown")  # pending -> in progress

    expect(ui.column("in_progress").locator(card)).to_be_visible()
    # The redrawn card keeps the focus, so the next key press moves it on.
    keyboard.press("ArrowDown")  # in progress -> blocked
    expect(ui.column("blocked").locator(card)).to_be_visible()


def tab_to(page: Page, testid: str, limit: int = 400) -> None:
    """Press Tab until the element with this test id has the focus (the shared
    server's sidebar grows with every test, so the limit is generous)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement?.dataset?.testid") == testid:
            return
    raise AssertionError(f"{testid} was not reached with {limit} Tab presses")
