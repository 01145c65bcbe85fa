"""``maestro subtask ...``"""

from __future__ import annotations

from typing import Any

import httpx

from tests.cli.conftest import Cli


def test_add_list_done_undo_update_and_delete(
    cli: Cli, api: httpx.Client, task: dict[str, Any]
) -> None:
    tid = task["id"]
    first = cli("subtask", "add", tid, "First", "--description", "do it", "--json")
    assert first.code == 0, first.stderr
    assert first.data["taskId"] == tid
    assert first.data["title"] == "First"
    assert first.data["description"] == "do it"
    assert first.data["completed"] is False
    second = api.post(f"/api/tasks/{tid}/subtasks", json={"title": "Second"}).json()
    sid = first.data["id"]

    done = cli("subtask", "done", tid, sid, "--json")
    assert done.code == 0, done.stderr
    assert done.data["completed"] is True
    assert done.data["completedAt"] is not None
    undone = cli("subtask", "done", tid, sid, "--undo", "--json")
    assert undone.data["completed"] is False
    assert undone.data["completedAt"] is None

    moved = cli("subtask", "update", tid, sid, "--title", "Renamed", "--order", "1", "--json")
    assert moved.code == 0, moved.stderr
    assert moved.data["title"] == "Renamed"
    assert moved.data["order"] == 1

    listed = cli("subtask", "list", tid, "--json")
    assert [s["id"] for s in listed.data] == [second["id"], sid]

    deleted = cli("subtask", "delete", tid, sid, "--json")
    assert deleted.data == {"success": True, "id": sid}
    assert [s["id"] for s in api.get(f"/api/tasks/{tid}/subtasks").json()] == [second["id"]]


def test_list_shows_a_checklist_table(cli: Cli, api: httpx.Client, task: dict[str, Any]) -> None:
    api.post(f"/api/tasks/{task['id']}/subtasks", json={"title": "Visible step"})
    result = cli("subtask", "list", task["id"])
    assert result.code == 0, result.stderr
    assert "Visible step" in result.stdout


def test_unknown_subtask_or_task_is_not_found(cli: Cli, task: dict[str, Any]) -> None:
    missing_subtask = cli("subtask", "done", task["id"], "sub_missing", "--json")
    assert missing_subtask.code == 2
    assert missing_subtask.json["error"] == "SUBTASK_NOT_FOUND"
    missing_task = cli("subtask", "add", "task_missing", "Step")
    assert missing_task.code == 2
    assert missing_task.stderr.startswith("error: ")


def test_add_with_a_blank_title_is_a_validation_error(cli: Cli, task: dict[str, Any]) -> None:
    result = cli("subtask", "add", task["id"], " ", "--json")
    assert result.code == 1
    assert result.json["error"] == "VALIDATION_ERROR"
