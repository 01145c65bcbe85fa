"""The whole application in this process: ``create_app`` on a temporary JSON
store, its lifespan entered, and an httpx client over ``ASGITransport``, on an
event loop of its own, so that tests call it like any synchronous client."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from maestro.config import Settings
from maestro.server import create_app
from maestro.server.hub import EventHub


class InProcessApi:
    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.app = create_app(
            Settings.load(env={}, data_dir=data_dir, skills_dir=data_dir / "skills", **settings)
        )
        self._runner = asyncio.Runner()
        self._lifespan = self.app.router.lifespan_context(self.app)
        self._runner.run(self._lifespan.__aenter__())
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://127.0.0.1:3000"
        )

    @property
    def hub(self) -> EventHub:
        hub: EventHub = self.app.state.hub
        return hub

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        return self._runner.run(self._client.request(method, path, **options))

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)

    def patch(self, path: str, **options: Any) -> httpx.Response:
        return self.request("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> httpx.Response:
        return self.request("DELETE", path, **options)

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.run(self._lifespan.__aexit__(None, None, None))
        self._runner.close()
