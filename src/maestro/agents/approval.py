"""Asking a person before an agent does what its policy does not allow.

Claude Code runs the plugin's ``PermissionRequest`` hook (``maestro hook
permission-request``) for each tool call that needs approval, in ``-p`` mode
too, and waits for its answer. The hook files an approval with the server and
waits for someone to decide it (the board's inbox, ``maestro approval``), then
answers Claude Code with the decision; a deny carries a message the model reads.

The wait survives a server restart: the approval is stored, and the hook polls
again (long polls of ``GET /api/approvals/{id}?wait=``) until the server answers
or the approval's own deadline has passed. Whatever goes wrong, the answer is a
deny saying why, never an allow.

Plain JSON over ``HttpClient`` (no msgspec): this runs as an agent command.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from maestro.client import ApiError, ClientError, HttpClient, ServerUnreachable, api_path
from maestro.domain.vocabulary import APPROVAL_STATUSES

DECIDED = frozenset(APPROVAL_STATUSES) - {"pending"}
LONG_POLL_SECONDS = 50
"""One ``?wait=`` (the server allows up to 60), kept below the HTTP timeout."""
HTTP_TIMEOUT = LONG_POLL_SECONDS + 20.0
UNREACHABLE_PAUSE = 2.0
"""Between attempts while the server is away (restarting, say)."""
FILING_PATIENCE = 60.0
"""How long to keep trying to file the approval while the server is away."""
GRACE_SECONDS = 60.0
"""How long after the approval's deadline the hook still waits for the server
to say it expired (it may be restarting) before denying on its own."""
MAX_WAIT_SECONDS = 86_400.0
"""What the plugin gives the hook (Claude Code's hook ``timeout``), and so the
longest an approval can keep an agent waiting: a day."""


def permission_decision(behavior: str, message: str | None = None) -> dict[str, Any]:
    """Claude Code's answer to a ``PermissionRequest`` hook."""
    decision: dict[str, Any] = {"behavior": behavior}
    if message:
        decision["message"] = message
    return {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}}


def filing(hook: dict[str, Any]) -> dict[str, Any]:
    """The body of ``POST /api/sessions/{id}/approvals`` for a hook's JSON."""
    body: dict[str, Any] = {
        "tool": str(hook.get("tool_name") or "unknown"),
        "input": hook.get("tool_input"),
    }
    suggestions = hook.get("permission_suggestions")
    if isinstance(suggestions, list) and suggestions:
        body["suggestions"] = suggestions
    return body


def answer_of(approval: dict[str, Any]) -> dict[str, Any]:
    """The hook's answer for a decided approval."""
    if approval.get("status") == "allowed":
        return permission_decision("allow")
    message = approval.get("message")
    if not message:
        who = approval.get("decidedBy") or "a person"
        message = f"{who} denied this through Maestro (approval {approval.get('id')})"
    return permission_decision("deny", str(message))


def ask(
    client: HttpClient,
    session_id: str,
    hook: dict[str, Any],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """File the approval, wait for its decision, and return Claude Code's answer."""
    started = clock()
    try:
        approval = _file(client, session_id, filing(hook), started, clock, sleep)
    except ClientError as error:
        return permission_decision("deny", f"Maestro could not ask for approval: {error.message}")
    # The deadline the server set, measured on this clock (the two clocks differ).
    remaining = max(0.0, (approval.get("expiresAt", 0) - approval.get("createdAt", 0)) / 1000)
    give_up = started + min(remaining + GRACE_SECONDS, MAX_WAIT_SECONDS)
    path = api_path("approvals", str(approval["id"]))
    while approval.get("status") not in DECIDED:  # pending, or an answer not understood
        if clock() >= give_up:
            return permission_decision(
                "deny", "no decision came from the Maestro server in time; denied"
            )
        try:
            approval = client.request("GET", path, params={"wait": LONG_POLL_SECONDS})
        except ApiError as error:
            if error.status == 404:
                return permission_decision(
                    "deny", "the approval was withdrawn (its session was deleted); denied"
                )
            if error.status < 500:
                return permission_decision("deny", f"Maestro refused the approval: {error.message}")
            sleep(UNREACHABLE_PAUSE)
        except ClientError:
            sleep(UNREACHABLE_PAUSE)  # away, restarting: the approval is stored; ask again
    return answer_of(approval)


def _file(
    client: HttpClient,
    session_id: str,
    body: dict[str, Any],
    started: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """``POST`` the approval, trying again for a while when nothing reached the
    server (a POST that reached it is never sent twice)."""
    path = api_path("sessions", session_id, "approvals")
    while True:
        try:
            approval: dict[str, Any] = client.request("POST", path, body=body)
            return approval
        except ServerUnreachable:
            if clock() - started >= FILING_PATIENCE:
                raise
            sleep(UNREACHABLE_PAUSE)
