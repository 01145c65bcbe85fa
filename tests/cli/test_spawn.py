"""``maestro session spawn``: asks the server for a session a runner will open;
any refusal exits 5."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from maestro.cli.errors import exit_code_of
from maestro.cli.sessions import _spawn_failed
from maestro.client import ApiError
from tests.cli.conftest import Cli

MakeTask = Callable[..., dict[str, Any]]


def test_spawn_from_a_terminal_creates_a_spawning_session(
    cli: Cli, api: httpx.Client, project: dict[str, Any], make_task: MakeTask
) -> None:
    first, second = make_task("First"), make_task("Second")
    result = cli(
        "session", "spawn", "--project", project["id"],
        "--task", first["id"], "--task", second["id"],
        "--model", "opus", "--name", "Pair", "--reason", "try it", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert set(result.data) == {"sessionId", "session"}
    session = result.data["session"]
    assert session["id"] == result.data["sessionId"]
    assert session["status"] == "spawning"
    assert session["name"] == "Pair"
    assert session["taskIds"] == [first["id"], second["id"]]
    assert session["metadata"] == {
        "skills": ["maestro-worker"],
        "role": "worker",
        "agent": "claude",
        "model": "opus",
        "spawnSource": "cli",
        "spawnedBy": None,
        "spawnReason": "try it",
        "context": {},
    }
    assert session["env"]["MAESTRO_TASK_IDS"] == f"{first['id']},{second['id']}"
    assert api.get(f"/api/tasks/{first['id']}").json()["sessionIds"] == [session["id"]]


def test_spawn_with_runner_labels_asks_for_a_runner_having_them(
    cli: Cli, project: dict[str, Any], make_task: MakeTask
) -> None:
    task = make_task("On the GPU box")
    result = cli(
        "session", "spawn", "--project", project["id"], "--task", task["id"],
        "--runner-label", "gpu", "--runner-label", "os=linux", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert result.data["session"]["metadata"]["runnerLabels"] == ["gpu", "os=linux"]
    refused = cli(
        "session", "spawn", "--project", project["id"], "--task", task["id"],
        "--runner-label", "not a label", "--json",
    )  # fmt: skip
    assert refused.code == 5 and "runnerLabels[0]" in refused.json["message"]


def test_spawn_from_an_orchestrator_session_records_who_spawned(
    cli: Cli, project: dict[str, Any], make_task: MakeTask
) -> None:
    task = make_task()
    result = cli(
        "session", "spawn", "--task", task["id"], "--role", "orchestrator", "--agent", "codex",
        "--skill", "maestro-orchestrator", "--json",
        env={
            "MAESTRO_PROJECT_ID": project["id"],
            "MAESTRO_ROLE": "orchestrator",
            "MAESTRO_SESSION_ID": "sess_parent",
        },
    )  # fmt: skip
    assert result.code == 0, result.stderr
    metadata = result.data["session"]["metadata"]
    assert metadata["spawnSource"] == "orchestrator"
    assert metadata["spawnedBy"] == "sess_parent"
    assert metadata["role"] == "orchestrator"
    assert metadata["agent"] == "codex"
    assert metadata["skills"] == ["maestro-orchestrator"]
    assert result.stderr == ""


def test_an_unknown_skill_is_a_warning_not_a_failure(
    cli: Cli, project: dict[str, Any], make_task: MakeTask
) -> None:
    task = make_task()
    result = cli(
        "session", "spawn", "--project", project["id"], "--task", task["id"],
        "--skill", "no-such-skill", "--json",
    )  # fmt: skip
    assert result.code == 0
    assert result.data["session"]["metadata"]["skills"] == ["no-such-skill"]
    assert "warning: skill no-such-skill is not installed" in result.stderr


def test_spawn_human_output_names_the_session(
    cli: Cli, project: dict[str, Any], make_task: MakeTask
) -> None:
    task = make_task()
    result = cli("session", "spawn", "--project", project["id"], "--task", task["id"])
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("spawned session sess_")
    assert task["id"] in result.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--task", "task_x"), "missing_project_id"),
        (("--project", "{project}"), "invalid_task_ids"),
        (("--project", "{project}", "--task", "task_missing"), "task_not_found"),
        (("--project", "proj_missing", "--task", "task_x"), "PROJECT_NOT_FOUND"),
        (("--project", "{project}", "--task", "{task}", "--role", "boss"), "VALIDATION_ERROR"),
    ],
    ids=["no project", "no task", "unknown task", "unknown project", "bad role"],
)
def test_a_refused_spawn_exits_5(
    cli: Cli, project: dict[str, Any], task: dict[str, Any], args: tuple[str, ...], code: str
) -> None:
    filled = [a.format(project=project["id"], task=task["id"]) for a in args]
    result = cli("session", "spawn", *filled, "--json")
    assert result.code == 5, result.stdout
    assert result.json["success"] is False
    assert result.json["error"] == code
    assert result.json["message"]


def test_a_task_of_another_project_is_refused(
    cli: Cli, api: httpx.Client, project: dict[str, Any]
) -> None:
    other = api.post("/api/projects", json={"name": "Other"}).json()
    foreign = api.post("/api/tasks", json={"projectId": other["id"], "title": "X"}).json()
    result = cli("session", "spawn", "--project", project["id"], "--task", foreign["id"])
    assert result.code == 5
    assert result.stderr.startswith("error: spawn failed: ")


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [
        (400, "missing_project_id", 5),
        (400, "invalid_task_ids", 5),
        (404, "task_not_found", 5),
        (404, "PROJECT_NOT_FOUND", 5),
        (500, "spawn_error", 5),
        (401, "UNAUTHORIZED", 4),
        (403, "FORBIDDEN", 4),
    ],
)
def test_spawn_error_codes_map_to_exit_codes(status: int, code: str, exit_code: int) -> None:
    error = _spawn_failed(ApiError(status, code, "refused", path="/api/sessions/spawn"))
    assert exit_code_of(error) == exit_code
    assert error.code == code
