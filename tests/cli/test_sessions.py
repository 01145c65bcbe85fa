"""``maestro session list|show|create|update|delete|add-task|remove-task``"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.cli.conftest import Cli
from tests.helpers import SAMPLE_USAGE

MakeTask = Callable[..., dict[str, Any]]
MakeSession = Callable[..., dict[str, Any]]


def test_create_links_tasks_and_takes_a_given_id(
    cli: Cli, api: httpx.Client, project: dict[str, Any], make_task: MakeTask
) -> None:
    first, second = make_task("First"), make_task("Second")
    session_id = f"sess_cli_{first['id']}"
    result = cli(
        "session", "create", "--project", project["id"],
        "--task", first["id"], "--task", second["id"],
        "--name", "Pair", "--id", session_id, "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    session = result.data
    assert session["id"] == session_id
    assert session["projectId"] == project["id"]
    assert session["taskIds"] == [first["id"], second["id"]]
    assert session["name"] == "Pair"
    assert session["status"] == "running"
    assert api.get(f"/api/tasks/{first['id']}").json()["sessionIds"] == [session_id]

    duplicate = cli("session", "create", "--project", project["id"], "--id", session_id, "--json")
    assert duplicate.code == 1
    assert duplicate.json["error"] == "SESSION_EXISTS"


def test_create_without_a_project_is_a_validation_error(cli: Cli) -> None:
    result = cli("session", "create", "--json")
    assert result.code == 1
    assert result.json["success"] is False
    assert "MAESTRO_PROJECT_ID" in result.json["message"]


def test_list_filters_by_task_status_and_activity(
    cli: Cli, project: dict[str, Any], make_task: MakeTask, make_session: MakeSession
) -> None:
    task = make_task()
    linked = make_session(task["id"])
    done = make_session(status="completed")
    pid = project["id"]

    def ids(*filters: str) -> list[str]:
        result = cli("session", "list", *filters, "--json", env={"MAESTRO_PROJECT_ID": pid})
        assert result.code == 0, result.stderr
        return [s["id"] for s in result.data]

    assert ids() == [linked["id"], done["id"]]
    assert ids("--task", task["id"]) == [linked["id"]]
    assert ids("--status", "completed") == [done["id"]]
    assert ids("--active") == [linked["id"]]


def test_show_includes_the_events(cli: Cli, api: httpx.Client, make_session: MakeSession) -> None:
    session = make_session(name="Evented")
    api.patch(
        f"/api/sessions/{session['id']}",
        json={"events": [{"type": "file_modified", "data": {"path": "src/app.py"}}]},
    )
    machine = cli("session", "show", session["id"], "--json")
    assert machine.code == 0, machine.stderr
    assert [e["type"] for e in machine.data["events"]] == ["file_modified"]
    human = cli("session", "show", session["id"])
    assert "Evented" in human.stdout
    assert "file_modified" in human.stdout
    assert "src/app.py" in human.stdout


def test_update_changes_status_and_name(cli: Cli, make_session: MakeSession) -> None:
    session = make_session()
    result = cli(
        "session", "update", session["id"], "--status", "failed", "--name", "Renamed", "--json"
    )
    assert result.code == 0, result.stderr
    assert result.data["status"] == "failed"
    assert result.data["name"] == "Renamed"
    assert result.data["completedAt"] is not None
    bad = cli("session", "update", session["id"], "--status", "asleep", "--json")
    assert bad.code == 1
    assert bad.json["error"] == "VALIDATION_ERROR"


def test_add_and_remove_task_keep_both_sides_in_step(
    cli: Cli, api: httpx.Client, make_task: MakeTask, make_session: MakeSession
) -> None:
    task = make_task()
    session = make_session()
    added = cli("session", "add-task", session["id"], task["id"], "--json")
    assert added.code == 0, added.stderr
    assert added.data["taskIds"] == [task["id"]]
    assert api.get(f"/api/tasks/{task['id']}").json()["sessionIds"] == [session["id"]]
    removed = cli("session", "remove-task", session["id"], task["id"], "--json")
    assert removed.data["taskIds"] == []
    assert api.get(f"/api/tasks/{task['id']}").json()["sessionIds"] == []
    assert cli("session", "add-task", session["id"], "task_missing").code == 2


def test_delete_then_show_is_not_found(cli: Cli, make_session: MakeSession) -> None:
    session = make_session()
    deleted = cli("session", "delete", session["id"], "--json")
    assert deleted.code == 0, deleted.stderr
    assert deleted.data == {"success": True, "id": session["id"]}
    gone = cli("session", "show", session["id"], "--json")
    assert gone.code == 2
    assert gone.json["error"] == "SESSION_NOT_FOUND"


def test_show_includes_the_usage_and_agent_session_id(
    cli: Cli, api: httpx.Client, make_session: MakeSession
) -> None:
    session = make_session(name="Spent")
    body = {"usage": SAMPLE_USAGE, "agentSessionId": "c0ffee"}
    api.patch(f"/api/sessions/{session['id']}", json=body)
    human = cli("session", "show", session["id"])
    assert human.code == 0, human.stderr
    for text in ("in 1,234", "out 567", "cache read 8,900", "cache write 120"):
        assert text in human.stdout
    for text in ("$0.0123", "1m 23s", "claude-sonnet-4-5", "c0ffee"):
        assert text in human.stdout
    machine = cli("session", "show", session["id"], "--json")
    assert machine.data["usage"]["costUsd"] == 0.0123
    assert machine.data["agentSessionId"] == "c0ffee"


def test_show_without_usage_leaves_it_out(cli: Cli, make_session: MakeSession) -> None:
    human = cli("session", "show", make_session()["id"])
    assert human.code == 0, human.stderr
    assert "cost" not in human.stdout
    assert "agent session" not in human.stdout
