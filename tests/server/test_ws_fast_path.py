"""The WebSocket fast path on the uvicorn this project pins: an uncompressed
connection is written to directly by the hub; a compressed one (which the fast
path cannot frame) is served through ASGI ``send``, and gets every event too.

A real uvicorn, in a thread of this process, on a loopback port: the hub's
subscribers can then be looked at as they are."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from websockets.sync.client import ClientConnection, connect

from maestro.config import Settings
from maestro.server import create_app
from maestro.server.hub import EventHub
from tests.conftest import free_port


class InProcessServer:
    def __init__(self, app: Starlette, compression: bool) -> None:
        self.app = app
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            log_level="warning",
            ws_per_message_deflate=compression,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def hub(self) -> EventHub:
        hub: EventHub = self.app.state.hub
        return hub

    def __enter__(self) -> InProcessServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(params=[False, True], ids=["uncompressed", "compressed"])
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InProcessServer]:
    settings = Settings.load(env={}, data_dir=tmp_path / "data", skills_dir=tmp_path / "skills")
    with InProcessServer(create_app(settings), compression=request.param) as server:
        yield server


def receive_until_pong(connection: ClientConnection) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    connection.send('{"type":"ping"}')
    while True:
        message = json.loads(connection.recv(timeout=10))
        if message.get("type") == "pong":
            return messages
        messages.append(message)


def test_direct_writes_engage_exactly_when_the_connection_is_uncompressed(
    running: InProcessServer,
) -> None:
    compressed = running.server.config.ws_per_message_deflate
    base = f"http://127.0.0.1:{running.port}"
    with connect(f"ws://127.0.0.1:{running.port}/ws") as stream:
        receive_until_pong(stream)
        (subscriber,) = running.hub.subscribers
        # After the pong the sender has nothing queued: a client it can write
        # to directly has been switched over.
        deadline = time.monotonic() + 5
        while not subscriber.direct and not compressed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert subscriber.direct is not compressed
        assert (subscriber.transport is None) is compressed
        with httpx.Client(base_url=base) as http:
            project = http.post("/api/projects", json={"name": "P"}).json()
            http.patch(f"/api/projects/{project['id']}", json={"name": "Q"}).raise_for_status()
        events = receive_until_pong(stream)
    assert [e["event"] for e in events] == ["project:created", "project:updated"]
    assert events[1]["data"]["name"] == "Q"
