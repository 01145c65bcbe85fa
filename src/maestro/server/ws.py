"""The event hub: every committed event, in ``seq`` order, to every WebSocket client.

Publishing never waits for a client. A client is served in one of two ways:

- queued: frames go through a bounded queue to a sender task that writes them
  with the ASGI ``send``. A client starts this way (its replay goes first);
- direct: once its queue has drained, and where the server is uvicorn without
  compression, the hub writes each event's frame bytes straight to the client's
  transport. Server frames are unmasked, so the bytes are built once per event and
  shared by every client: fan-out to 1,000 clients costs 1,000 buffer appends, not
  1,000 task switches and frame encodings.

A client that falls too far behind (a full queue, or too many unsent bytes in its
transport) is dropped and closed with 1013, so one slow reader can neither slow
the others nor grow the server's memory. The hub keeps the last events so a
client reconnecting with ``?since=N`` misses nothing; registration and replay
happen in one step with no await, so no event can fall between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from itertools import islice
from typing import cast

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from maestro.domain.clock import now_ms
from maestro.domain.errors import MaestroError, TooManyClients, ValidationFailed
from maestro.domain.events import StoredEvent
from maestro.domain.ids import is_valid_id
from maestro.server.errors import error_response
from maestro.server.security import denial_supported

log = logging.getLogger("maestro.ws")

TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008
CLOSE_GRACE_SECONDS = 5.0
_PONG = '{"type":"pong"}'
_CLOSE = object()  # queue marker: the hub dropped this client


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

    __slots__ = ("backlog", "direct", "dropped", "project_id", "queue", "transport")

    def __init__(
        self,
        project_id: str | None,
        limit: int,
        backlog: list[str],
        transport: asyncio.WriteTransport | None = None,
    ) -> None:
        self.project_id = project_id
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

    def drop(self, subscriber: Subscriber) -> None:
        """Forget a client that fell too far behind and free what it had queued;
        it is closed with 1013 and can catch up by reconnecting with ``?since=``."""
        self.subscribers.discard(subscriber)
        self.dropped += 1
        subscriber.direct = False
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(_CLOSE)
        subscriber.dropped.set()

    def subscribe(
        self,
        since: int | None,
        project_id: str | None,
        transport: asyncio.WriteTransport | None = None,
        store_id: str | None = None,
    ) -> Subscriber:
        """``store_id``: the stream the client's ``since`` counts in; another
        stream's numbers say nothing about what the client has missed."""
        backlog: list[str] = []
        if store_id is not None and store_id != self.store_id:
            backlog = [self._resync_frame()]
        elif since is not None:
            backlog = self._replay(since, project_id)
        subscriber = Subscriber(project_id, self.queue_limit, backlog, transport)
        self.subscribers.add(subscriber)
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
        self.subscribers.discard(subscriber)

    def pong(self, subscriber: Subscriber) -> None:
        self._offer(subscriber, _PONG)

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


SERVER_SEND = "maestro.server_send"


class KeepServerSend:
    """Outermost middleware: remember the server's own ``send`` of a WebSocket
    connection, before any middleware wraps it, for ``_abort_connection``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SERVER_SEND] = send
        await self.app(scope, receive, send)


async def _drained(sender: asyncio.Task[None], subscriber: Subscriber) -> bool:
    """Whether a dropped client took its close frame within the grace period: the
    sender has written the 1013 close and the transport has flushed everything."""
    deadline = asyncio.get_running_loop().time() + CLOSE_GRACE_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        transport = subscriber.transport
        flushed = transport is None or transport.get_write_buffer_size() == 0
        if sender.done() and flushed:
            return True
        await asyncio.sleep(0.05)
    return False


def _raw_transport(websocket: WebSocket) -> asyncio.WriteTransport | None:
    """The connection's transport, when frames may be written to it directly: the
    server is uvicorn's websockets protocol and no extension (compression) was
    negotiated, so a frame on the wire is exactly ``text_frame(payload)``."""
    protocol = getattr(websocket.scope.get(SERVER_SEND), "__self__", None)
    connection = getattr(protocol, "conn", None)
    transport = getattr(protocol, "transport", None)
    # Duck-typed: uvloop's transports do not subclass asyncio's.
    needed = ("write", "get_write_buffer_size", "is_closing")
    if getattr(connection, "extensions", None) != [] or not all(
        callable(getattr(transport, name, None)) for name in needed
    ):
        return None
    return cast(asyncio.WriteTransport, transport)


def _abort_connection(websocket: WebSocket) -> None:
    """Drop the TCP connection of a peer whose socket buffer stays full.

    ASGI offers no abort, and a graceful close waits for the buffer to drain,
    which for a peer that never reads is forever. uvicorn's protocol object is
    reachable through the ``send`` it handed the app (kept by ``KeepServerSend``);
    if that ever changes we fall back to leaving the (already unsubscribed,
    bounded) connection alone.
    """
    protocol = getattr(websocket.scope.get(SERVER_SEND), "__self__", None)
    transport = getattr(protocol, "transport", None)
    abort = getattr(transport, "abort", None)
    if callable(abort):
        abort()
    else:
        log.warning("could not abort a stalled WebSocket connection")


async def _refuse(websocket: WebSocket, error: MaestroError) -> None:
    """Refuse the handshake with our error body where the server allows it."""
    if denial_supported(websocket.scope):
        await websocket.send_denial_response(error_response(error))
    else:
        await websocket.close(POLICY_VIOLATION)


def _parse_since(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise ValueError("since must be a non-negative integer")
    return int(raw)


async def _send_all(websocket: WebSocket, hub: EventHub, subscriber: Subscriber) -> None:
    for frame in subscriber.backlog:
        await websocket.send_text(frame)
    subscriber.backlog = []
    while True:
        hub.go_direct_if_caught_up(subscriber)
        item = await subscriber.queue.get()
        if item is _CLOSE:
            await websocket.close(TRY_AGAIN_LATER, "client too slow; reconnect with ?since=")
            return
        assert isinstance(item, str)
        await websocket.send_text(item)


async def _read_all(websocket: WebSocket, hub: EventHub, subscriber: Subscriber) -> None:
    """The only thing clients may say is ``{"type":"ping"}``; the rest is ignored."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            continue
        try:
            decoded = msgspec.json.decode(text)
        except msgspec.DecodeError:
            continue
        if isinstance(decoded, dict) and decoded.get("type") == "ping":
            hub.pong(subscriber)


async def websocket_endpoint(websocket: WebSocket) -> None:
    hub: EventHub = websocket.app.state.hub
    project_id = websocket.query_params.get("projectId") or None
    try:
        since = _parse_since(websocket.query_params.get("since"))
    except ValueError as error:
        await _refuse(websocket, ValidationFailed(str(error), field="since"))
        return
    if project_id is not None and not is_valid_id(project_id):
        await _refuse(websocket, ValidationFailed("projectId must be a valid id", "projectId"))
        return
    store_id = websocket.query_params.get("storeId") or None
    if store_id is not None and not is_valid_id(store_id):
        await _refuse(websocket, ValidationFailed("storeId must be a valid id", "storeId"))
        return
    if len(hub.subscribers) >= websocket.app.state.settings.ws_max_clients:
        await _refuse(websocket, TooManyClients("too many WebSocket clients; try again later"))
        return
    await websocket.accept()
    subscriber = hub.subscribe(since, project_id, _raw_transport(websocket), store_id)
    sender = asyncio.create_task(_send_all(websocket, hub, subscriber))
    reader = asyncio.create_task(_read_all(websocket, hub, subscriber))
    dropped = asyncio.create_task(subscriber.dropped.wait())
    try:
        await asyncio.wait({sender, reader, dropped}, return_when=asyncio.FIRST_COMPLETED)
        if dropped.done() and not await _drained(sender, subscriber):
            # A peer that never reads never frees its socket, so the close frame
            # cannot reach it: cut the connection instead.
            _abort_connection(websocket)
    finally:
        dropped.cancel()
        hub.unsubscribe(subscriber)
        for task in (sender, reader):
            task.cancel()
        for task in (sender, reader):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task
        if websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()
