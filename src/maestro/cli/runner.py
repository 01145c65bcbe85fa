"""``maestro runner``: open a terminal for every spawn request (see docs/runner.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
from typing import Annotated

import typer

from maestro.agents.runner import (
    Dispatcher,
    EventFollower,
    Launcher,
    PtyLauncher,
    RunnerState,
    SpawnQueue,
    TmuxLauncher,
    default_launcher_kind,
    run_once,
    wait_for_terminals,
)
from maestro.cli.errors import CommandError
from maestro.cli.output import JsonFlag, ServerOption, command, say
from maestro.config import is_on, maestro_home

log = logging.getLogger("maestro.runner")


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


def runner(
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
        int, typer.Option("--max-concurrent", min=1, help="Terminals alive at once; others wait.")
    ] = 4,
    dispatch: Annotated[
        bool,
        typer.Option(
            "--dispatch/--no-dispatch",
            help="Spawn workers for auto-start tasks whose dependencies are completed.",
        ),
    ] = True,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Open a terminal for every spawn request: a tmux window (the default when tmux
    is installed) or a PTY process, in the project's working directory, running
    `maestro worker init` (or `orchestrator init`) with the session's environment."""
    _log_to_stderr()
    with command(json, server) as cmd:
        launcher = _launcher(tmux, pty)
        state = RunnerState(maestro_home(), cmd.client.url)
        state.claim()
        try:
            state.load()
            queue = SpawnQueue(cmd.client, state, launcher, max_concurrent)
            dispatcher = Dispatcher(cmd.client) if dispatch else None
            if once:
                try:
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
            follower = EventFollower(queue, dispatcher=dispatcher)
            asyncio.run(follower.run())
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
            state.release()
