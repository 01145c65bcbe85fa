"""The runner: opens a terminal for the spawn requests it claims (SPEC sections 1
and 6).

A browser cannot open a terminal on the user's machine, so ``maestro runner``
does it. It follows the server's event stream and, for every
``session:spawn_request``, opens a terminal (a tmux window or a detached PTY
process) in the project's working directory with the session's environment and
runs ``maestro worker init`` (or ``orchestrator init``) there.

The pieces, one job each:

- ``RunnerState``: the state file (the last ``seq`` seen and the sessions already
  opened, per server), so a restarted runner neither misses nor double-opens.
- ``Spawn``: what a terminal needs, read from an event or from a listed session.
- ``RunnerLease``: the runner's registration on the server: heartbeats, and the
  claim of each session before its terminal opens, so several runners (on
  several machines) open each session once.
- ``PtyLauncher`` / ``TmuxLauncher`` (behind ``Launcher``): open a terminal.
- ``SpawnQueue``: the rules: FIFO order, at most N live terminals, only what
  it claimed, never the same session twice, a missing directory or a failed
  launch marks the session ``failed`` with the reason.
- ``EventFollower``: the WebSocket subscription with replay and reconnects.
- ``run_once``: handle what is pending, then return.
- ``Dispatcher``: spawns workers for auto-start tasks whose dependencies are
  completed (dependency-gated dispatch).

A spawn is pending while its session's status is ``spawning``: the server's
session list is the source of truth, the event stream is how the runner hears
about new ones quickly.
"""

from maestro.agents.runner.dispatch import Dispatcher
from maestro.agents.runner.follower import EventFollower, websocket_url
from maestro.agents.runner.lease import NameTaken, RunnerLease
from maestro.agents.runner.queue import Opened, SpawnQueue, run_once, wait_for_terminals
from maestro.agents.runner.spawns import BadSpawn, Spawn
from maestro.agents.runner.state import OPENED_LIMIT, RunnerBusy, RunnerState
from maestro.agents.runner.terminals import (
    PTY_COLUMNS,
    PTY_ROWS,
    TMUX_SESSION,
    Launcher,
    PtyLauncher,
    PtyTerminal,
    Terminal,
    TmuxLauncher,
    TmuxWindow,
    default_launcher_kind,
)

__all__ = [
    "OPENED_LIMIT",
    "PTY_COLUMNS",
    "PTY_ROWS",
    "TMUX_SESSION",
    "BadSpawn",
    "Dispatcher",
    "EventFollower",
    "Launcher",
    "NameTaken",
    "Opened",
    "PtyLauncher",
    "PtyTerminal",
    "RunnerBusy",
    "RunnerLease",
    "RunnerState",
    "Spawn",
    "SpawnQueue",
    "Terminal",
    "TmuxLauncher",
    "TmuxWindow",
    "default_launcher_kind",
    "run_once",
    "wait_for_terminals",
    "websocket_url",
]
