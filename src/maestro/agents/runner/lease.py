"""``RunnerLease``: this runner's registration on the server (docs/runner.md,
"Several runners").

The runner registers (by name and host) before it claims anything, heartbeats
every third of the lease the server grants (``MAESTRO_RUNNER_TIMEOUT``, 30 s by
default), and claims each spawning session before it opens its terminal. A
runner the server no longer knows (deleted, or a replaced store) registers
again; one the server marked lost is active again with its next heartbeat. A
clean stop deletes the registration, so the sessions it claimed but never opened
go to the other runners at once.

Every call blocks on HTTP: the follower runs them off its event loop, one at a
time with the queue's (``EventFollower._call``).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Sequence

from maestro.agents.errors import AgentError
from maestro.agents.runner.state import RunnerState
from maestro.client import ApiError, ClientError, MaestroClient
from maestro.domain.responses import Claimed

log = logging.getLogger("maestro.runner")

DEFAULT_LEASE_SECONDS = 30.0
"""Until the first heartbeat tells it, the lease the runner assumes (the server's
default ``MAESTRO_RUNNER_TIMEOUT``)."""
BEATS_PER_LEASE = 3
"""Heartbeats per lease: two may be lost (or late) before the server gives up."""


def default_name() -> str:
    return socket.gethostname()


class NameTaken(AgentError):
    """Another active runner has this name on this host."""

    def __init__(self, message: str) -> None:
        super().__init__(
            f"{message} (a runner is known by its name and host: start this one with --name NAME)",
            code="RUNNER_NAME_TAKEN",
        )


class RunnerLease:
    """Registering, heartbeating, claiming and releasing, for one runner."""

    def __init__(
        self,
        client: MaestroClient,
        state: RunnerState,
        capacity: int,
        name: str | None = None,
        labels: Sequence[str] = (),
        host: str | None = None,
    ) -> None:
        self.client = client
        self.state = state
        self.capacity = capacity
        self.name = name or default_name()
        self.host = host or socket.gethostname()
        self.labels = tuple(dict.fromkeys(labels))
        self.runner_id: str | None = None
        self.sessions: tuple[str, ...] = ()  # what the last heartbeat reported
        self.timeout = DEFAULT_LEASE_SECONDS
        self._next_beat = 0.0  # time.monotonic() of the next heartbeat

    @property
    def interval(self) -> float:
        return self.timeout / BEATS_PER_LEASE

    def describe(self) -> str:
        labels = f", labels {', '.join(self.labels)}" if self.labels else ""
        return f"runner {self.name} on {self.host} (capacity {self.capacity}{labels})"

    def register(self) -> str:
        """Register (or take back this name's registration); the runner's id.
        Raises ``NameTaken`` when another active runner holds the name."""
        body = {
            "name": self.name,
            "host": self.host,
            "capacity": self.capacity,
            "labels": list(self.labels),
            **({"id": self.state.runner_id} if self.state.runner_id else {}),
        }
        try:
            runner = self.client.register_runner(body)
        except ApiError as error:
            if error.code == "RUNNER_NAME_TAKEN":
                raise NameTaken(error.message) from None
            raise
        revived = runner.id == self.state.runner_id
        self.runner_id = runner.id
        if self.state.runner_id != runner.id:
            self.state.runner_id = runner.id
            self.state.save()
        self._next_beat = 0.0  # at once: the answer tells the lease's length
        log.info(
            "%s as %s %s",
            "registered again" if revived else "registered",
            runner.id,
            self.describe(),
        )
        return runner.id

    def ensure_registered(self) -> str:
        return self.runner_id if self.runner_id is not None else self.register()

    def beat_if_due(self, sessions: Sequence[str]) -> None:
        """Heartbeat when a third of the lease has passed since the last one,
        telling the server the sessions this runner still runs."""
        if time.monotonic() < self._next_beat:
            return
        self.beat(sessions)

    def beat(self, sessions: Sequence[str] | None = None) -> None:
        """Heartbeat now (``sessions``: as last reported, if not given)."""
        reported = self.sessions if sessions is None else tuple(sorted(sessions))
        runner_id = self.ensure_registered()
        try:
            answer = self.client.runner_heartbeat(runner_id, list(reported))
        except ApiError as error:
            if error.status != 404:
                raise
            log.warning("the server no longer knows runner %s; registering again", runner_id)
            self.runner_id = None
            answer = self.client.runner_heartbeat(self.register(), list(reported))
        self.sessions = reported
        if answer.runner.status != "active":  # cannot happen: a heartbeat revives
            log.warning("the server says runner %s is %s", answer.runner.id, answer.runner.status)
        self.timeout = answer.timeout
        self._next_beat = time.monotonic() + self.interval

    def claim(self, session_id: str) -> Claimed | None:
        """Claim a spawning session: the claim (with the token for its agent)
        when it is this runner's to open, ``None`` when it is not (another runner
        has it, it asks for labels this runner lacks, it is no longer spawning, or
        it is gone). A runner the server marked lost beats first and tries again;
        one it forgot registers again."""
        for attempt in (1, 2):
            try:
                return self.client.claim_session(session_id, self.ensure_registered())
            except ApiError as error:
                if error.code == "RUNNER_LOST" and attempt == 1:
                    log.warning("the server marked this runner lost; heartbeating again")
                    self.beat()
                    continue
                if error.code == "RUNNER_NOT_FOUND" and attempt == 1:
                    self.runner_id = None
                    continue
                if error.status in (404, 409):
                    log.info("not opening session %s: %s", session_id, error.message)
                    return None
                raise
        return None

    def release(self, sessions: Sequence[str]) -> None:
        """Delete the registration (a clean stop), having said which sessions it
        still runs (``sessions``: their terminals stay open): what it claimed and
        did not open goes to the others at once. Best effort: the lease expires
        anyway."""
        if self.runner_id is None:
            return
        try:
            self.beat(sessions)
            self.client.delete_runner(self.runner_id)
        except ClientError as error:
            log.warning("could not unregister runner %s: %s", self.runner_id, error.message)
            return
        log.info("unregistered runner %s", self.runner_id)
        self.runner_id = None
