"""uvicorn's side of the WebSocket fast path: the connection's transport, for the
hub's direct writes (``server.hub``), and an abort for a peer that never reads.

ASGI offers neither; both reach uvicorn's protocol object through the ``send``
it hands the app (kept by ``KeepServerSend`` before any middleware wraps it).
Every step is checked, so a server that is not uvicorn, or a uvicorn that
changed, gets ``None`` and the ASGI path, which always works; pyproject pins the
uvicorn range this was written against, and ``tests/server/test_ws_fast_path.py``
shows the fast path engaging on it.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from maestro.server.hub import DirectTransport

log = logging.getLogger("maestro.ws")

SERVER_SEND = "maestro.server_send"


class KeepServerSend:
    """Outermost middleware: remember the server's own ``send`` of a WebSocket
    connection, before any middleware wraps it, for ``direct_transport`` and
    ``abort_connection``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SERVER_SEND] = send
        await self.app(scope, receive, send)


def direct_transport(websocket: WebSocket) -> DirectTransport | None:
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
    return transport


def abort_connection(websocket: WebSocket) -> None:
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
