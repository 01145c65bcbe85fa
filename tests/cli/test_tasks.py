"""``maestro task ...``"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.cli.conftest import Cli

MakeTask = Callable[..., dict[str, Any]]


def test_create_sends_every_option_and_prints_the_task(
    cli: Cli, project: dict[str, Any], make_task: MakeTask
) -> None:
    parent = make_task("Parent")
    dependency = make_task("Dependency")
    result = cli(
        "task", "create", "Write the parser",
        "--project", project["id"],
        "--description", "tokens first",
        "--parent", parent["id"],
        "--priority", "high",
        "--status", "in_progress",
        "--prompt", "Start with the lexer",
        "--depends-on", dependency["id"],
        "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    task = result.data
    assert task["id"].startswith("task_")
    assert task["projectId"] == project["id"]
    assert task["title"] == "Write the parser"
    assert task["description"] == "tokens first"
    assert task["parentId"] == parent["id"]
    assert task["priority"] == "high"
    assert task["status"] == "in_progress"
    assert task["initialPrompt"] == "Start with the lexer"
    assert task["dependencies"] == [dependency["id"]]
    assert task["startedAt"] is not None


def test_create_takes_the_project_from_the_environment(cli: Cli, project: dict[str, Any]) -> None:
    result = cli("task", "create", "From env", "--json", env={"MAESTRO_PROJECT_ID": project["id"]})
    assert result.code == 0, result.stderr
    assert result.data["projectId"] == project["id"]
    assert result.data["status"] == "pending"


def test_create_without_a_project_says_how_to_name_one(cli: Cli) -> None:
    result = cli("task", "create", "Orphan")
    assert result.code == 1
    assert "--project" in result.stderr
    assert "MAESTRO_PROJECT_ID" in result.stderr


def test_create_with_invalid_fields_is_a_validation_error(
    cli: Cli, project: dict[str, Any]
) -> None:
    blank = cli("task", "create", "  ", "--project", project["id"], "--json")
    assert blank.code == 1
    assert blank.json == {
        "success": False,
        "error": "VALIDATION_ERROR",
        "message": "title is required",
        "details": {"field": "title"},
    }
    priority = cli("task", "create", "T", "--project", project["id"], "--priority", "urgent")
    assert priority.code == 1
    assert priority.stderr.strip() == "error: priority must be one of low, medium, high"


def test_create_in_an_unknown_project_is_not_found(cli: Cli) -> None:
    result = cli("task", "create", "T", "--project", "proj_missing", "--json")
    assert result.code == 2
    assert result.json["error"] == "PROJECT_NOT_FOUND"


def test_list_filters_combine(
    cli: Cli, project: dict[str, Any], make_task: MakeTask, make_session: Callable[..., Any]
) -> None:
    root = make_task("Root", status="blocked")
    child = make_task("Child", parentId=root["id"])
    other_child = make_task("Other child", parentId=root["id"], status="blocked")
    session = make_session(child["id"])
    pid = project["id"]

    def ids(*filters: str) -> list[str]:
        result = cli("task", "list", "--project", pid, *filters, "--json")
        assert result.code == 0, result.stderr
        return [t["id"] for t in result.data]

    assert ids() == [root["id"], child["id"], other_child["id"]]
    assert ids("--parent", "null") == [root["id"]]
    assert ids("--parent", root["id"], "--status", "blocked") == [other_child["id"]]
    assert ids("--session", session["id"]) == [child["id"]]


def test_list_shows_a_table(cli: Cli, project: dict[str, Any], make_task: MakeTask) -> None:
    task = make_task("Visible in the table")
    result = cli("task", "list", "--project", project["id"])
    assert result.code == 0
    assert task["id"] in result.stdout
    assert "Visible in the table" in result.stdout


def test_show_prints_subtasks_as_a_checklist_and_the_timeline(
    cli: Cli, api: httpx.Client, make_task: MakeTask
) -> None:
    task = make_task("Checklist", description="the details")
    first = api.post(f"/api/tasks/{task['id']}/subtasks", json={"title": "First step"}).json()
    api.post(f"/api/tasks/{task['id']}/subtasks", json={"title": "Second step"})
    api.patch(f"/api/tasks/{task['id']}/subtasks/{first['id']}", json={"completed": True})
    api.post(f"/api/tasks/{task['id']}/timeline", json={"message": "halfway there"})

    human = cli("task", "show", task["id"])
    assert human.code == 0, human.stderr
    assert "the details" in human.stdout
    assert "1/2 done" in human.stdout
    assert "[x] First step" in human.stdout
    assert "[ ] Second step" in human.stdout
    assert "halfway there" in human.stdout

    machine = cli("task", "show", task["id"], "--json")
    assert machine.data == api.get(f"/api/tasks/{task['id']}").json()


def test_show_unknown_task_is_not_found(cli: Cli) -> None:
    result = cli("task", "show", "task_missing", "--json")
    assert result.code == 2
    assert result.json["success"] is False
    assert result.json["error"] == "TASK_NOT_FOUND"


def test_update_changes_only_the_given_fields(cli: Cli, make_task: MakeTask) -> None:
    parent = make_task("Parent")
    task = make_task("Before", description="kept", parentId=parent["id"])
    result = cli(
        "task", "update", task["id"],
        "--title", "After", "--status", "completed", "--priority", "low",
        "--prompt", "new prompt", "--parent", "null", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    updated = result.data
    assert updated["title"] == "After"
    assert updated["description"] == "kept"
    assert updated["status"] == "completed"
    assert updated["priority"] == "low"
    assert updated["initialPrompt"] == "new prompt"
    assert updated["parentId"] is None
    assert updated["completedAt"] is not None


def test_update_with_a_bad_status_is_a_validation_error(cli: Cli, make_task: MakeTask) -> None:
    task = make_task()
    result = cli("task", "update", task["id"], "--status", "done", "--json")
    assert result.code == 1
    assert result.json["error"] == "VALIDATION_ERROR"
    assert result.json["message"].startswith("status must be one of")


def test_delete_refuses_a_parent_unless_cascade(
    cli: Cli, api: httpx.Client, make_task: MakeTask
) -> None:
    parent = make_task("Parent")
    child = make_task("Child", parentId=parent["id"])
    refused = cli("task", "delete", parent["id"], "--json")
    assert refused.code == 1
    assert refused.json["error"] == "TASK_HAS_CHILDREN"

    deleted = cli("task", "delete", parent["id"], "--cascade", "--json")
    assert deleted.code == 0, deleted.stderr
    assert deleted.data == {"success": True, "id": parent["id"]}
    assert api.get(f"/api/tasks/{child['id']}").status_code == 404


def test_delete_unknown_task_is_not_found(cli: Cli) -> None:
    assert cli("task", "delete", "task_missing").code == 2


def test_children_lists_direct_children_only(cli: Cli, make_task: MakeTask) -> None:
    parent = make_task("Parent")
    child = make_task("Child", parentId=parent["id"])
    make_task("Grandchild", parentId=child["id"])
    result = cli("task", "children", parent["id"], "--json")
    assert result.code == 0, result.stderr
    assert [t["id"] for t in result.data] == [child["id"]]
    assert cli("task", "children", "task_missing").code == 2


def test_timeline_appends_an_entry_tagged_with_the_session(cli: Cli, make_task: MakeTask) -> None:
    task = make_task()
    result = cli(
        "task", "timeline", task["id"], "Found the bug", "--type", "milestone", "--json",
        env={"MAESTRO_SESSION_ID": "sess_outer"},
    )  # fmt: skip
    assert result.code == 0, result.stderr
    entry = result.data["timeline"][-1]
    assert entry["type"] == "milestone"
    assert entry["message"] == "Found the bug"
    assert entry["sessionId"] == "sess_outer"


def test_timeline_defaults_to_update_and_refuses_unknown_types(
    cli: Cli, make_task: MakeTask
) -> None:
    task = make_task()
    plain = cli("task", "timeline", task["id"], "Note", "--json")
    assert plain.code == 0, plain.stderr
    assert plain.data["timeline"][-1]["type"] == "update"
    assert "sessionId" not in plain.data["timeline"][-1]
    bad = cli("task", "timeline", task["id"], "Note", "--type", "shout", "--json")
    assert bad.code == 1
    assert bad.json["error"] == "VALIDATION_ERROR"


def test_human_output_prints_brackets_as_typed(
    cli: Cli, api: httpx.Client, make_task: MakeTask
) -> None:
    task = make_task("[WIP] fix [/b] parser")
    api.post(f"/api/tasks/{task['id']}/subtasks", json={"title": "[/odd] step"})
    result = cli("task", "show", task["id"])
    assert result.code == 0, result.stderr
    assert "[WIP] fix [/b] parser" in result.stdout
    assert "[ ] [/odd] step" in result.stdout


def spend(api: httpx.Client, project_id: str, task_id: str, cost: float, tokens: int) -> None:
    """A session on the task that reported its usage."""
    body = {"projectId": project_id, "taskIds": [task_id]}
    session = api.post("/api/sessions", json=body).json()
    usage = {"inputTokens": tokens, "costUsd": cost, "turns": 2, "model": "claude-x"}
    api.patch(f"/api/sessions/{session['id']}", json={"usage": usage})


def test_usage_rolls_up_the_task_and_its_children(
    cli: Cli, api: httpx.Client, project: dict[str, Any], make_task: MakeTask
) -> None:
    parent = make_task("Parent")
    child = make_task("Child", parentId=parent["id"])
    spend(api, project["id"], parent["id"], 0.01, 1000)
    spend(api, project["id"], child["id"], 0.0023, 500)

    machine = cli("task", "usage", parent["id"], "--json")
    assert machine.code == 0, machine.stderr
    assert machine.data == api.get(f"/api/tasks/{parent['id']}/usage").json()
    assert machine.data["taskIds"] == [parent["id"], child["id"]]
    assert machine.data["sessions"] == 2
    human = cli("task", "usage", parent["id"])
    assert "$0.0123" in human.stdout
    assert "in 1,500" in human.stdout
    assert "2 (the task and its descendants)" in human.stdout
    assert cli("task", "usage", "task_missing").code == 2


def test_show_adds_the_usage_only_when_there_is_some(
    cli: Cli, api: httpx.Client, project: dict[str, Any], make_task: MakeTask
) -> None:
    parent = make_task("Parent")
    child = make_task("Child", parentId=parent["id"])
    idle = cli("task", "show", parent["id"])
    assert idle.code == 0, idle.stderr
    assert "Usage" not in idle.stdout

    spend(api, project["id"], child["id"], 0.0042, 800)
    busy = cli("task", "show", parent["id"])
    assert "Usage (with child tasks)" in busy.stdout
    assert "$0.0042" in busy.stdout
    assert "usage" not in cli("task", "show", parent["id"], "--json").data


def test_output_read_by_a_program_is_not_wrapped_at_80_columns(
    cli: Cli, make_task: Callable[..., dict[str, Any]]
) -> None:
    """Agents read this output through a pipe, where Rich would wrap at 80."""
    title = "Keep the whole title on one line " + "x" * 120
    task = make_task(title)
    shown = cli("task", "show", task["id"], env={"COLUMNS": ""})  # as an agent's shell has it
    assert shown.code == 0, shown.stderr
    assert title in shown.stdout.splitlines()[0]


def test_auto_start_and_dependencies_from_the_command_line(
    cli: Cli, api: httpx.Client, project: dict[str, Any]
) -> None:
    first = cli("task", "create", "First", "-p", project["id"], "--json").data
    second = cli(
        "task", "create", "Second", "-p", project["id"], "--auto-start",
        "--depends-on", first["id"], "--json",
    ).data  # fmt: skip
    assert (second["autoStart"], second["dependencies"]) == (True, [first["id"]])
    cycle = cli("task", "update", first["id"], "--depends-on", second["id"], "--json")
    assert cycle.code == 1 and "cycle" in cycle.json["message"]
    off = cli("task", "update", second["id"], "--no-auto-start", "--depends-on", "", "--json")
    assert off.code == 0, off.stderr
    stored = api.get(f"/api/tasks/{second['id']}").json()
    assert (stored["autoStart"], stored["dependencies"]) == (False, [])
