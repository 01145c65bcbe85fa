"""``/ws``: the event stream's endpoint. A client's handshake is checked, it is
subscribed to the hub (``server.hub``), with the session whose activity it
watches (``?sessionId=``) if it names one, and served by two tasks: a sender that
writes its replay and queued frames with the ASGI ``send``, and a reader for its
pings. A dropped client gets a 1013 close; one that never reads is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from maestro.domain.errors import MaestroError, TooManyClients, ValidationFailed
from maestro.domain.ids import is_valid_id
from maestro.server.errors import error_response
from maestro.server.hub import CLOSE, EventHub, Subscriber
from maestro.server.security import denial_supported
from maestro.server.uvicorn_ws import abort_connection, direct_transport

TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008
CLOSE_GRACE_SECONDS = 5.0


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


async def send_frames(websocket: WebSocket, hub: EventHub, subscriber: Subscriber) -> None:
    """A client's sender: its replay, then its queued frames, until the hub drops
    it (then the 1013 close); between frames it lets the hub go direct."""
    for frame in subscriber.backlog:
        await websocket.send_text(frame)
    subscriber.backlog = []
    while True:
        hub.go_direct_if_caught_up(subscriber)
        item = await subscriber.queue.get()
        if item is CLOSE:
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
    session_id = websocket.query_params.get("sessionId") or None
    if session_id is not None and not is_valid_id(session_id):
        await _refuse(websocket, ValidationFailed("sessionId must be a valid id", "sessionId"))
        return
    if len(hub.subscribers) >= websocket.app.state.settings.ws_max_clients:
        await _refuse(websocket, TooManyClients("too many WebSocket clients; try again later"))
        return
    await websocket.accept()
    subscriber = hub.subscribe(
        since, project_id, direct_transport(websocket), store_id, session_id=session_id
    )
    sender = asyncio.create_task(send_frames(websocket, hub, subscriber))
    reader = asyncio.create_task(_read_all(websocket, hub, subscriber))
    dropped = asyncio.create_task(subscriber.dropped.wait())
    try:
        await asyncio.wait({sender, reader, dropped}, return_when=asyncio.FIRST_COMPLETED)
        if dropped.done() and not await _drained(sender, subscriber):
            # A peer that never reads never frees its socket, so the close frame
            # cannot reach it: cut the connection instead.
            abort_connection(websocket)
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
