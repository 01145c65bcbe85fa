"""``maestro hook EVENT``: what the Claude Code plugin's hooks call (SessionStart,
SessionEnd, PostToolUse on every file the agent writes, and PermissionRequest
for each tool call that needs a person's approval).

It never fails the agent: problems are printed to stderr and the exit code is 0
(a permission request that goes wrong is answered with a deny saying why).
One of the agent commands (``agent_commands``), so it starts fast: it runs after
every edit the agent makes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from maestro.agents import approval
from maestro.agents.context import current_session_id
from maestro.client import ClientError, MaestroClient, api_path
from maestro.domain import session_events as se

HELP = (
    "Report a Claude Code hook to Maestro (used by the Maestro plugin; never fails "
    "the agent: problems are printed to stderr and the exit code is 0)."
)

HOOK_HTTP_TIMEOUT = 10.0
"""Below the hook's own timeout in the plugin (30 s), retries included."""


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


def _session_end(data: dict[str, Any]) -> dict[str, Any]:
    return {"events": [{"type": se.AGENT_SESSION_END, "data": {"reason": data.get("reason")}}]}


def _file_modified(data: dict[str, Any]) -> dict[str, Any]:
    tool_input = data.get("tool_input")
    if not isinstance(tool_input, dict):
        tool_input = {}
    path = tool_input.get("file_path") or tool_input.get("notebook_path")
    return {
        "events": [
            {"type": se.FILE_MODIFIED, "data": {"path": path, "tool": data.get("tool_name")}}
        ]
    }


# The hooks record what happened; they never change the session's status, which
# `worker init` decides from the agent's exit and result (a SessionEnd hook runs
# before the exit code is known).
HOOKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "session-start": _session_start,
    "session-end": _session_end,
    "file-modified": _file_modified,
}


PERMISSION_REQUEST = "permission-request"
"""Files an approval and waits for its decision (``agents.approval``); prints
Claude Code's answer on stdout."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``maestro hook EVENT`` (the hook's JSON on stdin)."""
    parser.add_argument("event", metavar="EVENT", help=" | ".join([*HOOKS, PERMISSION_REQUEST]))
    parser.set_defaults(run=hook)


def hook(args: argparse.Namespace) -> None:
    """Send the hook's event to the session this process runs in, if any."""
    event: str = args.event
    session_id = current_session_id(os.environ)
    if (event not in HOOKS and event != PERMISSION_REQUEST) or session_id is None:
        print(
            f"maestro hook: nothing to do for {event!r} outside a Maestro session", file=sys.stderr
        )
        return
    try:
        data = json.loads(sys.stdin.read() or "{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if event == PERMISSION_REQUEST:
        with MaestroClient(timeout=approval.HTTP_TIMEOUT) as client:
            print(json.dumps(approval.ask(client, session_id, data)))
        return
    try:
        with MaestroClient(timeout=HOOK_HTTP_TIMEOUT) as client:
            client.patch(api_path("sessions", session_id), HOOKS[event](data))
    except ClientError as error:
        print(f"maestro hook {event}: {error.message}", file=sys.stderr)
