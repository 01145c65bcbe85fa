"""The sessions view: status, role, agent, tasks, times, events; active filter."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.ui.pages import MaestroPage, unique


def test_sessions_show_their_details_and_events_and_filter_active(
    ui: MaestroPage, api: httpx.Client
) -> None:
    project_id = ui.create_project(unique("Sessions"))
    task = api.post("/api/tasks", json={"projectId": project_id, "title": "Worked on"}).json()
    body = {"projectId": project_id, "taskIds": [task["id"]], "name": "Still running"}
    running = api.post("/api/sessions", json=body).json()
    events = [{"type": "file_modified", "data": {"path": "src/app.py"}}]
    api.patch(f"/api/sessions/{running['id']}", json={"events": events})
    body = {"projectId": project_id, "taskIds": [], "name": "All done", "status": "completed"}
    api.post("/api/sessions", json=body)

    view = ui.open_sessions()
    rows = view.get_by_test_id("session-row")
    expect(rows).to_have_count(2)
    row = rows.filter(has_text="Still running")
    expect(row.get_by_test_id("session-status")).to_have_text("Running")
    expect(row.get_by_test_id("session-tasks")).to_have_text("Worked on")
    expect(row.get_by_test_id("session-started")).not_to_have_text("—")
    row.get_by_test_id("session-events").locator("summary").click()
    expect(row.get_by_test_id("session-event")).to_contain_text("file_modified")
    expect(row.get_by_test_id("session-event")).to_contain_text("src/app.py")

    view.get_by_test_id("sessions-active-only").check()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Still running")

    api.patch(f"/api/sessions/{running['id']}", json={"status": "failed"})
    expect(rows).to_have_count(0)
    view.get_by_test_id("sessions-active-only").uncheck()
    expect(rows.filter(has_text="Still running").get_by_test_id("session-status")).to_have_text(
        "Failed"
    )
