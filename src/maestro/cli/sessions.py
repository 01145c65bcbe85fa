"""``maestro session list|show|create|update|delete|add-task|remove-task|spawn|follow-up|wait``"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Annotated, Any

import msgspec
import typer
from rich.markup import escape

from maestro.agents.context import current_session_id
from maestro.cli.defaults import ProjectOption, require_project
from maestro.cli.errors import EXIT_NOT_ALLOWED, EXIT_SPAWN_FAILED, CommandError, exit_code_of
from maestro.cli.output import (
    JsonFlag,
    ServerOption,
    command,
    console,
    errors,
    fail,
    fields,
    say,
    table,
    when,
)
from maestro.cli.skills import known_skills
from maestro.cli.tasks import TaskArg
from maestro.cli.usage import cost, usage_pairs
from maestro.client import ApiError
from maestro.domain.models import FINISHED_SESSION_STATUSES, Session
from maestro.domain.vocabulary import SESSION_STATUSES, SPAWN_ROLES

app = typer.Typer(
    help="Sessions: agents at work on tasks; spawn them and wait for them.",
    no_args_is_help=True,
)

SessionArg = Annotated[str, typer.Argument(help="Session id")]
TaskOption = Annotated[list[str] | None, typer.Option("--task", "-t", help="Task id (repeatable)")]
STATUSES = ", ".join(SESSION_STATUSES)
DEFAULT_SKILL = "maestro-worker"
AGENT_WAIT_SECONDS = 100.0
"""``session wait``'s default bound inside an agent's session: Claude Code moves a
foreground shell command to the background after 120 s (and kills it ~10 minutes
later), so an agent waits in steps below that and repeats."""


def show_sessions(title: str, sessions: Sequence[Session]) -> None:
    table(
        title,
        ["id", "name", "status", "tasks", "agent", "started", "last activity", "cost"],
        [
            (
                s.id,
                s.name,
                s.status,
                ", ".join(s.task_ids),
                s.agent_id or s.metadata.get("agent"),
                when(s.started_at),
                when(s.last_activity),
                cost(s.usage.cost_usd) if s.usage else None,
            )
            for s in sessions
        ],
    )


def show_session(session: Session) -> None:
    """The session, what its agent spent (when it reported), and its events, oldest first."""
    meta = session.metadata
    pairs = [
        ("id", session.id),
        ("project", session.project_id),
        ("status", session.status),
        ("tasks", ", ".join(session.task_ids)),
        ("agent", session.agent_id or meta.get("agent")),
        ("role", meta.get("role")),
        ("skills", ", ".join(meta.get("skills") or [])),
        ("spawned by", meta.get("spawnedBy")),
        ("spawn source", meta.get("spawnSource")),
        ("host", f"{session.hostname} ({session.platform})"),
        ("started", when(session.started_at)),
        ("last activity", when(session.last_activity)),
        ("completed", when(session.completed_at)),
    ]
    if session.usage:
        pairs += usage_pairs(session.usage)
    if session.agent_session_id:
        pairs.append(("agent session", session.agent_session_id))
    fields(session.name, pairs)
    console.print()
    table(
        "Events",
        ["time", "type", "data"],
        [(when(e.timestamp), e.type, _compact(e.data)) for e in session.events],
    )


def _compact(data: Any) -> str:
    return "" if data is None else msgspec.json.encode(data).decode()


@app.command("list")
def list_sessions(
    project: ProjectOption = None,
    task: Annotated[str | None, typer.Option(help="Only sessions linked to this task")] = None,
    status: Annotated[str | None, typer.Option(help=f"Only this status: {STATUSES}")] = None,
    active: Annotated[
        bool, typer.Option("--active", help="Leave out completed and failed sessions")
    ] = False,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """List sessions, oldest first; the filters combine."""
    with command(json, server) as cmd:
        sessions = cmd.client.list_sessions(project or None, task, status, active)
        cmd.done(sessions, lambda ss: show_sessions("Sessions", ss))


@app.command("show")
def show(session_id: SessionArg, json: JsonFlag = False, server: ServerOption = None) -> None:
    """Show a session with its events."""
    with command(json, server) as cmd:
        cmd.done(cmd.client.get_session(session_id), show_session)


@app.command("create")
def create(
    project: ProjectOption = None,
    tasks: TaskOption = None,
    name: Annotated[str | None, typer.Option(help="Name (default: from the tasks)")] = None,
    session_id: Annotated[
        str | None, typer.Option("--id", help="Use this id instead of a generated one")
    ] = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Record a session (nothing is launched: use `session spawn` for that)."""
    with command(json, server) as cmd:
        body = {
            "projectId": require_project(project),
            "taskIds": tasks or [],
            "name": name,
            "id": session_id,
        }
        session = cmd.client.create_session({k: v for k, v in body.items() if v is not None})
        cmd.done(session, lambda s: say(f"created session {s.id} ({s.name})"))


@app.command("update")
def update(
    session_id: SessionArg,
    status: Annotated[str | None, typer.Option(help=f"One of {STATUSES}")] = None,
    name: Annotated[str | None, typer.Option(help="New name")] = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Change a session's status or name."""
    with command(json, server) as cmd:
        changes = {k: v for k, v in {"status": status, "name": name}.items() if v is not None}
        session = cmd.client.update_session(session_id, changes)
        cmd.done(session, lambda s: say(f"updated session {s.id} ({s.status})"))


@app.command("delete")
def delete(session_id: SessionArg, json: JsonFlag = False, server: ServerOption = None) -> None:
    """Delete a session; its tasks are unlinked."""
    with command(json, server) as cmd:
        result = cmd.client.delete_session(session_id)
        cmd.done(result, lambda r: say(f"deleted session {r.id}"))


@app.command("add-task")
def add_task(
    session_id: SessionArg, task_id: TaskArg, json: JsonFlag = False, server: ServerOption = None
) -> None:
    """Link a task to a session (linking twice changes nothing)."""
    with command(json, server) as cmd:
        session = cmd.client.link_task(session_id, task_id)
        cmd.done(session, lambda s: say(f"linked task {task_id} to session {s.id}"))


@app.command("remove-task")
def remove_task(
    session_id: SessionArg, task_id: TaskArg, json: JsonFlag = False, server: ServerOption = None
) -> None:
    """Unlink a task from a session (unlinking twice changes nothing)."""
    with command(json, server) as cmd:
        session = cmd.client.unlink_task(session_id, task_id)
        cmd.done(session, lambda s: say(f"unlinked task {task_id} from session {s.id}"))


def _spawn_failed(error: ApiError) -> ApiError | CommandError:
    """Any refusal of a spawn exits 5, whatever its code, so a script can tell
    "the worker never started" from other failures; only auth keeps exit 4."""
    if exit_code_of(error) == EXIT_NOT_ALLOWED:
        return error
    return CommandError(
        f"spawn failed: {error.message}", code=error.code, exit_code=EXIT_SPAWN_FAILED
    )


def _warn_unknown_skills(names: Sequence[str]) -> None:
    known = known_skills()
    for name in names:
        if name not in known:
            errors.print(
                f"[yellow]warning:[/yellow] skill {escape(name)} is not installed here; the agent "
                "will start without it (`maestro skill list` shows the available ones)",
                highlight=False,
            )


@app.command("spawn")
def spawn(
    project: ProjectOption = None,
    tasks: TaskOption = None,
    skills: Annotated[
        list[str] | None,
        typer.Option(
            "--skill", "-s", help=f"Skill for the agent (repeatable) (default: {DEFAULT_SKILL})"
        ),
    ] = None,
    role: Annotated[str, typer.Option(help=" or ".join(SPAWN_ROLES))] = "worker",
    agent: Annotated[str, typer.Option(help="Agent adapter: claude, codex, custom")] = "claude",
    model: Annotated[str | None, typer.Option(help="Model for the agent")] = None,
    name: Annotated[str | None, typer.Option(help="Session name (default: from the tasks)")] = None,
    reason: Annotated[str | None, typer.Option(help="Why this session is spawned")] = None,
    runner_labels: Annotated[
        list[str] | None,
        typer.Option(
            "--runner-label",
            help="Only a runner having this label may open it (repeatable: all are needed).",
        ),
    ] = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Ask for an agent session on tasks; a runner (`maestro runner`) opens its terminal.

    Inside a session, the new session records that one as its spawner.
    With --json, data is {"sessionId", "session"}.
    Exit 5 when the server refuses the spawn.
    """
    with command(json, server) as cmd:
        project_id = require_project(project, "missing_project_id", EXIT_SPAWN_FAILED)
        if not tasks:
            raise CommandError(
                "no task given: pass --task TASK_ID (repeatable)",
                code="invalid_task_ids",
                exit_code=EXIT_SPAWN_FAILED,
            )
        wanted_skills = skills or [DEFAULT_SKILL]
        _warn_unknown_skills(wanted_skills)
        body = {
            "projectId": project_id,
            "taskIds": tasks,
            "skills": wanted_skills,
            "role": role,
            "agent": agent,
            "model": model,
            "sessionName": name,
            "spawnSource": "orchestrator"
            if os.environ.get("MAESTRO_ROLE") == "orchestrator"
            else "cli",
            "spawnedBy": current_session_id(os.environ),
            "spawnReason": reason,
            "runnerLabels": runner_labels or [],
        }
        try:
            result = cmd.client.spawn(body)
        except ApiError as error:
            raise _spawn_failed(error) from error
        spawned = {"sessionId": result.session_id, "session": result.session}
        cmd.done(
            spawned,
            lambda r: say(
                f"spawned session {result.session_id} ({role}, {agent}) for "
                f"{', '.join(tasks)}; a runner (`maestro runner`) opens its terminal"
            ),
        )


@app.command("follow-up")
def follow_up(
    session_id: SessionArg,
    prompt: Annotated[str, typer.Argument(help="What to ask the agent now")],
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Continue a finished session: a new session on the same tasks whose agent
    resumes the earlier conversation (Claude Code's --resume) and gets PROMPT.

    The new session records the earlier one as metadata.followUpOf; a runner
    opens it like any spawn. With --json, data is {"sessionId", "session"}.
    Exit 5 when the server refuses it.
    """
    with command(json, server) as cmd:
        earlier = cmd.client.get_session(session_id)
        meta = earlier.metadata
        body = {
            "projectId": earlier.project_id,
            "taskIds": list(earlier.task_ids),
            "skills": meta.get("skills") or [DEFAULT_SKILL],
            "role": meta.get("role") or "worker",
            "agent": meta.get("agent") or "claude",
            "model": meta.get("model"),
            "followUpOf": earlier.id,
            "followUpPrompt": prompt,
            "spawnSource": "cli",
            "spawnedBy": current_session_id(os.environ),
        }
        try:
            result = cmd.client.spawn({k: v for k, v in body.items() if v is not None})
        except ApiError as error:
            raise _spawn_failed(error) from error
        cmd.done(
            {"sessionId": result.session_id, "session": result.session},
            lambda _: say(
                f"spawned follow-up session {result.session_id} of {earlier.id}; "
                "a runner (`maestro runner`) opens its terminal"
            ),
        )


@app.command("wait")
def wait(
    session_ids: Annotated[list[str], typer.Argument(help="Session ids", show_default=False)],
    timeout: Annotated[
        float | None,
        typer.Option(
            help="Give up after this many seconds (default: forever; inside an agent's "
            f"session {AGENT_WAIT_SECONDS:g}, see below)"
        ),
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between checks")] = 2.0,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Wait until every session is completed or failed.

    Exit 0 when all completed, 1 when any failed or the timeout passed (code TIMEOUT:
    just run it again). Inside an agent's session the default timeout is
    100 s: agents' shell tools move a command to the background
    after about two minutes, so agents wait in bounded steps and repeat.
    With --json, data is the sessions as last seen (also on failure and timeout).
    """
    with command(json, server) as cmd:
        if timeout is None and current_session_id(os.environ) is not None:
            timeout = AGENT_WAIT_SECONDS
        if timeout is not None and timeout < 0:
            raise CommandError("--timeout must be 0 or more seconds", code="VALIDATION_ERROR")
        if interval <= 0:
            raise CommandError("--interval must be more than 0 seconds", code="VALIDATION_ERROR")
        ids = list(dict.fromkeys(session_ids))
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: dict[str, Session] = {}
        while True:
            for session_id in ids:
                session = cmd.client.get_session(session_id)
                before = seen.get(session_id)
                if (
                    not json
                    and before is not None
                    and before.status != session.status
                    and session.status in FINISHED_SESSION_STATUSES
                ):
                    say(f"session {session_id} {session.status}")
                seen[session_id] = session
            sessions = [seen[i] for i in ids]
            waiting = [s for s in sessions if s.status not in FINISHED_SESSION_STATUSES]
            if not waiting:
                break
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                if not json:
                    show_sessions("Sessions", sessions)
                listed = ", ".join(f"{s.id} ({s.status})" for s in waiting)
                fail(
                    CommandError(
                        f"timed out after {timeout:g}s; still waiting for {listed}",
                        code="TIMEOUT",
                    ),
                    json,
                    sessions,
                )
            time.sleep(interval if left is None else min(interval, left))
        failed = [s for s in sessions if s.status == "failed"]
        if failed:
            if not json:
                show_sessions("Sessions", sessions)
            listed = ", ".join(f"{s.id} ({s.name})" for s in failed)
            fail(
                CommandError(
                    f"{len(failed)} of {len(sessions)} sessions failed: {listed}",
                    code="SESSION_FAILED",
                ),
                json,
                sessions,
            )
        cmd.done(sessions, lambda ss: show_sessions("All sessions completed", ss))
