"""The event hub: every committed event, in ``seq`` order, to every subscriber.

Publishing never waits for a client. A client is served in one of two ways:

- queued: frames go through a bounded queue to the client's sender (in
  ``server.ws``), which writes them with the ASGI ``send``. A client starts this
  way (its replay goes first);
- direct: once its queue has drained and its socket has room, and where the
  server offers a ``DirectTransport`` for the connection (``server.uvicorn_ws``),
  the hub writes each event's frame bytes straight to it. Server frames are
  unmasked, so the bytes are built once per event and shared by every client:
  fan-out to 1,000 clients costs 1,000 buffer appends, not 1,000 task switches
  and frame encodings.

A client that falls too far behind (a full queue, or too many unsent bytes in its
transport) is dropped: its sender closes it with 1013, so one slow reader can
neither slow the others nor grow the server's memory. The hub keeps the last
events so a client reconnecting with ``?since=N`` misses nothing; registration
and replay happen in one step with no await, so no event can fall between them.

A client may also watch one session (``?sessionId=``): it then gets that
session's activity frames (``publish_activity``) among its events, by the same
two ways. They are outside the global order, and a client behind takes only what
half its room allows: past that, activity frames are skipped for it (the entries
stay readable over REST), so a flood of activity can neither drop a client nor
fill its queue.

Nothing here knows about ASGI or a server: ``tests/server/test_ws_hub.py`` drives
it with a fake transport.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from itertools import islice
from typing import Protocol

import msgspec

from maestro.domain.clock import now_ms
from maestro.domain.events import StoredEvent

log = logging.getLogger("maestro.ws")

PONG = '{"type":"pong"}'
CLOSE = object()  # queue marker: the hub dropped this client


class DirectTransport(Protocol):
    """What the hub needs of a connection to write frames to it directly (the
    part of ``asyncio.WriteTransport`` it uses; uvloop's transports have it too)."""

    def write(self, data: bytes) -> None: ...

    def get_write_buffer_size(self) -> int: ...

    def is_closing(self) -> bool: ...


def text_frame(payload: str) -> bytes:
    """An unmasked, uncompressed server-to-client text frame (RFC 6455, 5.2)."""
    data = payload.encode()
    size = len(data)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 65536:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + data


class Subscriber:
    """One connected client: its filter, its replay backlog, its bounded queue, and
    (once in direct mode) the transport the hub writes its frames to."""

    __slots__ = (
        "activity_skipped",
        "backlog",
        "direct",
        "dropped",
        "project_id",
        "queue",
        "session_id",
        "transport",
    )

    def __init__(
        self,
        project_id: str | None,
        limit: int,
        backlog: list[str],
        transport: DirectTransport | None = None,
        session_id: str | None = None,
    ) -> None:
        self.project_id = project_id
        self.session_id = session_id
        self.activity_skipped = 0
        self.backlog = backlog
        # One slot more than the limit, kept for the close marker.
        self.queue: asyncio.Queue[object] = asyncio.Queue(limit + 1)
        self.dropped = asyncio.Event()
        self.transport = transport
        self.direct = False

    def wants(self, event: StoredEvent) -> bool:
        return self.project_id is None or event.project_id == self.project_id


class EventHub:
    def __init__(self, retained: int, queue_limit: int, debug: bool = False) -> None:
        self.recent: deque[StoredEvent] = deque(maxlen=retained)
        self.queue_limit = queue_limit
        # Direct mode's counterpart of the queue limit: unsent bytes in the transport.
        self.buffer_limit = queue_limit * 1024
        self.subscribers: set[Subscriber] = set()
        # Clients by the session whose activity they watch.
        self.watchers: dict[str, set[Subscriber]] = {}
        self.debug = debug
        self.dropped = 0
        self.last_seq = 0
        self.store_id = ""

    def load(self, events: Sequence[StoredEvent], store_id: str) -> None:
        """Start from the store's retained tail (events from before a restart)
        and the id of the stream they belong to."""
        self.store_id = store_id
        self.recent.extend(events)
        if events:
            self.last_seq = events[-1].seq

    def publish(self, events: Sequence[StoredEvent]) -> None:
        """Called by the store after each commit, with that commit's events in order."""
        for event in events:
            self.recent.append(event)
            self.last_seq = event.seq
            if self.debug:
                # Type and seq only: frames carry session env values, never logged.
                kind = event.frame[9 : event.frame.find('"', 9)]
                log.debug(
                    "broadcast seq=%d %s to %d clients", event.seq, kind, len(self.subscribers)
                )
            wire: bytes | None = None
            for subscriber in list(self.subscribers):
                if not subscriber.wants(event):
                    continue
                if subscriber.direct:
                    wire = wire or text_frame(event.frame)
                    self._write(subscriber, wire)
                else:
                    self._offer(subscriber, event.frame)

    def _offer(self, subscriber: Subscriber, frame: str) -> None:
        if subscriber.direct:
            self._write(subscriber, text_frame(frame))
        elif subscriber.queue.qsize() >= self.queue_limit:
            self.drop(subscriber)
        else:
            subscriber.queue.put_nowait(frame)

    def _write(self, subscriber: Subscriber, wire: bytes) -> None:
        transport = subscriber.transport
        assert transport is not None
        if transport.is_closing():
            return  # gone; its endpoint notices and unsubscribes it
        if transport.get_write_buffer_size() > self.buffer_limit:
            self.drop(subscriber)
        else:
            transport.write(wire)

    def watching(self, session_id: str) -> bool:
        """Whether any client watches the session's activity (else a frame for it
        need not even be encoded)."""
        return session_id in self.watchers

    def publish_activity(self, session_id: str, frame: str) -> None:
        """Send a ``session:activity`` frame to the clients watching the session.

        It has no ``seq`` and is not retained. A client that is behind (more than
        half its queue, or half its direct-mode bytes, still waiting) skips it
        rather than being dropped for it.
        """
        watchers = self.watchers.get(session_id)
        if not watchers:
            return
        wire: bytes | None = None
        for subscriber in list(watchers):
            if subscriber.direct:
                transport = subscriber.transport
                assert transport is not None
                if transport.is_closing():
                    continue
                if transport.get_write_buffer_size() > self.buffer_limit // 2:
                    subscriber.activity_skipped += 1
                    continue
                wire = wire or text_frame(frame)
                transport.write(wire)
            elif subscriber.queue.qsize() >= self.queue_limit // 2:
                subscriber.activity_skipped += 1
            else:
                subscriber.queue.put_nowait(frame)

    def _forget(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        if subscriber.session_id is None:
            return
        watchers = self.watchers.get(subscriber.session_id)
        if watchers is not None:
            watchers.discard(subscriber)
            if not watchers:
                del self.watchers[subscriber.session_id]

    def drop(self, subscriber: Subscriber) -> None:
        """Forget a client that fell too far behind and free what it had queued;
        it is closed with 1013 and can catch up by reconnecting with ``?since=``."""
        self._forget(subscriber)
        self.dropped += 1
        subscriber.direct = False
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(CLOSE)
        subscriber.dropped.set()

    def subscribe(
        self,
        since: int | None,
        project_id: str | None,
        transport: DirectTransport | None = None,
        store_id: str | None = None,
        session_id: str | None = None,
    ) -> Subscriber:
        """``store_id``: the stream the client's ``since`` counts in; another
        stream's numbers say nothing about what the client has missed.
        ``session_id``: the session whose activity frames the client also gets."""
        backlog: list[str] = []
        if store_id is not None and store_id != self.store_id:
            backlog = [self._resync_frame()]
        elif since is not None:
            backlog = self._replay(since, project_id)
        subscriber = Subscriber(project_id, self.queue_limit, backlog, transport, session_id)
        self.subscribers.add(subscriber)
        if session_id is not None:
            self.watchers.setdefault(session_id, set()).add(subscriber)
        return subscriber

    def _replay(self, since: int, project_id: str | None) -> list[str]:
        latest = self.last_seq
        if since == latest:
            return []
        if since > latest or since < self._oldest_seq() - 1:
            return [self._resync_frame()]
        start = since - self._oldest_seq() + 1
        return [
            e.frame
            for e in islice(self.recent, start, None)
            if project_id is None or e.project_id == project_id
        ]

    def _oldest_seq(self) -> int:
        return self.recent[0].seq if self.recent else self.last_seq + 1

    def _resync_frame(self) -> str:
        return msgspec.json.encode(
            {
                "type": "resync_required",
                "event": "resync_required",
                "data": {
                    "oldestSeq": self._oldest_seq(),
                    "latestSeq": self.last_seq,
                    "storeId": self.store_id,
                },
                "timestamp": now_ms(),
            }
        ).decode()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._forget(subscriber)

    def pong(self, subscriber: Subscriber) -> None:
        self._offer(subscriber, PONG)

    def go_direct_if_caught_up(self, subscriber: Subscriber) -> None:
        """Switch a queued client to direct writes once nothing of it waits: its
        queue is empty and its transport holds no more than direct mode allows.

        Both count: ``send`` may return with a replay's last frames still in the
        transport's buffer, and a direct write on top of them would find the
        client over the limit and drop it for bytes it had no time to read.
        """
        transport = subscriber.transport
        subscriber.direct = (
            transport is not None
            and subscriber.queue.empty()
            and not subscriber.dropped.is_set()
            and transport.get_write_buffer_size() <= self.buffer_limit
        )
