"""Docs that cannot drift from the code: every route, error code, environment
variable and CLI command the code has is named in the docs (README.md, docs/).

Each list is taken from the code itself (the endpoint table, the error classes,
the source's ``MAESTRO_*`` names, the CLI's command tree), so a new one fails
here until it is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from maestro.cli.agent_commands import NAMES as AGENT_COMMANDS
from maestro.cli.main import app as cli_app
from maestro.config import SERVER_ENVIRONMENT
from maestro.domain import errors
from maestro.server.app import ENDPOINTS

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "src" / "maestro" / "server"
API = (ROOT / "docs" / "api.md").read_text()
CLI = (ROOT / "docs" / "cli.md").read_text()
ALL_DOCS = "\n".join(
    [(ROOT / "README.md").read_text(), *(p.read_text() for p in (ROOT / "docs").glob("*.md"))]
)


def _documented_route(method: str, path: str) -> bool:
    shown = re.sub(r"\{(\w+)(?::\w+)?\}", r":\1", path)
    return re.search(rf"`{method} {re.escape(shown)}[`?]", API) is not None


@pytest.mark.parametrize(
    ("method", "path"),
    [(method, e.path) for e in ENDPOINTS for method in [e.method]],
    ids=lambda value: str(value),
)
def test_every_route_is_in_the_api_reference(method: str, path: str) -> None:
    assert _documented_route(method, path), f"docs/api.md does not list `{method} {path}`"


def _error_codes() -> list[str]:
    found = set()
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, errors.MaestroError):
            code = getattr(value, "code", None)
            if isinstance(code, str) and value is not errors.MaestroError:
                found.add(code)
    return sorted(found)


@pytest.mark.parametrize("code", _error_codes())
def test_every_error_code_is_in_the_api_reference(code: str) -> None:
    assert f"`{code}`" in API, f"docs/api.md does not name the error code {code}"


def test_the_request_headers_the_server_reads_are_in_the_api_reference() -> None:
    allowed = re.search(r"allow_headers=\[([^\]]*)\]", (SERVER / "app.py").read_text())
    assert allowed is not None
    for header in re.findall(r'"([\w-]+)"', allowed.group(1)):
        assert f"`{header}" in API, f"docs/api.md does not describe the {header} header"


NOT_VARIABLES = {"MAESTRO_RULE"}  # constants that only look like one


def _environment_names() -> list[str]:
    names = set(SERVER_ENVIRONMENT)
    for source in (ROOT / "src" / "maestro").rglob("*.py"):
        names.update(re.findall(r"\bMAESTRO_[A-Z][A-Z0-9_]*[A-Z0-9]\b", source.read_text()))
    return sorted(names - NOT_VARIABLES)


@pytest.mark.parametrize("name", _environment_names())
def test_every_environment_variable_is_documented(name: str) -> None:
    assert f"`{name}`" in ALL_DOCS, f"no doc names the environment variable {name}"


def _cli_commands() -> list[str]:
    root = typer.main.get_command(cli_app)
    commands = [f"maestro {name}" for name in AGENT_COMMANDS]
    # Typer ships its own click: groups are told apart by having commands.
    for name, command in getattr(root, "commands", {}).items():
        if hasattr(command, "commands"):
            commands += [f"maestro {name} {sub}" for sub in command.commands]
        else:
            commands.append(f"maestro {name}")
    return sorted(set(commands))


@pytest.mark.parametrize("command", _cli_commands())
def test_every_cli_command_is_in_the_cli_reference(command: str) -> None:
    """A row of docs/cli.md names the group and the command (rows group several:
    ``maestro task show T`` / ``update T``)."""
    words = command.split()
    rows = [line for line in CLI.splitlines() if f"`{' '.join(words[:2])}" in line]
    assert any(re.search(rf"\b{re.escape(words[-1])}\b", row) for row in rows), (
        f"docs/cli.md has no row for `{command}`"
    )
