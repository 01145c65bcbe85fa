"""What every command shares: the command list, and a server that is down."""

from __future__ import annotations

import pytest

from tests.cli.conftest import heavy_modules_loaded, run_cli
from tests.conftest import free_port

pytestmark = pytest.mark.slow  # runs the CLI in fresh interpreters

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


# The agent commands (hook, report, whoami): argparse, no Typer, same answers.


def test_help_lists_the_agent_commands_but_not_the_plugins_hook() -> None:
    result = run_cli("--help", env={})
    assert " report " in result.stdout
    assert " whoami " in result.stdout
    assert " hook " not in result.stdout  # hidden, as before: the plugin calls it


@pytest.mark.parametrize(
    ("args", "shows"),
    [
        (("report", "--help"), ("progress", "milestone", "blocked", "complete", "error")),
        (("report", "progress", "--help"), ("MESSAGE", "--task", "--json", "--server")),
        (("whoami", "--help"), ("--json", "--server")),
        (("hook", "--help"), ("session-start", "session-end", "file-modified")),
    ],
    ids=lambda value: " ".join(value) if "--help" in value else "",
)
def test_agent_commands_have_help(args: tuple[str, ...], shows: tuple[str, ...]) -> None:
    result = run_cli(*args, env={})
    assert result.code == 0, result.stderr
    for text in shows:
        assert text in result.stdout


@pytest.mark.parametrize(
    "args",
    [("report",), ("report", "progress"), ("report", "progress", "x", "--js"), ("whoami", "x")],
    ids=" ".join,
)
def test_a_usage_mistake_in_an_agent_command_exits_1(args: tuple[str, ...]) -> None:
    result = run_cli(*args, env={})
    assert result.code == 1
    assert "Traceback" not in result.stderr


def test_the_typer_app_hands_an_agent_command_to_its_one_definition() -> None:
    from typer.testing import CliRunner

    from maestro.cli.main import app

    result = CliRunner().invoke(app, ["report", "progress", "--help"])
    assert result.exit_code == 0
    assert "usage: maestro report progress" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("hook", "file-modified"),
        ("hook", "permission-request"),
        ("report", "progress", "x", "--task", "task_x", "--json"),
        ("whoami", "--json"),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_agent_commands_import_no_cli_framework_or_http_library(args: tuple[str, ...]) -> None:
    # They run on every file an agent writes: Typer alone took longer than the request.
    closed = f"http://127.0.0.1:{free_port()}"
    env = {"MAESTRO_SERVER_URL": closed, "MAESTRO_RETRIES": "0"}
    assert heavy_modules_loaded(*args, env=env) == set()
