"""What every command shares: the command list, and a server that is down."""

from __future__ import annotations

import pytest

from tests.cli.conftest import run_cli
from tests.conftest import free_port

GROUPS = ("serve", "project", "task", "subtask", "session", "report", "skill")


def test_help_lists_every_command_group() -> None:
    result = run_cli("--help", env={})
    assert result.code == 0
    for group in GROUPS:
        assert f" {group} " in result.stdout, group


@pytest.mark.parametrize(
    "args",
    [
        ("task", "list"),
        ("subtask", "list", "task_x"),
        ("session", "wait", "sess_x"),
        ("report", "progress", "hello", "--task", "task_x"),
        ("project", "list"),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_unreachable_server_is_one_sentence_and_exit_3(args: tuple[str, ...]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = run_cli(*args, "--server", closed, env={"MAESTRO_RETRIES": "0"})
    assert result.code == 3
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: cannot reach the Maestro server at {closed}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_unreachable_server_with_json_is_an_envelope() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = run_cli(
        "session", "list", "--json", env={"MAESTRO_SERVER_URL": closed, "MAESTRO_RETRIES": "0"}
    )
    assert result.code == 3
    assert result.json["success"] is False
    assert result.json["error"] == "SERVER_UNREACHABLE"
    assert closed in result.json["message"]
