"""Events across PostgreSQL instances: every instance hands every event to its
subscribers in ``seq`` order, exactly once, whichever instance wrote it.

After a local commit the store delivers up to its own last event before the
request returns (``deliver_through``, fetching first any earlier event another
instance committed), and a dedicated ``LISTEN`` connection wakes the instance
for the others' commits. That connection is re-opened if it drops, and every few
seconds (and after each reconnect) the instance catches up from the table, so a
lost notification delays an event but never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any, TypeAlias

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from maestro.domain.events import StoredEvent
from maestro.store.base import EventListener

log = logging.getLogger("maestro.store")

Connection: TypeAlias = psycopg.AsyncConnection[tuple[Any, ...]]

# How often an instance checks the table for events it was not told about.
CATCH_UP_SECONDS = 5.0
_FETCH_BATCH = 1000


class EventFanOut:
    """One instance's delivery of the event stream, and its retained tail."""

    def __init__(self, url: str, retain: int) -> None:
        self.url = url
        self.listeners: list[EventListener] = []
        self.last_delivered = 0
        self._recent: deque[StoredEvent] = deque(maxlen=retain)
        # Deliveries never interleave, so subscribers see each event once, in order.
        self._delivery = asyncio.Lock()
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._channel = ""
        self._name = ""
        self._listener_task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def reset(self, tail: Sequence[StoredEvent]) -> None:
        """Start from ``tail`` (the stream's last events, oldest first)."""
        self._recent.clear()
        self._recent.extend(tail)
        self.last_delivered = tail[-1].seq if tail else 0

    def recent_events(self) -> list[StoredEvent]:
        return list(self._recent)

    async def start(self, pool: AsyncConnectionPool[Connection], channel: str, name: str) -> None:
        """Listen on ``channel`` (``name`` labels the connection); returns once the
        listener is in place. Raises ``TimeoutError`` if it cannot be."""
        self._pool, self._channel, self._name = pool, channel, name[:63]
        self._listener_task = asyncio.create_task(self._listen(), name="maestro-listener")
        await asyncio.wait_for(self._listening.wait(), timeout=10)

    async def stop(self) -> None:
        if self._listener_task is not None:
            self._listener_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener_task
            self._listener_task = None

    @property
    def pool(self) -> AsyncConnectionPool[Connection]:
        if self._pool is None:
            raise RuntimeError("EventFanOut.start() must run first")
        return self._pool

    async def deliver_through(self, target: int, own: Sequence[StoredEvent] = ()) -> None:
        """Give the subscribers every event up to ``target``, in order, each once.

        ``own`` are events this instance just committed (known without a query);
        any event before them not yet delivered is read from the table first.
        """
        if target <= self.last_delivered:
            return
        async with self._delivery:
            try:
                first_own = own[0].seq if own else target + 1
                if self.last_delivered < first_own - 1:
                    await self._deliver_from_table(first_own - 1)
                fresh = [e for e in own if e.seq > self.last_delivered]
                if fresh and fresh[0].seq == self.last_delivered + 1:
                    self._publish(fresh)
                if self.last_delivered < target:
                    await self._deliver_from_table(target)
            except psycopg.Error as error:
                # Committed already: the next catch-up delivers what is missing.
                log.warning("event delivery postponed: %s", error)

    async def _deliver_from_table(self, through: int) -> None:
        while self.last_delivered < through:
            async with self.pool.connection() as conn:
                cursor = await conn.execute(
                    "SELECT seq, project_id, frame FROM events WHERE seq > %s AND seq <= %s"
                    " ORDER BY seq LIMIT %s",
                    (self.last_delivered, through, _FETCH_BATCH),
                )
                rows = await cursor.fetchall()
            if not rows:
                return
            self._publish([StoredEvent(*row) for row in rows])

    def _publish(self, events: list[StoredEvent]) -> None:
        if events[0].seq != self.last_delivered + 1:
            log.warning(
                "events %d to %d were pruned before this instance delivered them",
                self.last_delivered + 1,
                events[0].seq - 1,
            )
        self._recent.extend(events)
        self.last_delivered = events[-1].seq
        for listener in self.listeners:
            listener(events)

    async def _catch_up(self) -> None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute("SELECT coalesce(max(seq), 0) FROM events")).fetchone()
        await self.deliver_through(int(row[0]) if row else 0)

    async def _listen(self) -> None:
        """Deliver other instances' events as their notifications arrive, forever."""
        delay = 0.1
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=10, application_name=self._name
                )
                async with conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    self._listening.set()
                    delay = 0.1
                    await self._catch_up()
                    while True:
                        async for notice in conn.notifies(timeout=CATCH_UP_SECONDS):
                            await self.deliver_through(int(notice.payload))
                        await conn.execute("SELECT 1")  # is this connection still alive?
                        await self._catch_up()
            except Exception as error:  # whatever it was, keep delivering events
                log.warning("event listener: %s; reconnecting in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
