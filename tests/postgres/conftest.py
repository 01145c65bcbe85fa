"""Fixtures of the PostgreSQL-only tests: stores in throw-away schemas of the test
database, and several ``maestro serve`` instances sharing one of them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, TestDatabase


@pytest.fixture
def store_url(test_database: TestDatabase) -> Iterator[str]:
    """A new, empty schema for this test (dropped afterwards)."""
    url = test_database.new_store_url()
    yield url
    test_database.drop(url)


@pytest.fixture
def instances(tmp_path: Path, store_url: str) -> Iterator[Callable[..., list[RunningServer]]]:
    """``instances(n)``: n servers on this test's schema, started at the same time."""
    started: list[RunningServer] = []

    def start(count: int = 2, **env: str) -> list[RunningServer]:
        servers = [
            RunningServer(
                tmp_path / f"unused{len(started) + i}",
                env={"MAESTRO_DATABASE_URL": store_url, **env},
            )
            for i in range(count)
        ]
        started.extend(servers)
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
        return servers

    yield start
    for server in started:
        with contextlib.suppress(Exception):
            server.stop()
