"""``maestro report progress|milestone|blocked|complete|error MESSAGE``: how an agent
tells Maestro what it is doing.

Each report is one ``PATCH /api/tasks/:id`` per task carrying both the timeline
entry and the status change, so a reader never sees one without the other. Inside
a session (``MAESTRO_SESSION_ID``) the entries name the session, and the session
gets a ``report:<kind>`` event.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.markup import escape

from maestro.agents.context import current_session_id, current_task_ids
from maestro.cli.client import CliError, MaestroClient
from maestro.cli.output import JsonFlag, ServerOption, command, errors, say

app = typer.Typer(
    help="Report progress on the current session's tasks (what agents call).",
    no_args_is_help=True,
)


@dataclass(frozen=True)
class Kind:
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

MessageArg = Annotated[str, typer.Argument(help="What to report")]
TaskOption = Annotated[
    list[str] | None,
    typer.Option(
        "--task",
        "-t",
        help="Task id, repeatable (default: the session's tasks, env MAESTRO_TASK_IDS)",
        show_default=False,
    ),
]


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
    updated: dict[str, Any] = client.patch(f"/api/tasks/{task['id']}", body)
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
    event = {"type": f"report:{name}", "data": {"message": message, "taskIds": task_ids}}
    try:
        client.patch(f"/api/sessions/{session_id}", {"events": [event]})
    except CliError as error:
        errors.print(
            f"[yellow]warning:[/yellow] the tasks were updated but session {session_id} "
            f"did not record the report: {escape(error.message)}",
            highlight=False,
        )


def report(
    name: str, message: str, tasks: list[str] | None, json: bool, server: str | None
) -> None:
    """Run one ``maestro report <name>``."""
    with command(json, server) as cmd:
        kind = KINDS[name]
        session_id = current_session_id(os.environ)
        task_ids = list(dict.fromkeys(tasks or current_task_ids(os.environ)))
        if not task_ids:
            raise CliError(
                "no task to report on: pass --task TASK_ID, or run inside a Maestro "
                "session (MAESTRO_TASK_IDS)",
                code="NO_TASK",
            )
        # Read every task before changing any, so a typo in one changes nothing.
        current = [cmd.client.get(f"/api/tasks/{task_id}") for task_id in task_ids]
        updated = [_report_task(cmd.client, kind, t, message, session_id) for t in current]
        lines = [_describe(kind, b, a) for b, a in zip(current, updated, strict=True)]
        if session_id:
            _record_on_session(cmd.client, session_id, name, message, task_ids)
        cmd.done(updated, lambda _: say("\n".join(lines)))


def _register(name: str, kind: Kind) -> None:
    def run(
        message: MessageArg,
        task: TaskOption = None,
        json: JsonFlag = False,
        server: ServerOption = None,
    ) -> None:
        report(name, message, task, json, server)

    run.__doc__ = kind.help
    app.command(name, help=kind.help)(run)


for _name, _kind in KINDS.items():
    _register(_name, _kind)
