"""Runners: the ``maestro runner`` processes that open the agents' terminals, on
as many machines as a team has.

A runner registers (``runner:created``, or ``runner:updated`` when a runner of the
same name and host comes back), then heartbeats; each heartbeat extends its lease
to ``MAESTRO_RUNNER_TIMEOUT`` from now (``expiresAt``). It opens a terminal only
for a session it claimed: the claim sets the spawning session's
``metadata.runnerId``, once, so however many runners (and server instances) race
for a session, one gets it and the others get 409 ``ALREADY_CLAIMED``. The step
reads the session inside the store's transaction, which holds the store's one
write lock (across instances on PostgreSQL: an advisory lock), as approvals'
decisions do.

The lease sweep (``expire_forever``, on every server instance) marks a runner
whose lease ran out ``lost``, exactly once: what it found due is read again under
the lock. A lost runner's sessions are settled in the same transaction: those
still ``spawning`` are released (claimable again), those ``running`` fail, with a
``runner_lost`` session event and a ``session_ended`` entry on their tasks'
timelines: their agents ran on a machine nobody hears from any more.

Heartbeats that change nothing a person sees (only ``lastSeen`` and
``expiresAt`` move) are stored without an event: a handful of runners beating
every few seconds would otherwise fill the event stream clients replay.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable

from msgspec import UNSET
from msgspec.structs import asdict, replace

from maestro.domain import events as ev
from maestro.domain import session_events as se
from maestro.domain.clock import later_than, now_ms
from maestro.domain.errors import (
    AlreadyClaimed,
    LabelsMismatch,
    RunnerLost,
    RunnerNameTaken,
    RunnerNotFound,
    SessionNotFound,
)
from maestro.domain.ids import check_id, new_id
from maestro.domain.models import Runner, Session, SessionEvent, Task
from maestro.domain.requests import RunnerHeartbeat, RunnerRegister, SessionClaim
from maestro.domain.responses import Claimed, Heartbeat, RunnerWithLoad
from maestro.service.tokens import TokenBook
from maestro.service.versions import (
    text,
    timeline,
    touched,
    unique,
    with_activity,
    with_attention,
    with_session_status,
    with_timeline,
)
from maestro.store.base import RunnerQuery, SessionQuery, Store, Transaction

log = logging.getLogger("maestro.service")

SWEEP_SECONDS = 1.0
"""How often the lease sweep looks for runners whose lease ran out."""
CLAIM_KEYS = ("runnerId", "claimedAt")
"""What a claim adds to a session's ``metadata`` (and a release takes away)."""


def claimant(session: Session) -> str | None:
    """The id of the runner that claimed the session, if any."""
    holder = session.metadata.get("runnerId")
    return holder if isinstance(holder, str) else None


def required_labels(session: Session) -> tuple[str, ...]:
    """The labels a runner needs to claim the session (its spawn's ``runnerLabels``)."""
    labels = session.metadata.get("runnerLabels")
    return tuple(label for label in labels if isinstance(label, str)) if labels else ()


def with_load(runner: Runner, load: int) -> RunnerWithLoad:
    return RunnerWithLoad(**asdict(runner), load=load)


def released(session: Session) -> Session:
    """The session without its claim: ``spawning`` and claimable again."""
    metadata = {k: v for k, v in session.metadata.items() if k not in CLAIM_KEYS}
    return with_activity(replace(session, metadata=metadata))


def lease_seconds(runner: Runner) -> float:
    """How long the runner's last lease was (it was granted by some instance's
    ``MAESTRO_RUNNER_TIMEOUT``)."""
    return max(0, runner.expires_at - runner.last_seen) / 1000


class RunnerRegistry:
    """Registering, heartbeating, listing and deleting runners; claiming sessions
    for them; and the lease sweep."""

    def __init__(self, store: Store, timeout: float, tokens: TokenBook) -> None:
        self.store = store
        self.tokens = tokens
        self.timeout = timeout
        self.timeout_ms = max(1, round(timeout * 1000))
        self._last_birth = 0

    def _birth(self) -> int:
        """A creation time later than every earlier one: lists are oldest first."""
        self._last_birth = later_than(self._last_birth)
        return self._last_birth

    # -- reading -------------------------------------------------------------------

    @staticmethod
    async def _runner(tx: Transaction | Store, runner_id: str, field: str = "id") -> Runner:
        runner = await tx.get(Runner, check_id(runner_id, field))
        if runner is None:
            raise RunnerNotFound(f"runner {runner_id} not found")
        return runner

    @staticmethod
    async def _loads(tx: Transaction | Store, runners: Iterable[Runner]) -> list[RunnerWithLoad]:
        """The runners with their load: their claimed sessions still active."""
        wanted = list(runners)
        if not wanted:
            return []
        if len(wanted) == 1:
            query = SessionQuery(active=True, runner_id=wanted[0].id)
            return [with_load(wanted[0], len(await tx.find_sessions(query)))]
        counts = Counter(claimant(s) for s in await tx.find_sessions(SessionQuery(active=True)))
        return [with_load(runner, counts[runner.id]) for runner in wanted]

    async def list_runners(self, query: RunnerQuery) -> list[RunnerWithLoad]:
        return await self._loads(self.store, await self.store.find_runners(query))

    async def get_runner(self, runner_id: str) -> RunnerWithLoad:
        (runner,) = await self._loads(self.store, [await self._runner(self.store, runner_id)])
        return runner

    # -- the lease -----------------------------------------------------------------

    async def register(self, body: RunnerRegister) -> RunnerWithLoad:
        """A new runner (``runner:created``), or the one of this name and host back
        again (``runner:updated``): active, with a fresh lease and the capacity and
        labels it has now. An active runner of this name and host is taken over
        only by the runner that had it (``body.id``): two processes must not share
        one identity, or both would open what it claims."""
        name, host = text(body.name, "name"), text(body.host, "host")
        labels = unique(body.labels)
        async with self.store.transaction() as tx:
            at = self._birth()
            existing = await tx.find_runners(RunnerQuery(name=name, host=host))
            if not existing:
                runner = Runner(
                    id=new_id("run"),
                    name=name,
                    host=host,
                    capacity=body.capacity,
                    labels=labels,
                    created_at=at,
                    updated_at=at,
                    last_seen=at,
                    expires_at=at + self.timeout_ms,
                )
                (served,) = await self._loads(tx, [runner])
                tx.put(runner)
                tx.emit(ev.RUNNER_CREATED, served, ev.NO_PROJECT)
                return served
            runner = existing[0]
            if runner.status == "active" and runner.expires_at > at and body.id != runner.id:
                raise RunnerNameTaken(
                    f"runner {name!r} on {host} is registered and active ({runner.id}); give "
                    "this one another name, or stop the other one first",
                    {"runnerId": runner.id},
                )
            runner = replace(
                runner,
                capacity=body.capacity,
                labels=labels,
                status="active",
                sessions=(),
                updated_at=later_than(runner.updated_at),
                last_seen=at,
                expires_at=at + self.timeout_ms,
                lost_at=None,
            )
            (served,) = await self._loads(tx, [runner])
            tx.put(runner)
            tx.emit(ev.RUNNER_UPDATED, served, ev.NO_PROJECT)
        return served

    async def heartbeat(self, runner_id: str, body: RunnerHeartbeat) -> Heartbeat:
        """Extend the runner's lease; a lost runner is active again. Announced
        (``runner:updated``) only when more than the lease changed: its status, or
        the sessions it says it runs."""
        async with self.store.transaction() as tx:
            runner = await self._runner(tx, runner_id)
            at = max(now_ms(), runner.last_seen)
            sessions = runner.sessions if body.sessions is UNSET else unique(body.sessions)
            changed = runner.status != "active" or sessions != runner.sessions
            runner = replace(
                runner,
                status="active",
                sessions=sessions,
                updated_at=later_than(runner.updated_at),
                last_seen=at,
                expires_at=at + self.timeout_ms,
                lost_at=None,
            )
            (served,) = await self._loads(tx, [runner])
            tx.put(runner)
            if changed:
                tx.emit(ev.RUNNER_UPDATED, served, ev.NO_PROJECT)
        return Heartbeat(runner=served, timeout=self.timeout)

    async def delete(self, runner_id: str) -> None:
        """Forget a runner (``runner:deleted``, a clean stop). Its claimed sessions
        still ``spawning`` are released for others, but for those its last
        heartbeat said it runs (their terminals are open, their agents about to
        start); those ``running`` are left alone: their agents report for
        themselves."""
        async with self.store.transaction() as tx:
            runner = await self._runner(tx, runner_id)
            tx.delete(runner)
            tx.emit(ev.RUNNER_DELETED, {"id": runner.id}, ev.NO_PROJECT)
            await self._settle(tx, runner, now_ms(), fail_running=False, keep=runner.sessions)

    # -- claims --------------------------------------------------------------------

    async def claim(self, session_id: str, body: SessionClaim) -> Claimed:
        """Give a ``spawning`` session to the runner that asks first (``metadata``
        ``runnerId`` and ``claimedAt``; its ``hostname`` becomes the runner's host;
        ``session:updated``), with a new token for its agent (``service.tokens``).
        Claiming it again is answered the same, with no change to the session but
        a new token (the answer with the first may have been lost on the way). A
        claim held by a runner that is gone (lost, deleted) does not count."""
        async with self.store.transaction() as tx:
            session = await tx.get(Session, check_id(session_id, "sessionId"))
            if session is None:
                raise SessionNotFound(f"session {session_id} not found")
            runner = await self._runner(tx, body.runner_id, "runnerId")
            if runner.status != "active":
                raise RunnerLost(
                    f"runner {runner.name} ({runner.id}) is {runner.status}: send a "
                    "heartbeat (or register again) before claiming",
                    {"status": runner.status},
                )
            holder = claimant(session)
            if session.status != "spawning":
                raise AlreadyClaimed(
                    f"session {session.id} is {session.status}, not spawning: there is "
                    "nothing to claim",
                    {"status": session.status, "runnerId": holder},
                )
            if holder == runner.id:
                return Claimed(session=session, token=self.tokens.mint_for_session(tx, session))
            if holder is not None:
                holding = await tx.get(Runner, holder)
                if holding is not None and holding.status == "active":
                    raise AlreadyClaimed(
                        f"session {session.id} is claimed by runner {holding.name} ({holder})",
                        {"status": session.status, "runnerId": holder},
                    )
            needed = required_labels(session)
            missing = [label for label in needed if label not in runner.labels]
            if missing:
                raise LabelsMismatch(
                    f"session {session.id} needs a runner labelled {', '.join(needed)}; "
                    f"runner {runner.name} lacks {', '.join(missing)}",
                    {"required": list(needed), "missing": missing},
                )
            metadata = {**session.metadata, "runnerId": runner.id, "claimedAt": now_ms()}
            session = with_activity(replace(session, metadata=metadata, hostname=runner.host))
            tx.put(session)
            tx.emit(ev.SESSION_UPDATED, session, session.project_id)
            token = self.tokens.mint_for_session(tx, session)
        return Claimed(session=session, token=token)

    # -- the sweep -----------------------------------------------------------------

    async def _settle(
        self,
        tx: Transaction,
        runner: Runner,
        at: int,
        fail_running: bool,
        keep: Iterable[str] = (),
    ) -> None:
        """The sessions a gone runner held: those still spawning released (but
        for those in ``keep``), and (``fail_running``) those running failed,
        noted on their tasks."""
        reason = f"runner {runner.name} lost: no heartbeat for {lease_seconds(runner):g} s"
        kept = set(keep)
        for session in await tx.find_sessions(SessionQuery(active=True, runner_id=runner.id)):
            if session.id in kept:
                continue
            if session.status == "spawning":
                session = released(session)
                tx.put(session)
                tx.emit(ev.SESSION_UPDATED, session, session.project_id)
                continue
            if not fail_running:
                continue
            lost = SessionEvent(
                id=new_id("evt"),
                timestamp=at,
                type=se.RUNNER_LOST,
                data={
                    "runnerId": runner.id,
                    "runner": runner.name,
                    "host": runner.host,
                    "reason": reason,
                },
            )
            session = with_session_status(session, "failed", at)
            session = replace(session, events=(*session.events, lost))
            session = with_activity(with_attention(session, pending_approvals=False))
            tx.put(session)
            tx.emit(ev.SESSION_UPDATED, session, session.project_id)
            for task_id in session.task_ids:
                task = await tx.get(Task, task_id)
                if task is None:
                    continue
                message = f"Session {session.id} failed: {reason}"
                note = timeline("session_ended", at, message, session.id)
                task = touched(with_timeline(task, note))
                tx.put(task)
                tx.emit(ev.TASK_UPDATED, task, task.project_id)

    async def expire_due(self) -> list[Runner]:
        """Mark every active runner whose lease ran out ``lost`` and settle its
        sessions; return them.

        The look-up is a read (an index of the active ones), so a tick with nothing
        due takes no write lock; what it found is read again under the lock, and
        only a runner still active and still past its lease is marked lost (a
        heartbeat or another instance's sweep may have come first)."""
        now = now_ms()
        due = await self.store.find_runners(RunnerQuery(status="active", expires_by=now))
        if not due:
            return []
        lost: list[Runner] = []
        async with self.store.transaction() as tx:
            for found in due:
                runner = await tx.get(Runner, found.id)
                if runner is None or runner.status != "active" or runner.expires_at > now:
                    continue
                runner = replace(
                    runner, status="lost", lost_at=now, updated_at=later_than(runner.updated_at)
                )
                tx.put(runner)
                # Its load once settled: none of its sessions is active any more.
                tx.emit(ev.RUNNER_UPDATED, with_load(runner, 0), ev.NO_PROJECT)
                await self._settle(tx, runner, now, fail_running=True)
                lost.append(runner)
        for runner in lost:
            log.warning(
                "runner %s (%s on %s) lost: no heartbeat for %g s",
                runner.id,
                runner.name,
                runner.host,
                lease_seconds(runner),
            )
        return lost

    async def expire_forever(self, every: float = SWEEP_SECONDS) -> None:
        """The lease sweep: ``expire_due`` every ``every`` seconds until cancelled.
        A tick that fails (a store out of reach) is logged; the next one tries again.

        It starts one lease after the server did: runners that could not reach a
        server while it was down get a full lease to heartbeat again, so a restart
        of the server loses none of them."""
        await asyncio.sleep(self.timeout)
        while True:
            try:
                await self.expire_due()
            except Exception as error:
                log.warning("runner lease sweep postponed: %s", error)
            await asyncio.sleep(every)
