"""``maestro report progress|milestone|blocked|complete|error MESSAGE``: how an agent
tells Maestro what it is doing.

Each report is one ``PATCH /api/tasks/:id`` per task carrying both the timeline
entry and the status change, so a reader never sees one without the other. Inside
a session (``MAESTRO_SESSION_ID``) the entries name the session, and the session
gets a ``report:<kind>`` event.

One of the agent commands (``agent_commands``): parsed with argparse and printed
with ``plain``, so it starts fast.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any, NamedTuple

from maestro.agents.context import current_session_id, current_task_ids
from maestro.cli import plain
from maestro.cli.agent_commands import add_command, add_json_and_server_options
from maestro.cli.errors import CommandError
from maestro.client import ClientError, MaestroClient, api_path
from maestro.domain import session_events as se

HELP = "Report progress on the current session's tasks (what agents call)."


class Kind(NamedTuple):
    """What one kind of report writes: a timeline entry type, and the new status
    given the task's current one (``None``: leave it)."""

    timeline: str
    status: Callable[[str], str | None]
    help: str


def _start(current: str) -> str | None:
    return "in_progress" if current in ("pending", "blocked") else None


KINDS: dict[str, Kind] = {
    "progress": Kind(
        "update",
        _start,
        "Report progress (timeline `update`); a pending or blocked task becomes in_progress.",
    ),
    "milestone": Kind("milestone", lambda _: None, "Record a milestone; the status stays."),
    "blocked": Kind(
        "blocker",
        lambda _: "blocked",
        "Say what blocks the task (timeline `blocker`); it becomes blocked.",
    ),
    "complete": Kind(
        "milestone",
        lambda _: "completed",
        "Mark the task completed, with a closing `milestone` entry.",
    ),
    "error": Kind(
        "blocker", lambda _: None, "Record an error (timeline `blocker`); the status stays."
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``maestro report KIND MESSAGE [--task T]... [--json] [--server URL]``."""
    kinds = parser.add_subparsers(title="kinds", metavar="KIND")
    for name, kind in KINDS.items():
        sub = add_command(kinds, name, kind.help)
        sub.add_argument("message", metavar="MESSAGE", help="What to report")
        sub.add_argument(
            "--task",
            "-t",
            action="append",
            metavar="TASK_ID",
            help="Task id, repeatable (default: the session's tasks, env MAESTRO_TASK_IDS)",
        )
        add_json_and_server_options(sub)
        sub.set_defaults(run=report, kind=name)

    def no_kind(_: argparse.Namespace) -> int:
        # As Click did for a group called alone: its help, and a usage error's exit code.
        parser.print_help()
        return 1

    parser.set_defaults(run=no_kind)


def _report_task(
    client: MaestroClient, kind: Kind, task: dict[str, Any], message: str, session_id: str | None
) -> dict[str, Any]:
    """Apply one report to one task (as last read); return the updated task."""
    entry = {"type": kind.timeline, "message": message}
    if session_id:
        entry["sessionId"] = session_id
    body: dict[str, Any] = {"timeline": [entry]}
    status = kind.status(task["status"])
    if status is not None:
        body["status"] = status
    updated: dict[str, Any] = client.patch(api_path("tasks", task["id"]), body)
    return updated


def _describe(kind: Kind, before: dict[str, Any], after: dict[str, Any]) -> str:
    moved = before["status"] != after["status"]
    change = f", status {before['status']} -> {after['status']}" if moved else ""
    return f"{after['id']} ({after['title']}): {kind.timeline} recorded{change}"


def _record_on_session(
    client: MaestroClient, session_id: str, name: str, message: str, task_ids: list[str]
) -> None:
    """Note the report on the session too; the tasks are already updated, so a
    failure here is a warning, not a reason to make the agent report twice."""
    event = {"type": f"{se.REPORT_PREFIX}{name}", "data": {"message": message, "taskIds": task_ids}}
    try:
        client.patch(api_path("sessions", session_id), {"events": [event]})
    except ClientError as error:
        plain.print_warning(
            f"the tasks were updated but session {session_id} "
            f"did not record the report: {error.message}"
        )


def report(args: argparse.Namespace) -> None:
    """Run one ``maestro report <kind>``."""
    name: str = args.kind
    kind = KINDS[name]
    session_id = current_session_id(os.environ)
    task_ids = list(dict.fromkeys(args.task or current_task_ids(os.environ)))
    if not task_ids:
        raise CommandError(
            "no task to report on: pass --task TASK_ID, or run inside a Maestro "
            "session (MAESTRO_TASK_IDS)",
            code="NO_TASK",
        )
    with MaestroClient(args.server) as client:
        # Read every task before changing any, so a typo in one changes nothing.
        current = [client.get(api_path("tasks", task_id)) for task_id in task_ids]
        updated = [_report_task(client, kind, t, args.message, session_id) for t in current]
        if session_id:
            _record_on_session(client, session_id, name, args.message, task_ids)
    if args.json:
        plain.print_json(plain.success(updated))
    else:
        lines = [_describe(kind, b, a) for b, a in zip(current, updated, strict=True)]
        print("\n".join(lines))
