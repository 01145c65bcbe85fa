"""``maestro runner list`` against a real server (the runner itself, following a
server and opening terminals, is tested in ``tests/agents`` and ``tests/e2e``)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.cli.conftest import Cli
from tests.helpers import created, make_project, make_task, ok, request_spawn

Register = Callable[..., dict[str, Any]]


@pytest.fixture
def register(api: httpx.Client) -> Iterator[Register]:
    """Register runners on the shared server; deleted at the end, so none is
    found lost (and announced) in the middle of a later test."""
    made: list[str] = []

    def make(**fields: Any) -> dict[str, Any]:
        body = {"name": f"box-{secrets.token_hex(3)}", "host": "cli-host", "capacity": 4}
        runner = created(api.post("/api/runners", json={**body, **fields}))
        made.append(runner["id"])
        return runner

    yield make
    for runner_id in made:
        api.delete(f"/api/runners/{runner_id}")


def test_runner_list_shows_each_runner_with_its_load_and_labels(
    cli: Cli, api: httpx.Client, register: Register
) -> None:
    runner = register(labels=["gpu", "os=linux"])
    project = make_project(api)
    session_id = request_spawn(api, project["id"], [make_task(api, project["id"])["id"]])
    ok(api.post(f"/api/sessions/{session_id}/claim", json={"runnerId": runner["id"]}))

    result = cli("runner", "list")

    assert result.code == 0, result.stderr
    [row] = [line for line in result.stdout.splitlines() if runner["id"] in line]
    for shown in (runner["name"], "cli-host", "active", "1/4", "gpu, os=linux"):
        assert shown in row


def test_runner_list_json_is_what_the_api_serves_and_filters_by_status(
    cli: Cli, register: Register
) -> None:
    runner = register()

    listed = cli("runner", "list", "--json").data
    lost = cli("runner", "list", "--status", "lost", "--json").data

    assert [r for r in listed if r["id"] == runner["id"]] == [runner]
    assert runner["id"] not in [r["id"] for r in lost]
    bad = cli("runner", "list", "--status", "gone", "--json")
    assert bad.code == 1 and bad.json["error"] == "VALIDATION_ERROR"
