"""``SpawnQueue``: the rules of opening (FIFO, at most N live terminals, only
what this runner claimed, never the same session twice, a failed launch marks
the session failed), and ``run_once`` / ``wait_for_terminals`` for ``--once``."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace

from maestro.agents.runner.lease import RunnerLease
from maestro.agents.runner.spawns import BadSpawn, Spawn
from maestro.agents.runner.state import RunnerState
from maestro.agents.runner.terminals import Launcher, Terminal
from maestro.client import ClientError, MaestroClient
from maestro.domain import session_events as se
from maestro.domain.models import Project

log = logging.getLogger("maestro.runner")


@dataclass
class Opened:
    spawn: Spawn
    terminal: Terminal


class SpawnQueue:
    """Pending spawns in arrival order, each claimed (``lease``) and opened once a
    slot is free: while fewer than ``max_concurrent`` terminals are alive. Never
    opens one session twice, nor one this runner did not claim. Spawns it cannot
    claim (labels it lacks, another runner's) are left to the others."""

    def __init__(
        self,
        client: MaestroClient,
        state: RunnerState,
        launcher: Launcher,
        max_concurrent: int = 4,
        runner_env: Mapping[str, str] | None = None,
        lease: RunnerLease | None = None,
    ) -> None:
        self.client = client
        self.state = state
        self.launcher = launcher
        self.max_concurrent = max(1, max_concurrent)
        self.runner_env = os.environ if runner_env is None else runner_env
        self.lease = lease if lease is not None else RunnerLease(client, state, self.max_concurrent)
        self.waiting: deque[Spawn] = deque()
        self.live: list[Opened] = []
        self.opened_ids: list[str] = []
        self.failed_ids: list[str] = []
        self._announced: set[str] = set()  # spawns already logged as waiting or left

    # queueing

    def offer(self, spawn: Spawn) -> bool:
        """Queue a spawn unless it is already queued, was opened before, is
        another runner's, or asks for labels this runner lacks."""
        if self.state.has_opened(spawn.session_id) or self.is_waiting(spawn.session_id):
            return False
        if spawn.claimed_by is not None and spawn.claimed_by != self.lease.runner_id:
            return False
        missing = [label for label in spawn.runner_labels if label not in self.lease.labels]
        if missing:
            self._announce(
                spawn.session_id,
                "leaving session %s to other runners: it needs the label(s) %s",
                ", ".join(missing),
            )
            return False
        self.waiting.append(spawn)
        return True

    def _announce(self, session_id: str, message: str, *args: object) -> None:
        """Log a line about a spawn once, not at every look."""
        if session_id not in self._announced:
            self._announced.add(session_id)
            log.info(message, session_id, *args)

    def is_waiting(self, session_id: str) -> bool:
        return any(s.session_id == session_id for s in self.waiting)

    def forget(self, session_id: str, why: str = "is no longer spawning") -> None:
        """The session stopped being ``spawning``, was deleted, or another runner
        claimed it, before its turn."""
        if self.is_waiting(session_id):
            self.waiting = deque(s for s in self.waiting if s.session_id != session_id)
            log.info("session %s %s; dropped from the queue", session_id, why)

    def catch_up(self) -> int:
        """Queue every ``spawning`` session not yet opened that this runner may
        claim; returns how many."""
        projects: dict[str, Project] = {}
        added = 0
        mine = self.lease.ensure_registered()
        for session in self.client.list_sessions(status="spawning"):
            if self.state.has_opened(session.id) or self.is_waiting(session.id):
                continue
            holder = session.metadata.get("runnerId")
            if holder is not None and holder != mine:
                continue  # another runner's (a lost runner's are released by the server)
            try:
                if session.project_id not in projects:
                    projects[session.project_id] = self.client.get_project(session.project_id)
                added += self.offer(Spawn.from_session(session, projects[session.project_id]))
            except (ClientError, BadSpawn) as error:
                log.warning("cannot open pending session %s: %s", session.id, error)
        if added:
            log.info("found %d pending spawn(s)", added)
        return added

    # opening

    def pump(self) -> None:
        """Claim and open waiting spawns while there are free slots; the others
        stay unclaimed, for whichever runner has a slot first."""
        self.reap()
        while self.waiting and len(self.live) < self.max_concurrent:
            spawn = self.waiting.popleft()
            try:
                claimed = self.lease.claim(spawn.session_id)
            except ClientError:
                self.waiting.appendleft(spawn)  # the server is away; try again later
                raise
            if claimed is None:
                continue
            log.info("claimed session %s", spawn.session_id)
            self._open(replace(spawn, token=claimed.token))
        for spawn in self.waiting:
            self._announce(
                spawn.session_id,
                "session %s waits for a free slot (%d open, --max-concurrent %d)",
                len(self.live),
                self.max_concurrent,
            )

    def running_ids(self) -> list[str]:
        """The sessions whose terminals are open (as last looked at)."""
        return [opened.spawn.session_id for opened in self.live]

    def keep_lease(self) -> None:
        """Heartbeat if it is time, reporting the sessions this runner runs."""
        self.lease.beat_if_due(self.running_ids())

    def release(self) -> None:
        """Unregister (a clean stop): the sessions whose terminals are open stay
        this runner's; what it claimed and did not open goes to the others."""
        self.reap()
        self.lease.release(self.running_ids())

    def _open(self, spawn: Spawn) -> None:
        try:
            command = spawn.command()
        except BadSpawn as error:
            self._fail(spawn.session_id, str(error))
            return
        cwd = spawn.working_directory()
        if not cwd.exists():
            self._fail(spawn.session_id, f"working directory {cwd} does not exist")
            return
        if not cwd.is_dir():
            self._fail(spawn.session_id, f"working directory {cwd} is not a directory")
            return
        try:
            env = spawn.terminal_env(self.runner_env, self.client.url)
            terminal = self.launcher.open(spawn, command, env, cwd)
        except Exception as error:
            self._fail(spawn.session_id, f"could not open a {self.launcher.kind} terminal: {error}")
            return
        self.state.mark_opened(spawn.session_id)
        self.live.append(Opened(spawn, terminal))
        self.opened_ids.append(spawn.session_id)
        log.info("opened session %s in %s (%s)", spawn.session_id, cwd, terminal.description)

    def _fail(self, session_id: str, reason: str) -> None:
        log.error("session %s failed: %s", session_id, reason)
        try:
            self.client.update_session(session_id, se.failed(se.SPAWN_FAILED, {"reason": reason}))
        except ClientError as error:
            # Still `spawning` and not marked opened: the next catch-up retries.
            log.error("could not mark session %s failed: %s", session_id, error.message)
            return
        self.failed_ids.append(session_id)

    # closing

    def reap(self) -> None:
        """Free the slots of terminals that ended. A terminal that ended while its
        session is still ``spawning`` never got as far as ``init``: mark it failed."""
        for opened in list(self.live):
            if opened.terminal.alive():
                continue
            self.live.remove(opened)
            code = opened.terminal.exit_code()
            session_id = opened.spawn.session_id
            log.info(
                "session %s: terminal closed%s",
                session_id,
                "" if code is None else f" (exit code {code})",
            )
            try:
                status = self.client.get_session(session_id).status
            except ClientError:
                continue
            if status == "spawning":
                self._fail(
                    session_id,
                    f"the terminal closed{'' if code is None else f' with exit code {code}'} "
                    f"before `maestro {opened.spawn.role} init` started the session",
                )

    def running_terminals(self) -> int:
        return sum(opened.terminal.alive() for opened in self.live)

    @property
    def waiting_on_terminals(self) -> bool:
        """True while PTY terminals this runner started are still running (``--once``
        waits for them; tmux windows go on without the runner)."""
        return not self.launcher.outlives_runner and self.running_terminals() > 0


def run_once(queue: SpawnQueue, poll_seconds: float = 0.2) -> None:
    """Open every pending spawn (waiting for free slots as needed) and return when
    all are open and, for PTY terminals, have exited. Spawns requested meanwhile
    (say, by an orchestrator this run opened) are handled too: the run ends when
    a fresh look finds nothing left to do."""
    queue.keep_lease()
    queue.catch_up()
    while True:
        queue.pump()
        if not queue.waiting and not queue.waiting_on_terminals and not queue.catch_up():
            return
        time.sleep(poll_seconds)
        queue.keep_lease()


def wait_for_terminals(queue: SpawnQueue, poll_seconds: float = 0.2) -> None:
    """Keep draining PTY terminals until they exit (Ctrl-C leaves them)."""
    while queue.waiting_on_terminals:
        queue.reap()
        time.sleep(poll_seconds)
