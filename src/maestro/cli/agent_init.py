"""Commands that run inside a spawned session: ``worker init``, ``orchestrator
init``, ``whoami``, and ``hook`` (called by the Claude Code plugin's hooks)."""

from __future__ import annotations

import json as jsonlib
import os
import sys
from typing import Annotated, Any

import typer

from maestro.agents.context import SessionEnv, current_session_id
from maestro.agents.launch import gather, run_init
from maestro.cli.client import CliError, MaestroClient
from maestro.cli.output import JsonFlag, ServerOption, command
from maestro.domain import session_events as se

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


def print_raw(text: str) -> None:
    """Exactly the text the agent got: no Rich markup parsing or wrapping."""
    sys.stdout.write(text)


def whoami(json: JsonFlag = False, server: ServerOption = None) -> None:
    """Show the session this terminal runs in: role, tasks and the full brief."""
    env = dict(os.environ)
    if server:
        env["MAESTRO_SERVER_URL"] = server
    with command(json, server) as cmd:
        context = SessionEnv.read(env)
        with MaestroClient(context.server_url) as client:
            world = gather(client, context.session_id, context.role, list(context.skills), env)
        cmd.done(world.as_data(), lambda _: print_raw(world.brief))


def _session_start(data: dict[str, Any]) -> dict[str, Any]:
    """Claude's own session id and transcript link the Maestro session to its trace."""
    body: dict[str, Any] = {
        "events": [
            {
                "type": se.AGENT_SESSION_START,
                "data": {
                    "source": data.get("source"),
                    "agentSessionId": data.get("session_id"),
                    "transcriptPath": data.get("transcript_path"),
                },
            }
        ]
    }
    if isinstance(data.get("session_id"), str) and data["session_id"]:
        body["agentSessionId"] = data["session_id"]
    return body


# The hooks record what happened; they never change the session's status, which
# `worker init` decides from the agent's exit and result (a SessionEnd hook runs
# before the exit code is known).
_HOOKS: dict[str, Any] = {
    "session-start": _session_start,
    "session-end": lambda data: {
        "events": [{"type": se.AGENT_SESSION_END, "data": {"reason": data.get("reason")}}],
    },
    "file-modified": lambda data: {
        "events": [
            {
                "type": se.FILE_MODIFIED,
                "data": {
                    "path": (data.get("tool_input") or {}).get("file_path")
                    or (data.get("tool_input") or {}).get("notebook_path"),
                    "tool": data.get("tool_name"),
                },
            }
        ],
    },
}


HOOK_HTTP_TIMEOUT = 10.0
"""Below the hook's own timeout in the plugin (30 s), retries included."""


def hook(
    event: Annotated[str, typer.Argument(help="session-start | session-end | file-modified")],
) -> None:
    """Report a Claude Code hook to Maestro (used by the Maestro plugin; never fails
    the agent: problems are printed to stderr and the exit code is 0)."""
    session_id = current_session_id(os.environ)
    if event not in _HOOKS or session_id is None:
        print(
            f"maestro hook: nothing to do for {event!r} outside a Maestro session", file=sys.stderr
        )
        return
    try:
        data = jsonlib.loads(sys.stdin.read() or "{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    try:
        with MaestroClient(timeout=HOOK_HTTP_TIMEOUT) as client:
            client.patch(f"/api/sessions/{session_id}", _HOOKS[event](data))
    except CliError as error:
        print(f"maestro hook {event}: {error.message}", file=sys.stderr)
