"""Talking to an ASGI application in-process, without a server or a socket."""

from __future__ import annotations

import asyncio
import json as jsonlib
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message

HOST = (b"host", b"127.0.0.1:3000")


def http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [HOST, *headers],
        "server": ("127.0.0.1", 3000),
        "client": ("127.0.0.1", 5555),
    }


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name.lower().encode()]
        return values[0].decode() if values else None

    def json(self) -> Any:
        return jsonlib.loads(self.body)


async def request(app: ASGIApp, method: str, path: str, json: Any = None) -> Answer:
    """One HTTP request; ``json``, if given, is sent as the body."""
    body = b"" if json is None else jsonlib.dumps(json).encode()
    headers = [(b"content-type", b"application/json")] if json is not None else []
    headers.append((b"content-length", str(len(body)).encode()))
    sent: list[Message] = []
    received = False

    async def receive() -> Message:
        nonlocal received
        if received:  # the client stays connected until the answer is complete
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(http_scope(method, path, headers), receive, send)
    start, rest = sent[0], sent[1:]
    return Answer(start["status"], start["headers"], b"".join(m.get("body", b"") for m in rest))


async def ping_over_websocket(app: ASGIApp, path: str) -> Any:
    """Connect, send a ping, and return the first message the server sends back."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    inbox.put_nowait({"type": "websocket.receive", "text": '{"type":"ping"}'})

    async def send(message: Message) -> None:
        await outbox.put(message)

    scope = {**http_scope("GET", path, []), "type": "websocket", "subprotocols": []}
    del scope["method"]

    async def run() -> None:
        await app(scope, inbox.get, send)

    session = asyncio.create_task(run())
    accepted = await asyncio.wait_for(outbox.get(), 5)
    assert accepted["type"] == "websocket.accept", accepted
    reply = await asyncio.wait_for(outbox.get(), 5)
    inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(session, 5)
    return jsonlib.loads(reply["text"])
