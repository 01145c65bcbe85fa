"""``maestro report ...``: one atomic task update per task (timeline entry and
status together), and a ``report:<kind>`` event on the session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.cli.conftest import Cli

MakeTask = Callable[..., dict[str, Any]]
MakeSession = Callable[..., dict[str, Any]]


def session_env(session: dict[str, Any]) -> dict[str, str]:
    """The variables the runner sets in a spawned terminal."""
    return {
        "MAESTRO_SESSION_ID": session["id"],
        "MAESTRO_PROJECT_ID": session["projectId"],
        "MAESTRO_TASK_IDS": ",".join(session["taskIds"]),
    }


@pytest.mark.parametrize(
    ("kind", "before", "entry", "after"),
    [
        ("progress", "pending", "update", "in_progress"),
        ("progress", "blocked", "update", "in_progress"),
        ("progress", "completed", "update", "completed"),
        ("milestone", "in_progress", "milestone", "in_progress"),
        ("blocked", "in_progress", "blocker", "blocked"),
        ("complete", "in_progress", "milestone", "completed"),
        ("error", "in_progress", "blocker", "in_progress"),
    ],
)
def test_each_kind_appends_its_entry_and_moves_the_status(
    cli: Cli,
    make_task: MakeTask,
    make_session: MakeSession,
    kind: str,
    before: str,
    entry: str,
    after: str,
) -> None:
    task = make_task(status=before)
    session = make_session(task["id"])
    result = cli("report", kind, f"{kind} message", "--json", env=session_env(session))
    assert result.code == 0, result.stderr
    (updated,) = result.data
    assert updated["id"] == task["id"]
    assert updated["status"] == after
    last = updated["timeline"][-1]
    assert last["type"] == entry
    assert last["message"] == f"{kind} message"
    assert last["sessionId"] == session["id"]
    if before != after:
        # One PATCH carried both: the status change and the entry share a timestamp.
        change = updated["timeline"][-2]
        assert change["type"] == "status_changed"
        assert change["message"] == f"Status changed from {before} to {after}"
        assert change["timestamp"] == last["timestamp"]


def test_a_report_is_recorded_on_the_session(
    cli: Cli, api: httpx.Client, make_task: MakeTask, make_session: MakeSession
) -> None:
    first, second = make_task("First"), make_task("Second")
    session = make_session(first["id"], second["id"])
    result = cli("report", "milestone", "Parser done", env=session_env(session))
    assert result.code == 0, result.stderr
    assert f"{first['id']} (First): milestone recorded" in result.stdout
    events = api.get(f"/api/sessions/{session['id']}").json()["events"]
    assert [(e["type"], e["data"]) for e in events] == [
        ("report:milestone", {"message": "Parser done", "taskIds": [first["id"], second["id"]]})
    ]
    for task in (first, second):
        timeline = api.get(f"/api/tasks/{task['id']}").json()["timeline"]
        assert timeline[-1]["message"] == "Parser done"


def test_task_option_names_the_task_outside_a_session(
    cli: Cli, api: httpx.Client, make_task: MakeTask
) -> None:
    task = make_task()
    result = cli("report", "complete", "Shipped", "--task", task["id"], "--json")
    assert result.code == 0, result.stderr
    assert result.data[0]["status"] == "completed"
    assert "sessionId" not in result.data[0]["timeline"][-1]
    assert api.get(f"/api/tasks/{task['id']}").json()["status"] == "completed"


def test_task_option_overrides_the_session_tasks(
    cli: Cli, api: httpx.Client, make_task: MakeTask, make_session: MakeSession
) -> None:
    mine, other = make_task("Mine"), make_task("Other")
    session = make_session(mine["id"])
    result = cli("report", "blocked", "Waiting on API", "--task", other["id"], "--json",
                 env=session_env(session))  # fmt: skip
    assert result.code == 0, result.stderr
    assert [t["id"] for t in result.data] == [other["id"]]
    assert api.get(f"/api/tasks/{mine['id']}").json()["status"] == "pending"
    event = api.get(f"/api/sessions/{session['id']}").json()["events"][-1]
    assert event["type"] == "report:blocked"
    assert event["data"]["taskIds"] == [other["id"]]


def test_no_session_and_no_task_is_a_clear_error(cli: Cli) -> None:
    machine = cli("report", "progress", "Hello", "--json")
    assert machine.code == 1
    assert machine.json["error"] == "NO_TASK"
    human = cli("report", "progress", "Hello")
    assert human.code == 1
    assert human.stderr.strip() == (
        "error: no task to report on: pass --task TASK_ID, or run inside a Maestro "
        "session (MAESTRO_TASK_IDS)"
    )


def test_an_unknown_task_changes_nothing(cli: Cli, api: httpx.Client, make_task: MakeTask) -> None:
    task = make_task()
    result = cli("report", "progress", "Go", "--task", task["id"], "--task", "task_missing",
                 "--json")  # fmt: skip
    assert result.code == 2
    assert result.json["error"] == "TASK_NOT_FOUND"
    assert api.get(f"/api/tasks/{task['id']}").json() == task


def test_a_blank_message_is_a_validation_error(cli: Cli, make_task: MakeTask) -> None:
    task = make_task()
    result = cli("report", "progress", "  ", "--task", task["id"], "--json")
    assert result.code == 1
    assert result.json["error"] == "VALIDATION_ERROR"
