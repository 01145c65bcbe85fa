"""Runners on PostgreSQL: the store itself (the migration's index, a move between
the stores), and two ``maestro serve`` instances on one database: claims racing
through both have one winner each, a lease running out is settled once across
both sweeps, and three real runners (two following one instance, one the other)
open each of thirty spawns exactly once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from maestro.domain.models import Runner
from maestro.store.base import RunnerQuery
from maestro.store.jsonfs import JsonFileStore
from maestro.store.postgres import PostgresStore
from maestro.store.transfer import read_store
from tests.conftest import RunningServer, TestDatabase
from tests.e2e.conftest import RunnerProcess, start_runner
from tests.e2e.test_runners import SPAWNS, Watch, assert_opened_once_and_spread, spawn_many
from tests.e2e.test_runners import start_fleet as start_runners
from tests.e2e.wsclient import EventStream
from tests.helpers import make_project, make_task, ok, request_spawn, wait_until
from tests.postgres.test_instances import marker, read_until
from tests.server.in_process import InProcessApi

__all__ = ["start_runner"]  # a fixture, used below

Instances = Callable[..., list[RunningServer]]


def register(http: Any, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "host": "pg-host", "capacity": 4, **fields}
    runner: dict[str, Any] = ok(http.post("/api/runners", json=body), 201)
    return runner


def spawn(http: Any, project_id: str) -> str:
    task = make_task(http, project_id)
    return request_spawn(http, project_id, [task["id"]])


# -- the store, in process ---------------------------------------------------------------


@pytest.fixture
def on_postgres(tmp_path: Path, store_url: str) -> Iterator[InProcessApi]:
    api = InProcessApi(tmp_path / "unused", database_url=store_url)
    yield api
    api.close()


def test_runners_claims_and_loads_on_postgres(on_postgres: InProcessApi) -> None:
    api = on_postgres
    first, second = register(api, "a", labels=["gpu"]), register(api, "b")
    project = ok(api.post("/api/projects", json={"name": "P"}), 201)
    claimed = spawn(api, project["id"])
    ok(api.post(f"/api/sessions/{claimed}/claim", json={"runnerId": first["id"]}))
    refused = api.post(f"/api/sessions/{claimed}/claim", json={"runnerId": second["id"]})
    assert refused.status_code == 409 and refused.json()["code"] == "ALREADY_CLAIMED"

    assert [(r["name"], r["load"]) for r in ok(api.get("/api/runners"))] == [("a", 1), ("b", 0)]
    held = ok(api.get("/api/sessions", params={"runnerId": first["id"]}))
    assert [s["id"] for s in held] == [claimed]
    assert register(api, "a", id=first["id"])["id"] == first["id"]
    ok(api.delete(f"/api/runners/{first['id']}"))
    assert "runnerId" not in ok(api.get(f"/api/sessions/{claimed}"))["metadata"]


def test_the_lease_sweep_reads_a_partial_index_of_the_active_runners(
    test_database: TestDatabase, store_url: str, on_postgres: InProcessApi
) -> None:
    schema = store_url.rsplit("%3D", 1)[-1]
    rows = test_database.connection.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'runners'",
        (schema,),
    ).fetchall()
    assert any("(expires_at) WHERE (status = 'active'" in row[0] for row in rows), rows


def test_runners_move_between_the_stores_as_they_are(tmp_path: Path, store_url: str) -> None:
    json_api = InProcessApi(tmp_path / "json")
    register(json_api, "a", labels=["gpu"])
    register(json_api, "b")
    listed = ok(json_api.get("/api/runners"))
    json_api.close()

    async def move() -> list[Runner]:
        source = JsonFileStore(tmp_path / "json")
        await source.open()
        snapshot = await read_store(source)
        await source.close()
        target = PostgresStore(store_url)
        await target.open()
        try:
            await target.restore(snapshot.entities(), snapshot.events, snapshot.store_id)
            return await target.find_runners(RunnerQuery())
        finally:
            await target.close()

    assert [r.id for r in asyncio.run(move())] == [r["id"] for r in listed]
    on_pg = InProcessApi(tmp_path / "unused", database_url=store_url)
    try:
        assert ok(on_pg.get("/api/runners")) == listed
    finally:
        on_pg.close()


# -- two instances -----------------------------------------------------------------------


def test_claims_racing_through_two_instances_have_one_winner(instances: Instances) -> None:
    a, b = instances(2)
    count, per_session = 10, 6
    with (
        httpx.Client(base_url=a.url, timeout=30) as on_a,
        httpx.Client(base_url=b.url, timeout=30) as on_b,
        EventStream(b.ws_url) as events,
    ):
        runners = [register((on_a, on_b)[n % 2], f"racer-{n}") for n in range(per_session)]
        project = make_project(on_a)
        sessions = [spawn((on_a, on_b)[n % 2], project["id"]) for n in range(count)]
        barrier = threading.Barrier(per_session)

        def claim(session_id: str, n: int) -> tuple[int, str]:
            client = httpx.Client(base_url=(a, b)[n % 2].url, timeout=30)
            with client:
                barrier.wait()
                answer = client.post(
                    f"/api/sessions/{session_id}/claim", json={"runnerId": runners[n]["id"]}
                )
            return answer.status_code, runners[n]["id"]

        outcomes: dict[str, list[tuple[int, str]]] = {}
        with ThreadPoolExecutor(per_session) as pool:
            for session_id in sessions:
                futures = [pool.submit(claim, session_id, n) for n in range(per_session)]
                outcomes[session_id] = [f.result() for f in futures]
        seen = read_until(events, marker(on_a))
        stored = {s["id"]: s for s in ok(on_b.get("/api/sessions"))}
    claims: Counter[str] = Counter()
    for message in seen:
        data = message["data"]
        if message["event"] == "session:updated" and data["metadata"].get("runnerId"):
            claims[data["id"]] += 1
    for session_id, answers in outcomes.items():
        assert sorted(status for status, _ in answers) == [200] + [409] * (per_session - 1)
        [winner] = [runner_id for status, runner_id in answers if status == 200]
        assert stored[session_id]["metadata"]["runnerId"] == winner
    assert claims == dict.fromkeys(sessions, 1)


def test_a_lease_running_out_is_settled_once_across_two_instances(instances: Instances) -> None:
    a, b = instances(2, MAESTRO_RUNNER_TIMEOUT="1")
    with (
        httpx.Client(base_url=a.url, timeout=30) as on_a,
        httpx.Client(base_url=b.url, timeout=30) as on_b,
        EventStream(a.ws_url, timeout=15) as events,
    ):
        project = make_project(on_a)
        runners = [register((on_a, on_b)[n % 2], f"silent-{n}") for n in range(4)]
        held: dict[str, str] = {}
        for n, runner in enumerate(runners):
            session_id = spawn(on_b, project["id"])
            body = {"runnerId": runner["id"]}
            ok((on_a, on_b)[n % 2].post(f"/api/sessions/{session_id}/claim", json=body))
            held[session_id] = runner["id"]

        def everyone_lost() -> bool:
            return all(r["status"] == "lost" for r in ok(on_b.get("/api/runners")))

        wait_until(everyone_lost, 15, "the silent runners to be lost")
        # Both instances' sweeps had every chance to settle them twice: they did not.
        time.sleep(2)
        messages = read_until(events, marker(on_b))
    lost = Counter(
        m["data"]["id"]
        for m in messages
        if m["event"] == "runner:updated" and m["data"]["status"] == "lost"
    )
    assert lost == {r["id"]: 1 for r in runners}
    released = Counter(
        m["data"]["id"]
        for m in messages
        if m["event"] == "session:updated"
        and m["data"]["id"] in held
        and "runnerId" not in m["data"]["metadata"]
    )
    assert released == dict.fromkeys(held, 1)


def test_three_runners_on_two_instances_open_each_of_thirty_spawns_once(
    instances: Instances,
    start_runner: Callable[..., RunnerProcess],
    tmp_path: Path,
    workdir: Path,
) -> None:
    servers = instances(2)
    with (
        httpx.Client(base_url=servers[0].url, timeout=30) as on_a,
        httpx.Client(base_url=servers[1].url, timeout=30) as on_b,
    ):
        fleet = start_runners(start_runner, servers, tmp_path, 3)
        ids = spawn_many([on_a, on_b], workdir, SPAWNS)
        watch = Watch()

        sessions = watch.until_finished(on_b, ids, fleet, timeout=300)

        per_runner = assert_opened_once_and_spread(on_a, ids, fleet, sessions, watch)
    print(
        f"\n{SPAWNS} spawns through 2 instances opened once each by 3 runners: "
        f"{dict(per_runner)}; most held at once: {dict(watch.most)}"
    )
