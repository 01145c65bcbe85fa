"""A test client for Maestro's event stream: real frames over a real socket.

``EventStream.sync()`` is the barrier the tests rely on to know an action's
events are complete: the server answers a ping through the same per-client
queue as the events, and every event of a finished HTTP request was queued
before the request answered, so everything before the pong is everything
the client is owed so far — nothing more can be on its way.
"""

from __future__ import annotations

import json
import socket
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import Any

from websockets.sync.client import ClientConnection, connect

Message = dict[str, Any]


class EventStream:
    """One WebSocket connection to ``/ws``, read on demand with timeouts."""

    def __init__(self, url: str, *, timeout: float = 5.0, **options: Any) -> None:
        self.timeout = timeout
        # max_queue=None: the client library keeps reading the socket whatever
        # the test does, so this client is never the slow one.
        options.setdefault("max_queue", None)
        self._open = ExitStack()
        self.connection: ClientConnection = self._open.enter_context(
            connect(url, open_timeout=timeout, **options)
        )

    def receive(self, timeout: float | None = None) -> Message:
        """The next message; raises ``TimeoutError`` if none comes in time."""
        frame = self.connection.recv(timeout=self.timeout if timeout is None else timeout)
        assert isinstance(frame, str), f"expected a text frame, got {type(frame).__name__}"
        message: Message = json.loads(frame)
        return message

    def ping(self) -> None:
        self.connection.send(json.dumps({"type": "ping"}))

    def sync(self) -> list[Message]:
        """Every message owed so far (the pong that ends them is dropped)."""
        self.ping()
        messages: list[Message] = []
        while True:
            message = self.receive()
            if message.get("type") == "pong":
                return messages
            messages.append(message)

    def close(self) -> None:
        self._open.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def names(messages: list[Message]) -> list[str]:
    return [m["event"] for m in messages]


def seqs(messages: list[Message]) -> list[int]:
    return [m["seq"] for m in messages]


def stalled_connection(
    url: str, port: int, timeout: float = 5.0
) -> AbstractContextManager[ClientConnection]:
    """A connection that stops reading after two frames, with a tiny receive buffer.

    The library pauses reading its socket once two frames wait unread, and the
    small ``SO_RCVBUF`` makes the kernel stop accepting data soon after, so the
    server's writes back up as they would for a stuck browser tab.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    # No keepalive pings: only the server may end this connection. A short
    # close_timeout: closing it unread must not wait for a reply it cannot read.
    return connect(
        url, sock=sock, open_timeout=timeout, max_queue=1, ping_interval=None, close_timeout=1
    )


def events_after(ws_url: str, seq: int) -> list[Message]:
    """Every stored event after ``seq``, as a client reconnecting with ``?since=``
    gets them (the ping/pong barrier, not a quiet spell, says the replay is over)."""
    with EventStream(f"{ws_url}?since={seq}", timeout=10) as stream:
        return stream.sync()
