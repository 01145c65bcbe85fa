"""The PostgreSQL store itself: its schema migrations, what it keeps exactly, and
how it numbers, delivers and retains events. In process, on throw-away schemas."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest

from maestro.domain.events import StoredEvent
from maestro.domain.models import Project, Session
from maestro.store import postgres
from maestro.store.base import SessionQuery, StoreUnavailable
from maestro.store.migrations import SchemaError, available
from maestro.store.postgres import PostgresStore
from tests.conftest import RunningServer, TestDatabase

T = TypeVar("T")
Instances = Callable[..., list[RunningServer]]


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def applied_versions(database: TestDatabase, store_url: str) -> list[int]:
    schema = store_url.rsplit("%3D", 1)[-1]
    rows = database.connection.execute(
        f'SELECT version FROM "{schema}".maestro_schema_migrations ORDER BY version'
    ).fetchall()
    return [row[0] for row in rows]


async def opened(url: str, **options: Any) -> PostgresStore:
    store = PostgresStore(url, **options)
    await store.open()
    return store


async def open_and_close(url: str) -> None:
    await (await opened(url)).close()


def project(name: str, at: int = 1) -> Project:
    return Project(id=f"proj_{name}", name=name, created_at=at, updated_at=at)


# -- migrations ---------------------------------------------------------------------


def test_a_new_schema_gets_every_migration_applied_and_recorded(
    test_database: TestDatabase, store_url: str
) -> None:
    run(open_and_close(store_url))
    assert applied_versions(test_database, store_url) == [m.version for m in available()]


def test_opening_an_up_to_date_schema_again_changes_nothing(
    test_database: TestDatabase, store_url: str
) -> None:
    async def scenario() -> dict[str, int]:
        first = await opened(store_url)
        async with first.transaction() as tx:
            tx.put(project("kept"))
        await first.close()
        second = await opened(store_url)
        counts = await second.counts()
        await second.close()
        return counts

    assert run(scenario())["projects"] == 1
    assert applied_versions(test_database, store_url) == [m.version for m in available()]


def test_stores_opening_at_once_on_a_new_schema_all_come_up(
    test_database: TestDatabase, store_url: str
) -> None:
    async def scenario() -> None:
        stores = await asyncio.gather(*(opened(store_url) for _ in range(4)))
        for store in stores:
            await store.close()

    run(scenario())
    assert applied_versions(test_database, store_url) == [m.version for m in available()]


def test_two_servers_started_at_once_on_a_new_schema_both_serve(instances: Instances) -> None:
    a, b = instances(2)
    for server in (a, b):
        health = httpx.get(f"{server.url}/health").json()
        assert health["store"] == "postgres"


def test_a_schema_newer_than_this_maestro_is_refused(
    test_database: TestDatabase, store_url: str
) -> None:
    run(open_and_close(store_url))
    schema = store_url.rsplit("%3D", 1)[-1]
    newer = len(available()) + 1
    test_database.connection.execute(
        f'INSERT INTO "{schema}".maestro_schema_migrations (version, name) VALUES (%s, %s)',
        (newer, "from_the_future"),
    )
    with pytest.raises(SchemaError, match=f"schema version {newer}, newer than this Maestro"):
        run(opened(store_url))


def test_a_search_path_naming_no_existing_schema_says_to_create_it(
    test_database: TestDatabase,
) -> None:
    url = test_database.store_url("maestro_test_no_such_schema")
    with pytest.raises(SchemaError, match="CREATE SCHEMA"):
        run(opened(url))


def test_an_unreachable_database_stops_the_server_with_a_clear_line(tmp_path: Path) -> None:
    server = RunningServer(
        tmp_path / "data", env={"MAESTRO_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    )
    server.launch()
    assert server.process is not None
    assert server.process.wait(30) != 0
    assert "StoreUnavailable: cannot connect to postgresql://nobody@127.0.0.1:1/none" in (
        server.log()
    )


def test_an_unreachable_database_is_an_error_naming_it() -> None:
    with pytest.raises(StoreUnavailable, match=r"cannot connect to postgresql://nobody@"):
        run(opened("postgresql://nobody@127.0.0.1:1/none"))


# -- what is kept -------------------------------------------------------------------


def test_entities_come_back_exactly_as_sent(instances: Instances) -> None:
    (server,) = instances(1)
    odd = {
        "big": 1e20,
        "tiny": 5e-324,
        "nul": "a\u0000b",
        "emoji": "🎼",
        "nested": {"z": 1, "a": 2},
    }
    with httpx.Client(base_url=server.url) as http:
        project_id = http.post("/api/projects", json={"name": "Exact"}).json()["id"]
        body = {"projectId": project_id, "taskIds": [], "metadata": odd, "env": {"K": "v\u0000"}}
        created = http.post("/api/sessions", json=body)
        assert created.status_code == 201, created.text
        fetched = http.get(f"/api/sessions/{created.json()['id']}")
    assert fetched.content == created.content


def test_a_transaction_that_fails_leaves_nothing_and_emits_nothing(store_url: str) -> None:
    class Refused(Exception):
        pass

    async def scenario() -> tuple[dict[str, int], list[StoredEvent]]:
        store = await opened(store_url)
        delivered: list[StoredEvent] = []
        store.subscribe(delivered.extend)
        with pytest.raises(Refused):
            async with store.transaction() as tx:
                tx.put(project("doomed"))
                tx.emit("project:created", {"id": "proj_doomed"}, "proj_doomed")
                assert [p.id for p in await tx.list_projects()] == ["proj_doomed"]
                raise Refused
        counts = await store.counts()
        await store.close()
        return counts, delivered

    counts, delivered = run(scenario())
    assert counts["projects"] == 0
    assert delivered == []


def test_a_transaction_reads_its_own_staged_writes_and_deletes(store_url: str) -> None:
    async def scenario() -> None:
        store = await opened(store_url)
        session = Session(id="sess_1", project_id="proj_p", task_ids=("task_a",), started_at=5)
        async with store.transaction() as tx:
            tx.put(session)
            assert await tx.get(Session, "sess_1") is session
            assert await tx.find_sessions(SessionQuery(task_id="task_a")) == [session]
            tx.delete(session)
            assert await tx.get(Session, "sess_1") is None
            assert await tx.find_sessions(SessionQuery(project_id="proj_p")) == []
        assert await store.get(Session, "sess_1") is None
        await store.close()

    run(scenario())


def test_lists_are_in_creation_order_with_ids_in_code_point_order(store_url: str) -> None:
    async def scenario() -> list[str]:
        store = await opened(store_url)
        async with store.transaction() as tx:
            for name, at in (("b", 2), ("a", 2), ("B", 2), ("z", 1)):
                tx.put(project(name, at))
        listed = [p.id for p in await store.list_projects()]
        await store.close()
        return listed

    # The JSON store's order: (createdAt, id) with ids compared as Python strings.
    assert run(scenario()) == ["proj_z", "proj_B", "proj_a", "proj_b"]


# -- events -------------------------------------------------------------------------


def test_events_are_numbered_without_gaps_across_stores_in_commit_order(store_url: str) -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        one, two = await opened(store_url), await opened(store_url)
        seen_one: list[StoredEvent] = []
        seen_two: list[StoredEvent] = []
        one.subscribe(seen_one.extend)
        two.subscribe(seen_two.extend)

        async def write(store: PostgresStore, k: int) -> None:
            async with store.transaction() as tx:
                tx.emit("x", {"k": k}, "p")
                tx.emit("y", {"k": k}, "p")

        await asyncio.gather(*(write((one, two)[k % 2], k) for k in range(20)))
        for _ in range(500):  # the other store's listener may still be delivering
            if len(seen_one) == len(seen_two) == 40:
                break
            await asyncio.sleep(0.02)
        await one.close()
        await two.close()
        return [e.seq for e in seen_one], [e.seq for e in seen_two]

    seqs_one, seqs_two = run(scenario())
    assert seqs_one == seqs_two == list(range(1, 41))


def test_old_events_are_pruned_and_the_retained_tail_is_loaded_at_open(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "PRUNE_EVERY", 10)

    async def scenario() -> tuple[list[int], list[int]]:
        store = await opened(store_url, retain_events=5, keep_events=8)
        for k in range(25):
            async with store.transaction() as tx:
                tx.emit("x", {"k": k}, "p")
        await store.close()
        reopened = await opened(store_url, retain_events=5, keep_events=8)
        tail = [e.seq for e in reopened.recent_events()]
        await reopened.close()
        async with await psycopg.AsyncConnection.connect(store_url) as conn:
            rows = await (await conn.execute("SELECT seq FROM events ORDER BY seq")).fetchall()
        return tail, [row[0] for row in rows]

    tail, kept = run(scenario())
    assert tail == [21, 22, 23, 24, 25]
    # Pruned when seq passed 20: everything up to 20 - 8 went.
    assert kept == list(range(13, 26))


def test_the_server_logs_its_store_without_the_password(instances: Instances) -> None:
    (server,) = instances(1)
    assert "from the PostgreSQL store at postgresql://postgres@" in server.log()


def test_maestro_serve_refuses_a_database_url_when_the_driver_is_missing(tmp_path: Path) -> None:
    # A JSON-only install: psycopg cannot be imported.
    blocker = tmp_path / "psycopg.py"
    blocker.write_text("raise ImportError('No module named psycopg')\n")
    result = subprocess.run(
        [sys.executable, "-m", "maestro", "serve", "--port", "0"],
        env={"PYTHONPATH": str(tmp_path), "MAESTRO_DATABASE_URL": "postgresql://x@127.0.0.1/y"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "pip install 'maestro[postgres]'" in result.stderr


# -- write faults -------------------------------------------------------------------


def test_a_write_whose_connection_dies_is_503_and_leaves_nothing(
    store_url: str, test_database: TestDatabase
) -> None:
    """All or nothing on PostgreSQL: the rows, the events and the notification of
    a transaction commit together; a connection killed before the commit answers
    the documented error, and neither the rows nor the events remain or reach
    subscribers. The next write goes through."""
    from maestro.domain.errors import StoreWriteFailed

    async def scenario() -> tuple[list[Project], list[int], list[int]]:
        store = await opened(store_url)
        heard: list[int] = []
        store.subscribe(lambda events: heard.extend(e.seq for e in events))
        try:
            with pytest.raises(StoreWriteFailed) as refused:
                async with store.transaction() as tx:
                    tx.put(project("doomed"))
                    tx.emit("project:created", project("doomed"), "proj_doomed")
                    await tx.list_projects()  # the connection is in use
                    test_database.connection.execute(
                        "SELECT pg_terminate_backend(%s)", (tx._conn.info.backend_pid,)
                    )
            assert refused.value.status == 503
            assert refused.value.code == "STORE_UNAVAILABLE"
            async with store.transaction() as tx:
                tx.put(project("kept"))
                tx.emit("project:created", project("kept"), "proj_kept")
            stored = await store.list_projects()
            seqs = [e.seq for e in store.recent_events()]
        finally:
            await store.close()
        return stored, seqs, heard

    stored, seqs, heard = run(scenario())
    assert [p.id for p in stored] == ["proj_kept"]
    assert seqs == [1]
    assert heard == [1]
