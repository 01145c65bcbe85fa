"""Runners in the JSON store: their files, a crash (the journal holds what the
files do not), the active index the lease sweep reads, the queries registration
and claims use (runner by name and host, sessions by runner) and a move through
``transfer``. In process, with the service making the changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import pytest

from maestro.domain.models import Runner, Session
from maestro.domain.requests import (
    ProjectCreate,
    RunnerRegister,
    SessionClaim,
    SpawnRequest,
    TaskCreate,
)
from maestro.service import RunnerRegistry, Workspace
from maestro.service.tokens import TokenBook
from maestro.store.base import RunnerQuery, SessionQuery
from maestro.store.jsonfs import JsonFileStore
from maestro.store.transfer import read_directory, read_store, write_directory
from tests.store.test_approvals_store import after_a_crash

pytestmark = pytest.mark.json_only


@asynccontextmanager
async def opened(root: Path) -> AsyncIterator[tuple[JsonFileStore, Workspace, RunnerRegistry]]:
    store = JsonFileStore(root)
    await store.open()
    try:
        yield (
            store,
            Workspace(store, "http://127.0.0.1:3000"),
            RunnerRegistry(store, 0.05, TokenBook(store, None)),
        )
    finally:
        await store.close()


def registration(name: str) -> RunnerRegister:
    return RunnerRegister(name=name, host="h", capacity=2, labels=["gpu"])


async def spawned(service: Workspace) -> str:
    project = await service.create_project(ProjectCreate(name="P"))
    task = await service.create_task(TaskCreate(project_id=project.id, title="T"))
    session = await service.spawn(SpawnRequest(project_id=project.id, task_ids=[task.id]))
    return session.id


def test_a_runner_is_a_file_of_exactly_what_is_stored(tmp_path: Path) -> None:
    root = tmp_path / "data"

    async def scenario() -> Runner:
        async with opened(root) as (store, _, registry):
            await registry.register(registration("a"))
            [runner] = await store.find_runners(RunnerQuery())
            return runner

    runner = asyncio.run(scenario())
    on_disk = json.loads((root / "runners" / f"{runner.id}.json").read_bytes())
    assert on_disk == json.loads(msgspec.json.encode(runner))
    assert "load" not in on_disk  # counted when served, never stored


def test_runners_and_claims_survive_a_crash(tmp_path: Path) -> None:
    root = tmp_path / "data"

    async def scenario() -> None:
        async with opened(root) as (store, service, registry):
            runner = await registry.register(registration("a"))
            session_id = await spawned(service)
            await registry.claim(session_id, SessionClaim(runner_id=runner.id))
            after = await after_a_crash(store, tmp_path)
            assert after[session_id]["metadata"]["runnerId"] == runner.id
        async with opened(root) as (store, _, _):
            assert [r.id for r in await store.find_runners(RunnerQuery())] == [runner.id]

    asyncio.run(scenario())


def test_the_active_index_holds_only_active_runners(tmp_path: Path) -> None:
    root = tmp_path / "data"

    async def scenario() -> None:
        async with opened(root) as (store, _, registry):
            gone = await registry.register(registration("gone"))
            await asyncio.sleep(0.1)  # past its 0.05 s lease
            lost = await registry.expire_due()
            assert [r.id for r in lost] == [gone.id]
            assert await registry.expire_due() == []  # once
            kept = await registry.register(registration("kept"))
            active = RunnerQuery(status="active")
            assert list(store._memory.runner_candidates(active)) == [kept.id]
            by_identity = RunnerQuery(name="gone", host="h")
            assert [r.status for r in await store.find_runners(by_identity)] == ["lost"]

    asyncio.run(scenario())


def test_a_transaction_finds_the_sessions_a_runner_holds_as_staged(tmp_path: Path) -> None:
    root = tmp_path / "data"

    async def scenario() -> None:
        async with opened(root) as (store, service, registry):
            runner = await registry.register(registration("a"))
            first, second = await spawned(service), await spawned(service)
            await registry.claim(first, SessionClaim(runner_id=runner.id))
            held = SessionQuery(active=True, runner_id=runner.id)
            assert [s.id for s in await store.find_sessions(held)] == [first]
            async with store.transaction() as tx:
                session = await tx.get(Session, second)
                assert session is not None
                claimed = {**session.metadata, "runnerId": runner.id}
                tx.put(msgspec.structs.replace(session, metadata=claimed))
                # Staged: the transaction sees it, readers not yet.
                assert [s.id for s in await tx.find_sessions(held)] == [first, second]
                assert [s.id for s in await store.find_sessions(held)] == [first]
            assert [s.id for s in await store.find_sessions(held)] == [first, second]

    asyncio.run(scenario())


def test_runners_move_through_an_exchange_directory(tmp_path: Path) -> None:
    root, exchange = tmp_path / "data", tmp_path / "exchange"

    async def scenario() -> tuple[list[Runner], list[Runner]]:
        async with opened(root) as (store, _, registry):
            await registry.register(registration("a"))
            await registry.register(registration("b"))
            snapshot = await read_store(store)
        await write_directory(snapshot, exchange, retain_events=10_000)
        return snapshot.runners, read_directory(exchange, 10_000).runners

    exported, imported = asyncio.run(scenario())
    assert len(exported) == 2
    assert sorted(imported, key=lambda r: r.id) == sorted(exported, key=lambda r: r.id)
    assert sorted(p.name for p in (exchange / "runners").iterdir()) == sorted(
        f"{r.id}.json" for r in exported
    )
