"""``maestro runner``: open a terminal for the spawn requests this runner claims
(see docs/runner.md); ``maestro runner list``: the runners the server knows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from maestro.agents.runner import (
    Dispatcher,
    EventFollower,
    Launcher,
    PtyLauncher,
    RunnerLease,
    RunnerState,
    SpawnQueue,
    TmuxLauncher,
    default_launcher_kind,
    run_once,
    wait_for_terminals,
)
from maestro.cli.errors import CommandError
from maestro.cli.output import JsonFlag, ServerOption, command, say, table, when
from maestro.client import ClientError, ServerUnreachable
from maestro.config import is_on, maestro_home
from maestro.domain.responses import RunnerWithLoad
from maestro.domain.vocabulary import RUNNER_STATUSES

log = logging.getLogger("maestro.runner")

app = typer.Typer(
    help="Open a terminal for the spawn requests this runner claims (`maestro runner` "
    "with the options below), or list the runners the server knows (`maestro runner list`).",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s runner: %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if is_on(os.environ, "DEBUG") else logging.INFO)
    log.propagate = False


def _launcher(tmux: bool, pty: bool) -> Launcher:
    if tmux and pty:
        raise CommandError("choose one of --tmux and --pty", code="VALIDATION_ERROR")
    kind = "tmux" if tmux else "pty" if pty else default_launcher_kind()
    if kind == "tmux":
        if shutil.which("tmux") is None:
            raise CommandError("tmux is not on PATH; install it or use --pty", code="NO_TMUX")
        return TmuxLauncher()
    return PtyLauncher(maestro_home())


@app.callback()
def runner(
    ctx: typer.Context,
    tmux: Annotated[
        bool, typer.Option("--tmux", help="Open a window per session in tmux session `maestro`.")
    ] = False,
    pty: Annotated[
        bool, typer.Option("--pty", help="Run each session in a detached process on its own PTY.")
    ] = False,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Dispatch and open what is pending (and, with --pty, wait for it to end), "
            "then exit.",
        ),
    ] = False,
    max_concurrent: Annotated[
        int,
        typer.Option(
            "--max-concurrent",
            min=1,
            max=1000,
            help="Terminals alive at once (the runner's capacity); it claims no more.",
        ),
    ] = 4,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="This runner's name on the server (default: the host name); a runner is "
            "known by its name and host.",
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            help="A label of this runner (repeatable: --label gpu --label os=linux); it claims "
            "only spawns whose runnerLabels it has all of.",
        ),
    ] = None,
    dispatch: Annotated[
        bool,
        typer.Option(
            "--dispatch/--no-dispatch",
            help="Spawn workers for auto-start tasks whose dependencies are completed.",
        ),
    ] = True,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="The token to talk to the server with: a runner token (maestro token "
            "create --runner NAME) or the admin token; default: MAESTRO_TOKEN.",
        ),
    ] = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Register with the server as a runner and open a terminal for each spawn
    request it claims: a tmux window (the default when tmux is installed) or a PTY
    process, in the project's working directory, running `maestro worker init` (or
    `orchestrator init`) with the session's environment. Several runners (on
    several machines) share the spawns: each session is opened by one."""
    if ctx.invoked_subcommand is not None:
        return
    if token is not None:
        # Every client this process makes (the commands', the event follower's)
        # reads MAESTRO_TOKEN; no terminal is given it (agents.environment).
        os.environ["MAESTRO_TOKEN"] = token
    _log_to_stderr()
    with command(json, server) as cmd:
        launcher = _launcher(tmux, pty)
        state = RunnerState(maestro_home(), cmd.client.url)
        state.claim()
        queue: SpawnQueue | None = None
        try:
            state.load()
            lease = RunnerLease(cmd.client, state, max_concurrent, name, _labels(label or []))
            queue = SpawnQueue(cmd.client, state, launcher, max_concurrent, lease=lease)
            dispatcher = Dispatcher(cmd.client) if dispatch else None
            if once:
                try:
                    lease.register()
                    if dispatcher is not None:
                        dispatcher.run_once()
                    run_once(queue)
                except KeyboardInterrupt:
                    log.info("interrupted; %d session(s) opened", len(queue.opened_ids))
                    raise typer.Exit(130) from None
                finally:
                    state.save()
                summary = {"opened": queue.opened_ids, "failed": queue.failed_ids}
                cmd.done(
                    summary,
                    lambda s: say(
                        f"opened {len(s['opened'])} session(s), {len(s['failed'])} failed"
                    ),
                )
                return
            with contextlib.suppress(ServerUnreachable):
                lease.register()  # else the connection loop registers once it can
            follower = EventFollower(queue, dispatcher=dispatcher)
            asyncio.run(follower.run())
            # Unregistered before waiting for terminals: what it claimed and did not
            # open goes to the others now, and no lease runs out while it waits.
            queue.release()
            if queue.waiting_on_terminals and follower.stop_signal == signal.SIGINT:
                log.info(
                    "waiting for %d pty session(s) to finish; Ctrl-C again to leave them "
                    "(their output is then no longer recorded)",
                    queue.running_terminals(),
                )
                with contextlib.suppress(KeyboardInterrupt):
                    wait_for_terminals(queue)
            if queue.waiting_on_terminals:
                log.warning(
                    "leaving %d pty session(s) running; their terminal output is no longer "
                    "recorded",
                    queue.running_terminals(),
                )
            log.info("runner stopped")
        finally:
            if queue is not None and once:
                with contextlib.suppress(ClientError):
                    queue.release()
            state.release()


def _labels(given: Sequence[str]) -> list[str]:
    """The labels given, split at commas too (``--label gpu,os=linux``)."""
    return [part.strip() for value in given for part in value.split(",") if part.strip()]


def show_runners(runners: Sequence[RunnerWithLoad]) -> None:
    table(
        "Runners",
        ["id", "name", "host", "status", "load", "labels", "last seen"],
        [
            (
                r.id,
                r.name,
                r.host,
                r.status,
                f"{r.load}/{r.capacity}",
                ", ".join(r.labels),
                when(r.last_seen),
            )
            for r in runners
        ],
    )


@app.command("list")
def list_runners(
    status: Annotated[
        str | None,
        typer.Option(help=f"Only this status: {', '.join(RUNNER_STATUSES)}"),
    ] = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """List the runners the server knows, oldest first, with their load (sessions
    they claimed that are still spawning or running) against their capacity."""
    with command(json, server) as cmd:
        cmd.done(cmd.client.list_runners(status), show_runners)
