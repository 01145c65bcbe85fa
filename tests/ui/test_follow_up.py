"""Send follow-up: a finished session's agent is asked something more, as a new
session that resumes its conversation (spawn with followUpOf)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, expect

from tests.helpers import make_project, make_task, ok, request_spawn
from tests.ui.pages import MaestroPage, unique


@pytest.fixture
def finished(ui: MaestroPage, api: httpx.Client) -> dict[str, Any]:
    """A spawned session (skills, role, agent, model) that completed and
    reported its agent's session id, shown in the sessions view."""
    project = make_project(api, name=unique("Follow"), workingDir="/tmp")
    task = make_task(api, project["id"], title="Fix the parser")
    spawn = {"skills": ["maestro-worker"], "role": "worker", "agent": "claude", "model": "sonnet"}
    session_id = request_spawn(api, project["id"], [task["id"]], sessionName="First go", **spawn)
    patch = {"status": "completed", "agentSessionId": "5f0c7c2e-8d1a"}
    session: dict[str, Any] = ok(api.patch(f"/api/sessions/{session_id}", json=patch))
    ui.page.goto(f"{ui.base_url}/#/projects/{project['id']}/sessions")
    return session


def follow_up_box(ui: MaestroPage, name: str) -> Locator:
    box = ui.session_row(name).get_by_test_id("session-follow-up")
    box.locator("summary").click()
    return box


def test_a_follow_up_starts_a_session_that_resumes_the_earlier_one(
    ui: MaestroPage, api: httpx.Client, finished: dict[str, Any]
) -> None:
    box = follow_up_box(ui, "First go")
    box.get_by_test_id("follow-up-text").fill("Now add a test for the empty file.")
    box.get_by_test_id("follow-up-send").click()

    expect(box.get_by_test_id("follow-up-done")).to_contain_text("Started")
    expect(box.get_by_test_id("follow-up-text")).to_have_value("")
    rows = ui.page.get_by_test_id("session-row")
    expect(rows).to_have_count(2)
    sessions = ok(api.get("/api/sessions", params={"projectId": finished["projectId"]}))
    new = next(s for s in sessions if s["id"] != finished["id"])
    meta = new["metadata"]
    assert meta["followUpOf"] == finished["id"]
    assert meta["followUpPrompt"] == "Now add a test for the empty file."
    assert (meta["spawnSource"], meta["agent"], meta["model"]) == ("ui", "claude", "sonnet")
    assert (meta["skills"], meta["role"], new["taskIds"]) == (
        ["maestro-worker"],
        "worker",
        finished["taskIds"],
    )
    new_row = ui.session_row_of(new["id"])
    expect(new_row.get_by_test_id("session-follow-up-of")).to_have_text("First go")
    expect(new_row.get_by_test_id("session-follow-up")).to_be_hidden()  # not finished


def test_only_finished_sessions_offer_a_follow_up(
    ui: MaestroPage, api: httpx.Client, finished: dict[str, Any]
) -> None:
    row = ui.session_row("First go")
    expect(row.get_by_test_id("session-follow-up")).to_be_visible()
    api.patch(f"/api/sessions/{finished['id']}", json={"status": "running"})
    expect(row.get_by_test_id("session-follow-up")).to_be_hidden()


def test_a_refused_follow_up_shows_the_servers_message_and_keeps_the_text(
    ui: MaestroPage, api: httpx.Client, finished: dict[str, Any]
) -> None:
    api.patch(f"/api/sessions/{finished['id']}", json={"agentSessionId": None})
    box = follow_up_box(ui, "First go")
    box.get_by_test_id("follow-up-text").fill("Try again")
    box.get_by_test_id("follow-up-send").click()

    error = box.get_by_test_id("follow-up-error")
    expect(error).to_contain_text("VALIDATION_ERROR")
    expect(box.get_by_test_id("follow-up-text")).to_have_value("Try again")
    expect(ui.page.get_by_test_id("session-row")).to_have_count(1)


def test_an_empty_follow_up_is_not_sent(ui: MaestroPage, finished: dict[str, Any]) -> None:
    box = follow_up_box(ui, "First go")
    box.get_by_test_id("follow-up-send").click()
    expect(box.get_by_test_id("follow-up-error")).to_have_text(
        "Write what the agent should do next."
    )


def test_a_draft_survives_live_updates_of_its_session(
    ui: MaestroPage, api: httpx.Client, finished: dict[str, Any]
) -> None:
    follow_up_box(ui, "First go")
    row = ui.session_row_of(finished["id"])
    text = row.get_by_test_id("follow-up-text")
    text.fill("half a thought")
    api.patch(f"/api/sessions/{finished['id']}", json={"name": "First go, renamed"})
    expect(row.get_by_test_id("session-name")).to_have_text("First go, renamed")
    expect(text).to_have_value("half a thought")
    expect(text).to_be_focused()
