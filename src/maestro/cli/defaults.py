"""Defaults a command takes from the session it runs in.

Inside a spawned terminal the runner sets ``MAESTRO_PROJECT_ID`` (and the other
``MAESTRO_*`` variables, see ``maestro.agents.context``), so an agent can type
``maestro task create "..."`` without repeating the project it works on.
"""

from __future__ import annotations

from typing import Annotated

import typer

from maestro.cli.errors import CommandError

ProjectOption = Annotated[
    str | None,
    typer.Option(
        "--project",
        "-p",
        envvar="MAESTRO_PROJECT_ID",
        help="Project id",
        show_default=False,
    ),
]


def require_project(
    project_id: str | None, code: str = "VALIDATION_ERROR", exit_code: int = 1
) -> str:
    """The project a command acts on, or an error saying how to name one."""
    if not project_id:
        raise CommandError(
            "no project given: pass --project PROJECT_ID or set MAESTRO_PROJECT_ID",
            code=code,
            exit_code=exit_code,
        )
    return project_id


def nullable(value: str) -> str | None:
    """``null`` (or ``none``, or empty) on the command line means JSON ``null``."""
    return None if value.strip().lower() in ("", "null", "none") else value
