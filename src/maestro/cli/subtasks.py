"""``maestro subtask list|add|done|update|delete``"""

from __future__ import annotations

from typing import Annotated

import typer

from maestro.cli.output import JsonFlag, ServerOption, command, say, table
from maestro.cli.tasks import TaskArg
from maestro.domain.models import Subtask

app = typer.Typer(help="Subtasks: the checklist inside a task.", no_args_is_help=True)

SubtaskArg = Annotated[str, typer.Argument(help="Subtask id")]


def show_subtasks(task_id: str, subtasks: list[Subtask]) -> None:
    table(
        f"Subtasks of {task_id}",
        ["#", "done", "title", "id", "description"],
        [(s.order, "x" if s.completed else "", s.title, s.id, s.description) for s in subtasks],
    )


@app.command("list")
def list_subtasks(task_id: TaskArg, json: JsonFlag = False, server: ServerOption = None) -> None:
    """List a task's subtasks, in order."""
    with command(json, server) as cmd:
        subtasks = cmd.client.list_subtasks(task_id)
        cmd.done(subtasks, lambda ss: show_subtasks(task_id, ss))


@app.command("add")
def add(
    task_id: TaskArg,
    title: Annotated[str, typer.Argument(help="Subtask title")],
    description: Annotated[str, typer.Option(help="Details")] = "",
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Add a subtask at the end of a task's checklist."""
    with command(json, server) as cmd:
        subtask = cmd.client.create_subtask(task_id, {"title": title, "description": description})
        cmd.done(subtask, lambda s: say(f"added subtask {s.id} ({s.title}) to {task_id}"))


@app.command("done")
def done(
    task_id: TaskArg,
    subtask_id: SubtaskArg,
    undo: Annotated[bool, typer.Option("--undo", help="Mark it not done again")] = False,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Tick a subtask off (or, with --undo, un-tick it)."""
    with command(json, server) as cmd:
        subtask = cmd.client.update_subtask(task_id, subtask_id, {"completed": not undo})
        state = "done" if subtask.completed else "not done"
        cmd.done(subtask, lambda s: say(f"subtask {s.id} ({s.title}) is {state}"))


@app.command("update")
def update(
    task_id: TaskArg,
    subtask_id: SubtaskArg,
    title: Annotated[str | None, typer.Option(help="New title")] = None,
    description: Annotated[str | None, typer.Option(help="New description")] = None,
    order: Annotated[
        int | None, typer.Option(help="Move to this 0-based position in the checklist")
    ] = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Change a subtask's title, description or position."""
    with command(json, server) as cmd:
        body = {"title": title, "description": description, "order": order}
        changes = {k: v for k, v in body.items() if v is not None}
        subtask = cmd.client.update_subtask(task_id, subtask_id, changes)
        cmd.done(subtask, lambda s: say(f"updated subtask {s.id}"))


@app.command("delete")
def delete(
    task_id: TaskArg, subtask_id: SubtaskArg, json: JsonFlag = False, server: ServerOption = None
) -> None:
    """Delete a subtask."""
    with command(json, server) as cmd:
        result = cmd.client.delete_subtask(task_id, subtask_id)
        cmd.done(result, lambda r: say(f"deleted subtask {r.id}"))
