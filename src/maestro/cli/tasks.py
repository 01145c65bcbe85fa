"""``maestro task list|create|show|update|delete|children|timeline|usage``"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.markup import escape

from maestro.agents.context import current_session_id
from maestro.cli.defaults import ProjectOption, nullable, require_project
from maestro.cli.output import JsonFlag, ServerOption, command, console, fields, say, table, when
from maestro.cli.usage import has_usage, rollup_pairs, show_rollup
from maestro.domain.models import Task, TimelineEvent
from maestro.domain.responses import TaskUsage
from maestro.domain.vocabulary import TASK_PRIORITIES, TASK_STATUSES

app = typer.Typer(
    help="Tasks: the units of work agents take on, with subtasks and a timeline.",
    no_args_is_help=True,
)

TaskArg = Annotated[str, typer.Argument(help="Task id")]
AutoStartOption = Annotated[
    bool | None,
    typer.Option(
        "--auto-start/--no-auto-start",
        help="A runner starts it once its dependencies are completed",
        show_default=False,
    ),
]
STATUSES = ", ".join(TASK_STATUSES)
PRIORITIES = ", ".join(TASK_PRIORITIES)
RECENT_TIMELINE = 10


def subtask_progress(task: Task) -> str:
    """``2/3`` for a task with three subtasks, two of them done."""
    if not task.subtasks:
        return ""
    return f"{sum(1 for s in task.subtasks if s.completed)}/{len(task.subtasks)}"


def show_tasks(title: str, tasks: Sequence[Task]) -> None:
    table(
        title,
        ["id", "title", "status", "priority", "parent", "subtasks", "updated"],
        [
            (
                t.id,
                t.title,
                t.status,
                t.priority,
                t.parent_id,
                subtask_progress(t),
                when(t.updated_at),
            )
            for t in tasks
        ],
    )


def show_timeline(events: Sequence[TimelineEvent], title: str = "Timeline") -> None:
    table(
        title,
        ["time", "type", "message", "session"],
        [(when(e.timestamp), e.type, e.message, e.session_id) for e in events],
    )


def show_task(task: Task, rollup: TaskUsage | None = None) -> None:
    """The task, its subtasks as a checklist, the most recent timeline events, and
    what its sessions and its children's spent (``rollup``), if anything."""
    fields(
        task.title,
        [
            ("id", task.id),
            ("project", task.project_id),
            ("parent", task.parent_id),
            ("status", task.status),
            ("priority", task.priority),
            ("description", task.description),
            ("initialPrompt", task.initial_prompt),
            ("dependencies", ", ".join(task.dependencies)),
            ("autoStart", "yes" if task.auto_start else "no"),
            ("sessions", ", ".join(task.session_ids)),
            ("created", when(task.created_at)),
            ("started", when(task.started_at)),
            ("completed", when(task.completed_at)),
            ("updated", when(task.updated_at)),
        ],
    )
    subtasks = task.subtasks
    console.print()
    if subtasks:
        console.print(f"[bold]Subtasks[/bold] ({subtask_progress(task)} done)")
        for subtask in subtasks:
            mark = "[green]\\[x][/green]" if subtask.completed else "\\[ ]"
            console.print(f"  {mark} {escape(subtask.title)}  [dim]{subtask.id}[/dim]")
    else:
        console.print("[bold]Subtasks[/bold]: none")
    console.print()
    timeline = task.timeline
    recent = timeline[-RECENT_TIMELINE:]
    shown = "" if len(recent) == len(timeline) else f" (last {len(recent)} of {len(timeline)})"
    show_timeline(recent, f"Timeline{shown}")
    if rollup and has_usage(rollup.usage):
        console.print()
        fields("Usage (with child tasks)", rollup_pairs(rollup))


@app.command("list")
def list_tasks(
    project: ProjectOption = None,
    status: Annotated[
        str | None, typer.Option(help=f"Only tasks with this status: {STATUSES}")
    ] = None,
    parent: Annotated[
        str | None,
        typer.Option(help="Only children of this task; `null` for root tasks"),
    ] = None,
    session: Annotated[str | None, typer.Option(help="Only tasks linked to this session")] = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """List tasks, oldest first; the filters combine."""
    with command(json, server) as cmd:
        tasks = cmd.client.list_tasks(project or None, status, parent, session)
        cmd.done(tasks, lambda ts: show_tasks("Tasks", ts))


@app.command("create")
def create_task(
    title: Annotated[str, typer.Argument(help="Task title")],
    project: ProjectOption = None,
    description: Annotated[str | None, typer.Option(help="What the task is about")] = None,
    parent: Annotated[str | None, typer.Option(help="Parent task id")] = None,
    priority: Annotated[str | None, typer.Option(help=f"One of {PRIORITIES}")] = None,
    status: Annotated[str | None, typer.Option(help=f"One of {STATUSES}")] = None,
    prompt: Annotated[
        str | None, typer.Option(help="Initial prompt handed to the agent (initialPrompt)")
    ] = None,
    depends_on: Annotated[
        list[str] | None,
        typer.Option("--depends-on", help="A task this one depends on (repeatable)"),
    ] = None,
    auto_start: AutoStartOption = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Create a task in a project."""
    with command(json, server) as cmd:
        body = {
            "projectId": require_project(project),
            "title": title,
            "description": description,
            "parentId": parent,
            "priority": priority,
            "status": status,
            "initialPrompt": prompt,
            "dependencies": depends_on,
            "autoStart": auto_start,
        }
        task = cmd.client.create_task({k: v for k, v in body.items() if v is not None})
        cmd.done(task, lambda t: say(f"created task {t.id} ({t.title})"))


@app.command("show")
def show(task_id: TaskArg, json: JsonFlag = False, server: ServerOption = None) -> None:
    """Show a task with its subtasks, recent timeline and usage.

    With --json, data is the task alone (`task usage --json` has the usage).
    """
    with command(json, server) as cmd:
        cmd.done(
            cmd.client.get_task(task_id),
            lambda t: show_task(t, cmd.client.task_usage(task_id)),
        )


@app.command("update")
def update(
    task_id: TaskArg,
    title: Annotated[str | None, typer.Option(help="New title")] = None,
    description: Annotated[str | None, typer.Option(help="New description")] = None,
    status: Annotated[str | None, typer.Option(help=f"One of {STATUSES}")] = None,
    priority: Annotated[str | None, typer.Option(help=f"One of {PRIORITIES}")] = None,
    parent: Annotated[
        str | None, typer.Option(help="New parent task id; `null` makes it a root task")
    ] = None,
    prompt: Annotated[str | None, typer.Option(help="New initial prompt")] = None,
    depends_on: Annotated[
        list[str] | None,
        typer.Option(
            "--depends-on",
            help="The tasks this one depends on (repeatable; replaces the list; "
            "--depends-on '' empties it)",
        ),
    ] = None,
    auto_start: AutoStartOption = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Change a task's fields; only the options given are changed."""
    with command(json, server) as cmd:
        body: dict[str, Any] = {
            "title": title,
            "description": description,
            "status": status,
            "priority": priority,
            "initialPrompt": prompt,
            "autoStart": auto_start,
        }
        changes = {k: v for k, v in body.items() if v is not None}
        if depends_on is not None:
            changes["dependencies"] = [t for t in depends_on if t.strip()]
        if parent is not None:
            changes["parentId"] = nullable(parent)
        task = cmd.client.update_task(task_id, changes)
        cmd.done(task, lambda t: say(f"updated task {t.id} ({t.status})"))


@app.command("delete")
def delete(
    task_id: TaskArg,
    cascade: Annotated[bool, typer.Option("--cascade", help="Also delete its child tasks")] = False,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Delete a task (refused while it has child tasks, unless --cascade)."""
    with command(json, server) as cmd:
        result = cmd.client.delete_task(task_id, cascade)
        cmd.done(result, lambda r: say(f"deleted task {r.id}"))


@app.command("children")
def children(task_id: TaskArg, json: JsonFlag = False, server: ServerOption = None) -> None:
    """List a task's direct child tasks."""
    with command(json, server) as cmd:
        tasks = cmd.client.task_children(task_id)
        cmd.done(tasks, lambda ts: show_tasks(f"Children of {task_id}", ts))


@app.command("timeline")
def timeline(
    task_id: TaskArg,
    message: Annotated[str, typer.Argument(help="What happened")],
    kind: Annotated[
        str,
        typer.Option(
            "--type", help="update, milestone, blocker, status_changed, session_started, ..."
        ),
    ] = "update",
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Append an event to a task's timeline (tagged with the current session, if any)."""
    with command(json, server) as cmd:
        body = {"type": kind, "message": message, "sessionId": current_session_id(os.environ)}
        task = cmd.client.add_timeline_event(task_id, body)
        cmd.done(task, lambda t: say(f"added {kind} to task {t.id}: {message}"))


@app.command("usage")
def usage(task_id: TaskArg, json: JsonFlag = False, server: ServerOption = None) -> None:
    """Tokens, cost and turns of the task's sessions and its descendants', summed.

    With --json, data is the body of GET /api/tasks/{id}/usage.
    """
    with command(json, server) as cmd:
        rollup = cmd.client.task_usage(task_id)
        cmd.done(rollup, lambda r: show_rollup(f"Usage of task {task_id}", r))
