"""``maestro approval list|show|allow|deny|watch``: answer what agents ask to do.

An approval is a tool call an agent's policy does not allow, waiting for a
person (``docs/agents.md``, "Approvals"). Anyone may decide it: the board's
inbox, this command, another terminal; the first decision wins and the others
are told it was already decided.
"""

from __future__ import annotations

import getpass
import socket
import sys
import time
from collections.abc import Sequence
from typing import Annotated, Any

import msgspec
import typer
from rich.markup import escape

from maestro.cli.defaults import ProjectOption
from maestro.cli.errors import CommandError
from maestro.cli.output import (
    JsonFlag,
    ServerOption,
    command,
    console,
    fields,
    say,
    table,
    when,
)
from maestro.client import ApiError, MaestroClient
from maestro.domain.models import Approval
from maestro.domain.vocabulary import APPROVAL_STATUSES

app = typer.Typer(
    help="Approvals: tool calls agents asked a person to allow; allow or deny them.",
    no_args_is_help=True,
)

ApprovalArg = Annotated[str, typer.Argument(help="Approval id")]
MessageOption = Annotated[
    str | None, typer.Option("--message", "-m", help="What the agent is told (it reads it)")
]
RememberFlag = Annotated[
    bool,
    typer.Option(
        "--remember",
        help="Also add the matching rule to the project's permission policy, so the "
        "project's agents are not asked again",
    ),
]
# Where the thing a tool acts on is, by tool: shown in full, as that is what a
# person decides on.
TARGET_FIELDS = ("command", "file_path", "notebook_path", "url", "pattern", "path", "query")


def decided_by() -> str:
    """Who decides from this terminal, as the approval records it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "someone"
    return f"{user}@{socket.gethostname()} (cli)"


def target(approval: Approval) -> str:
    """The command, file or URL the tool call is about, in full."""
    tool_input = approval.input
    if isinstance(tool_input, dict):
        for key in TARGET_FIELDS:
            value = tool_input.get(key)
            if isinstance(value, str) and value:
                return value
    return "" if tool_input is None else msgspec.json.encode(tool_input).decode()


def show_approvals(title: str, approvals: Sequence[Approval]) -> None:
    table(
        title,
        ["id", "status", "tool", "target", "session", "tasks", "asked"],
        [
            (
                a.id,
                a.status,
                a.tool,
                target(a),
                a.session_id,
                ", ".join(a.task_ids),
                when(a.created_at),
            )
            for a in approvals
        ],
    )


def show_approval(approval: Approval) -> None:
    fields(
        f"{approval.tool}: {target(approval)}",
        [
            ("id", approval.id),
            ("status", approval.status),
            ("project", approval.project_id),
            ("session", approval.session_id),
            ("tasks", ", ".join(approval.task_ids)),
            ("tool", approval.tool),
            ("input", msgspec.json.encode(approval.input).decode()),
            ("reason", approval.reason),
            ("asked", when(approval.created_at)),
            ("expires", when(approval.expires_at)),
            ("decided", when(approval.decided_at)),
            ("decided by", approval.decided_by),
            ("message", approval.message),
        ],
    )


def decide(
    client: MaestroClient,
    approval_id: str,
    decision: str,
    message: str | None,
    remember: bool,
) -> Approval:
    body: dict[str, Any] = {"decision": decision, "remember": remember, "decidedBy": decided_by()}
    if message:
        body["message"] = message
    return client.decide_approval(approval_id, body)


def _said(approval: Approval) -> str:
    by = f" by {approval.decided_by}" if approval.decided_by else ""
    return f"approval {approval.id} ({approval.tool}: {target(approval)}) {approval.status}{by}"


@app.command("list")
def list_approvals(
    project: ProjectOption = None,
    session: Annotated[str | None, typer.Option(help="Only this session's approvals")] = None,
    status: Annotated[
        str | None,
        typer.Option(help=f"Only this status: {', '.join(APPROVAL_STATUSES)} (default: pending)"),
    ] = "pending",
    every: Annotated[bool, typer.Option("--all", help="Every status, decided ones too")] = False,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """List approvals, oldest first: by default the ones waiting for a decision."""
    with command(json, server) as cmd:
        approvals = cmd.client.list_approvals(project or None, session, None if every else status)
        cmd.done(approvals, lambda a: show_approvals("Approvals", a))


@app.command("show")
def show(approval_id: ApprovalArg, json: JsonFlag = False, server: ServerOption = None) -> None:
    """Show one approval: the tool call in full, and its decision if it has one."""
    with command(json, server) as cmd:
        cmd.done(cmd.client.get_approval(approval_id), show_approval)


@app.command("allow")
def allow(
    approval_id: ApprovalArg,
    remember: RememberFlag = False,
    message: MessageOption = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Let the agent make the tool call it asked for."""
    with command(json, server) as cmd:
        approval = decide(cmd.client, approval_id, "allow", message, remember)
        cmd.done(approval, lambda a: say(_said(a)))


@app.command("deny")
def deny(
    approval_id: ApprovalArg,
    message: MessageOption = None,
    remember: RememberFlag = False,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Refuse the tool call; the agent reads --message (say what to do instead)."""
    with command(json, server) as cmd:
        approval = decide(cmd.client, approval_id, "deny", message, remember)
        cmd.done(approval, lambda a: say(_said(a)))


PROMPT = "[a]llow, allow and [r]emember, [d]eny, [s]kip? "


@app.command("watch")
def watch(
    project: ProjectOption = None,
    interval: Annotated[float, typer.Option(help="Seconds between checks")] = 1.0,
    server: ServerOption = None,
) -> None:
    """A terminal that only answers approvals: each one as it arrives, across
    projects (or --project), asked about in turn. Ctrl-C stops.

    When standard input is not a terminal it only lists them as they come.
    """
    with command(False, server) as cmd:
        if interval <= 0:
            raise CommandError("--interval must be more than 0 seconds", code="VALIDATION_ERROR")
        interactive = sys.stdin.isatty()
        seen: set[str] = set()
        say("watching for approvals (Ctrl-C stops)")
        try:
            while True:
                for approval in cmd.client.list_approvals(project or None, status="pending"):
                    if approval.id in seen:
                        continue
                    seen.add(approval.id)
                    console.print()
                    show_approval(approval)
                    if interactive:
                        _answer(cmd.client, approval)
                time.sleep(interval)
        except (KeyboardInterrupt, EOFError):
            say("")


def _answer(client: MaestroClient, approval: Approval) -> None:
    while True:
        choice = input(PROMPT).strip().lower()
        if choice in ("a", "r", "d", "s"):
            break
    if choice == "s":
        return
    message = None
    if choice == "d":
        message = input("message for the agent (optional): ").strip() or None
    try:
        decided = decide(
            client, approval.id, "deny" if choice == "d" else "allow", message, choice == "r"
        )
    except ApiError as error:
        if error.code != "APPROVAL_DECIDED":
            raise
        decided = client.get_approval(approval.id)
        console.print(f"[yellow]already decided:[/yellow] {escape(_said(decided))}")
        return
    say(_said(decided))
