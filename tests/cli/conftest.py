"""The real ``maestro`` CLI, run as a subprocess against a real server.

``cli(*args, env={...})`` runs ``python -m maestro ARGS`` with
``MAESTRO_SERVER_URL`` pointing at the shared test server and none of the
developer's own ``MAESTRO_*`` settings, and returns ``(code, stdout, stderr)``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

from tests import helpers
from tests.conftest import RunningServer


class CliResult(NamedTuple):
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        """The ``--json`` envelope printed on stdout."""
        return json.loads(self.stdout)

    @property
    def data(self) -> Any:
        envelope = self.json
        assert envelope["success"] is True, envelope
        return envelope["data"]


Cli = Callable[..., CliResult]


def run_cli(*args: str, env: dict[str, str], timeout: float = 30) -> CliResult:
    """Run ``maestro ARGS`` with exactly ``env`` on top of a clean environment."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MAESTRO_") and k not in ("COLUMNS", "LINES")
    }
    process = subprocess.run(
        [sys.executable, "-m", "maestro", *args],
        env={**clean, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(process.returncode, process.stdout, process.stderr)


HEAVY_MODULES = frozenset({"typer", "click", "rich", "httpx", "pydantic", "msgspec", "yaml"})
"""What the agent commands must start without (``yaml`` only for ``whoami``'s skills)."""


def heavy_modules_loaded(*args: str, env: dict[str, str], stdin: str = "{}") -> set[str]:
    """Run ``maestro ARGS`` in a fresh interpreter; which of ``HEAVY_MODULES`` it imported."""
    probe = (
        "import sys\n"
        f"sys.argv = ['maestro', *{list(args)!r}]\n"
        "from maestro.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert process.returncode == 0, process.stderr
    return set(process.stdout.strip().splitlines()[-1].split(",")) & HEAVY_MODULES


@pytest.fixture
def skills_dir(tmp_path: Path) -> Path:
    """An empty MAESTRO_SKILLS_DIR, so only built-in skills exist unless a test adds one."""
    return helpers.new_folder(tmp_path / "skills")


@pytest.fixture
def cli(shared_server: RunningServer, skills_dir: Path) -> Cli:
    """Run the CLI against the shared server; ``env`` adds or overrides variables."""

    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        base = {"MAESTRO_SERVER_URL": shared_server.url, "MAESTRO_SKILLS_DIR": str(skills_dir)}
        return run_cli(*args, env={**base, **(env or {})})

    return run


@pytest.fixture
def make_task(api: httpx.Client, project: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """Create a task in the test's project over HTTP (faster than the CLI)."""

    def make(title: str = "A task", **fields: Any) -> dict[str, Any]:
        return helpers.make_task(api, project["id"], title=title, **fields)

    return make


@pytest.fixture
def make_session(api: httpx.Client, project: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """Create a session in the test's project over HTTP."""

    def make(*task_ids: str, **fields: Any) -> dict[str, Any]:
        return helpers.make_session(api, project["id"], list(task_ids), **fields)

    return make
