"""``worker init`` and ``orchestrator init``: what a spawned session's terminal
runs. (``whoami`` and ``hook``, which also run inside a session, are agent
commands: see ``agent_commands``.)"""

from __future__ import annotations

import json as jsonlib
import os
import sys

import typer

from maestro.agents.launch import run_init
from maestro.cli.output import JsonFlag, ServerOption, command

worker = typer.Typer(help="Run inside a worker session's terminal.", no_args_is_help=True)
orchestrator = typer.Typer(
    help="Run inside an orchestrator session's terminal.", no_args_is_help=True
)


def _init(role: str, json_mode: bool, server: str | None) -> None:
    env = dict(os.environ)
    if server:
        env["MAESTRO_SERVER_URL"] = server
    with command(json_mode, server):
        exit_code = run_init(role, env)
        if json_mode:
            sys.stdout.write(
                jsonlib.dumps({"success": exit_code == 0, "data": {"exitCode": exit_code}}) + "\n"
            )
    raise typer.Exit(exit_code)


@worker.command("init")
def worker_init(json: JsonFlag = False, server: ServerOption = None) -> None:
    """Start this session's agent as a worker (reads the MAESTRO_* environment)."""
    _init("worker", json, server)


@orchestrator.command("init")
def orchestrator_init(json: JsonFlag = False, server: ServerOption = None) -> None:
    """Start this session's agent as an orchestrator (reads the MAESTRO_* environment)."""
    _init("orchestrator", json, server)
