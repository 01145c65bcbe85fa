"""Approvals in the JSON store: the same commit path as every entity (one journal
append per group, so a refused write changes nothing and an acknowledged one
survives a crash), their files, their indexes, and a move through ``transfer``.
In process, on a real filesystem, with the service making the changes."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest

from maestro.domain.errors import StorageFull, StoreWriteFailed
from maestro.domain.models import Approval, Session
from maestro.domain.requests import (
    ApprovalCreate,
    ApprovalDecide,
    ProjectCreate,
    SessionCreate,
    TaskCreate,
)
from maestro.service import ApprovalInbox, Workspace
from maestro.store import checkpoint, files, journal
from maestro.store.base import ApprovalQuery, SessionQuery
from maestro.store.jsonfs import JsonFileStore
from maestro.store.transfer import read_directory, read_store, write_directory
from tests.store.test_faults import APPEND_FAULTS, EIO, Fault, journal_bytes

pytestmark = pytest.mark.json_only


@asynccontextmanager
async def opened(root: Path) -> AsyncIterator[tuple[JsonFileStore, Workspace, ApprovalInbox]]:
    store = JsonFileStore(root)
    await store.open()
    try:
        yield store, Workspace(store, "http://127.0.0.1:3000"), ApprovalInbox(store, 600)
    finally:
        await store.close()


async def a_session(service: Workspace) -> Session:
    project = await service.create_project(ProjectCreate(name="P"))
    task = await service.create_task(TaskCreate(project_id=project.id, title="T"))
    return await service.create_session(SessionCreate(project_id=project.id, task_ids=[task.id]))


def asking(tool: str = "Bash") -> ApprovalCreate:
    return ApprovalCreate(tool=tool, input={"command": "make clean"})


async def stored(store: JsonFileStore) -> dict[str, Any]:
    """Every approval and session the store serves, by id, as JSON."""
    found: list[Any] = [
        *await store.find_approvals(ApprovalQuery()),
        *await store.find_sessions(SessionQuery()),
    ]
    return {entity.id: json.loads(msgspec.json.encode(entity)) for entity in found}


async def after_a_crash(store: JsonFileStore, tmp_path: Path) -> dict[str, Any]:
    """What a server started on a copy of the directory as it is now would serve
    (as ``kill -9`` would leave it: the journal holds what the files do not)."""
    await store.checkpoint_done()
    copy = tmp_path / f"crashed-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(store.root, copy, ignore=shutil.ignore_patterns(".lock"))
    async with opened(copy) as (again, _, _):
        return await stored(again)


@pytest.mark.parametrize("fault", list(APPEND_FAULTS))
def test_a_refused_approval_write_changes_nothing_and_the_next_one_goes_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    root = tmp_path / "data"
    expected = StoreWriteFailed if fault == "I/O error" else StorageFull

    async def scenario() -> None:
        async with opened(root) as (store, service, inbox):
            session = await a_session(service)
            assert await store.sync_files()
            # Held in the journal (no checkpoint gets through), to see it unchanged.
            monkeypatch.setattr(checkpoint, "write_temp", Fault(EIO).wrap(files.write_temp))
            first = await inbox.file(session.id, asking())
            await store.checkpoint_done()
            acknowledged = await stored(store)
            journal_before = journal_bytes(root)
            seq_before = store.recent_events()[-1].seq

            with monkeypatch.context() as failing:
                failing.setattr(journal, "write_all", APPEND_FAULTS[fault]())
                with pytest.raises(expected):  # the approval and the session: one group
                    await inbox.decide(first.id, ApprovalDecide(decision="allow"))
                with pytest.raises(expected):
                    await inbox.file(session.id, asking("Edit"))
            assert await stored(store) == acknowledged
            assert journal_bytes(root) == journal_before, "the journal was not cut back"
            assert store.recent_events()[-1].seq == seq_before
            assert await after_a_crash(store, tmp_path) == acknowledged
            assert (await inbox.get_approval(first.id)).status == "pending"  # reads go on

            # The disk has room again.
            decided = await inbox.decide(first.id, ApprovalDecide(decision="allow"))
            second = await inbox.file(session.id, asking("Edit"))
            acknowledged = await stored(store)
            assert acknowledged[decided.id]["status"] == "allowed"
            assert acknowledged[second.id]["status"] == "pending"
            assert await after_a_crash(store, tmp_path) == acknowledged
            seqs = [e.seq for e in store.recent_events()]
            assert seqs == list(range(1, len(seqs) + 1))
            monkeypatch.undo()
        # A clean stop writes the files.
        for approval_id in (decided.id, second.id):
            on_disk = json.loads((root / "approvals" / f"{approval_id}.json").read_bytes())
            assert on_disk == acknowledged[approval_id]
        async with opened(root) as (store, _, _):
            assert await stored(store) == acknowledged

    asyncio.run(scenario())


def test_an_approval_deleted_with_its_session_leaves_no_file(tmp_path: Path) -> None:
    root = tmp_path / "data"

    async def scenario() -> None:
        async with opened(root) as (store, service, inbox):
            session = await a_session(service)
            approval = await inbox.file(session.id, asking())
            assert await store.sync_files()
            assert (root / "approvals" / f"{approval.id}.json").is_file()
            await service.delete_session(session.id)
            assert await store.sync_files()
            assert not (root / "approvals" / f"{approval.id}.json").exists()
            assert await store.find_approvals(ApprovalQuery()) == []

    asyncio.run(scenario())


def test_the_pending_index_holds_only_what_waits(tmp_path: Path) -> None:
    """The expiry sweep reads the pending bucket every second: decided approvals,
    however many, must not be in it."""
    root = tmp_path / "data"

    async def scenario() -> None:
        async with opened(root) as (store, service, inbox):
            session = await a_session(service)
            for _ in range(20):
                approval = await inbox.file(session.id, asking())
                await inbox.decide(approval.id, ApprovalDecide(decision="deny"))
            waiting = await inbox.file(session.id, asking())
            pending = ApprovalQuery(status="pending")
            assert list(store._memory.approval_candidates(pending)) == [waiting.id]
            assert await store.find_approvals(pending) == [waiting]
            assert await inbox.expire_due() == []  # not due for ten minutes

    asyncio.run(scenario())


def test_approvals_move_through_an_exchange_directory(tmp_path: Path) -> None:
    root, exchange = tmp_path / "data", tmp_path / "exchange"

    async def scenario() -> tuple[list[Approval], list[Approval]]:
        async with opened(root) as (store, service, inbox):
            session = await a_session(service)
            first = await inbox.file(session.id, asking())
            await inbox.decide(first.id, ApprovalDecide(decision="allow", message="ok"))
            await inbox.file(session.id, asking("Edit"))
            snapshot = await read_store(store)
        await write_directory(snapshot, exchange, retain_events=10_000)
        return snapshot.approvals, read_directory(exchange, 10_000).approvals

    exported, imported = asyncio.run(scenario())
    assert len(exported) == 2
    assert sorted(imported, key=lambda a: a.id) == sorted(exported, key=lambda a: a.id)
    assert sorted(p.name for p in (exchange / "approvals").iterdir()) == sorted(
        f"{a.id}.json" for a in exported
    )
