"""The JSON store under write faults, on a real filesystem, with the service making
real multi-file changes.

A commit is one journal append: when it fails (full disk, I/O error, a short
write, a cut-back that fails too) the answer is the documented error and nothing
changes: memory, the journal, the event stream, and what a restart shows. The
files follow in checkpoints: when one fails (at its temp file, rename, event log
or segment removal) nothing acknowledged is lost, neither in memory nor after a
crash, no temp file is left, and the files catch up once the fault is gone.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest

from maestro.domain.errors import StorageFull, StoreWriteFailed
from maestro.domain.requests import ProjectCreate, SessionCreate, TaskCreate, TaskPatch
from maestro.service import Workspace
from maestro.store import checkpoint, files, journal
from maestro.store.files import TEMP_MARK, FsyncFailed
from maestro.store.jsonfs import JsonFileStore

pytestmark = pytest.mark.json_only


@asynccontextmanager
async def opened(root: Path, **options: Any) -> AsyncIterator[tuple[JsonFileStore, Workspace]]:
    store = JsonFileStore(root, **options)
    await store.open()
    try:
        yield store, Workspace(store, "http://127.0.0.1:3000")
    finally:
        await store.close()


def on_disk(root: Path) -> dict[str, Any]:
    """Every entity file, by id."""
    found = {}
    for path in root.glob("**/*.json"):
        if path.name != "store.json" and ".quarantine" not in path.parts:
            found[path.stem] = json.loads(path.read_bytes())
    return found


async def in_memory(store: JsonFileStore) -> dict[str, Any]:
    """Every entity the store serves, by id, as it would write it."""
    found = {}
    for project in await store.list_projects():
        found[project.id] = _as_json(project)
    for task in await store.find_tasks(_all_tasks()):
        found[task.id] = _as_json(task)
    for session in await store.find_sessions(_all_sessions()):
        found[session.id] = _as_json(session)
    return found


async def reopened(root: Path) -> dict[str, Any]:
    """What a store opened afresh on ``root`` serves (``in_memory``)."""
    async with opened(root) as (store, _):
        return await in_memory(store)


def _as_json(entity: Any) -> Any:
    return json.loads(msgspec.json.encode(entity))


def _all_tasks() -> Any:
    from maestro.store.base import TaskQuery

    return TaskQuery()


def _all_sessions() -> Any:
    from maestro.store.base import SessionQuery

    return SessionQuery()


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if TEMP_MARK in p.name]


def journal_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((root / "journal").glob("*.jsonl")))


def event_seqs(root: Path) -> list[int]:
    lines = (root / "events.jsonl").read_text().splitlines()
    return [json.loads(line)["seq"] for line in lines]


async def after_a_crash(store: JsonFileStore, tmp_path: Path) -> dict[str, Any]:
    """What a server started on the store's directory as it is now would serve: a
    copy, as ``kill -9`` would leave it (the lock is the running store's), taken
    between two checkpoints."""
    await store.checkpoint_done()
    root = store.root
    copy = tmp_path / f"crashed-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".lock"))
    async with opened(copy) as (store, _):
        found = await in_memory(store)
    assert temp_files(copy) == []
    assert not (copy / ".quarantine").exists(), "a file was quarantined"
    return found


class Fault:
    """Makes one function fail with ``error``: at its ``after``-th call only
    (``once``: a transient fault), or from then on while ``on`` (a full disk)."""

    def __init__(self, error: OSError, after: int = 1, once: bool = False) -> None:
        self.error = error
        self.after = after
        self.once = once
        self.calls = 0
        self.on = True

    def wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def faulty(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            hit = self.calls == self.after if self.once else self.calls >= self.after
            if self.on and hit:
                raise self.error
            return real(*args, **kwargs)

        return faulty


ENOSPC = OSError(errno.ENOSPC, "No space left on device")
EIO = OSError(errno.EIO, "Input/output error")


def short_write_then(error: OSError) -> Callable[[int, bytes], None]:
    """A write that gets half of the line onto the disk, then fails."""

    def write_all(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise error

    return write_all


# -- the commit: one journal append --------------------------------------------------

APPEND_FAULTS: dict[str, Callable[[], Callable[[int, bytes], None]]] = {
    "full disk": lambda: Fault(ENOSPC).wrap(files.write_all),
    "I/O error": lambda: Fault(EIO).wrap(files.write_all),
    "short write": lambda: short_write_then(ENOSPC),
}


@pytest.mark.parametrize("fault", list(APPEND_FAULTS))
def test_a_refused_commit_changes_nothing_and_the_next_one_goes_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    root = tmp_path / "data"

    async def scenario() -> None:
        async with opened(root) as (store, service):
            project = await service.create_project(ProjectCreate(name="P"))
            task = await service.create_task(TaskCreate(project_id=project.id, title="T"))
            # Held in the journal (no checkpoint gets through), to see it unchanged.
            assert await store.sync_files()
            stuck = Fault(EIO)
            monkeypatch.setattr(checkpoint, "write_temp", stuck.wrap(files.write_temp))
            await service.patch_task(task.id, TaskPatch(description="in the journal only"))
            acknowledged = await in_memory(store)
            journal_before = journal_bytes(root)
            assert journal_before
            seq_before = store.recent_events()[-1].seq

            monkeypatch.setattr(journal, "write_all", APPEND_FAULTS[fault]())
            # A session linked to the task: two entities and three events in one group.
            expected = StoreWriteFailed if fault == "I/O error" else StorageFull
            with pytest.raises(expected) as refused:
                await service.create_session(
                    SessionCreate(project_id=project.id, task_ids=[task.id])
                )
            assert refused.value.status == (507 if expected is StorageFull else 503)
            assert await in_memory(store) == acknowledged
            assert journal_bytes(root) == journal_before, "the journal was not cut back"
            assert store.recent_events()[-1].seq == seq_before
            assert await after_a_crash(store, tmp_path) == acknowledged
            # Reads go on.
            assert (await service.get_task(task.id)).title == "T"

            monkeypatch.undo()  # space returns
            session = await service.create_session(
                SessionCreate(project_id=project.id, task_ids=[task.id])
            )
            await service.patch_task(task.id, TaskPatch(title="T2"))
            acknowledged = await in_memory(store)
            assert session.id in acknowledged
            assert await after_a_crash(store, tmp_path) == acknowledged
            # The seq numbers go on from the last committed one: none is skipped.
            seqs = [e.seq for e in store.recent_events()]
            assert seqs == list(range(1, len(seqs) + 1))
        # A clean stop leaves the files up to date and no journal.
        assert on_disk(root) == acknowledged
        assert not (root / "journal").exists()
        assert event_seqs(root) == seqs
        assert await reopened(root) == acknowledged

    asyncio.run(scenario())


def test_a_journal_that_cannot_be_cut_back_goes_on_in_a_new_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half a line stays in the journal: the next group must not be glued onto it."""
    root = tmp_path / "data"

    async def scenario() -> None:
        async with opened(root) as (store, service):
            project = await service.create_project(ProjectCreate(name="P"))
            assert await store.sync_files()
            # No checkpoint gets through: the journal alone holds what follows.
            stuck = Fault(EIO)
            monkeypatch.setattr(checkpoint, "write_temp", stuck.wrap(files.write_temp))
            with monkeypatch.context() as tearing:
                tearing.setattr(journal, "write_all", short_write_then(EIO))
                tearing.setattr(os, "ftruncate", Fault(EIO).wrap(os.ftruncate))
                with pytest.raises(StoreWriteFailed):
                    await service.create_task(TaskCreate(project_id=project.id, title="Torn"))
            await service.create_task(TaskCreate(project_id=project.id, title="Whole"))
            acknowledged = await in_memory(store)
            torn = [
                segment
                for segment in (root / "journal").glob("*.jsonl")
                if segment.stat().st_size and not segment.read_bytes().endswith(b"\n")
            ]
            assert len(torn) == 1, "the torn line should still be there, alone at its end"
            crashed = await after_a_crash(store, tmp_path)
            assert crashed == acknowledged
            assert [t["title"] for t in crashed.values() if "title" in t] == ["Whole"]

    asyncio.run(scenario())


def test_commits_queued_behind_a_refused_group_fail_too_and_leave_no_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers waiting while a group is written were prepared on top of it: when
    it fails they fail with it, and the ones after go through."""
    root = tmp_path / "data"

    async def scenario() -> None:
        async with opened(root) as (store, service):
            project = await service.create_project(ProjectCreate(name="P"))
            acknowledged = await in_memory(store)
            monkeypatch.setattr(journal, "write_all", Fault(ENOSPC).wrap(files.write_all))
            results = await asyncio.gather(
                *(
                    service.create_task(TaskCreate(project_id=project.id, title=f"T{i}"))
                    for i in range(20)
                ),
                return_exceptions=True,
            )
            assert all(isinstance(r, StorageFull) for r in results), results
            assert await in_memory(store) == acknowledged
            monkeypatch.undo()
            made = await asyncio.gather(
                *(
                    service.create_task(TaskCreate(project_id=project.id, title=f"U{i}"))
                    for i in range(20)
                )
            )
            assert len(made) == 20
            assert await after_a_crash(store, tmp_path) == await in_memory(store)
            assert await store.sync_files()
            assert on_disk(root) == await in_memory(store)

    asyncio.run(scenario())


# -- the checkpoint: the files catch up ----------------------------------------------

CHECKPOINT_STEPS: dict[str, Callable[[JsonFileStore], tuple[Any, str, Fault]]] = {
    "temp file, full disk": lambda store: (checkpoint, "write_temp", Fault(ENOSPC, after=2)),
    "temp file, I/O error": lambda store: (checkpoint, "write_temp", Fault(EIO)),
    "rename": lambda store: (os, "replace", Fault(EIO, after=2)),
    "event log": lambda store: (store._events, "save", Fault(ENOSPC)),
    "segment removal": lambda store: (Path, "unlink", Fault(EIO)),
}


@pytest.mark.parametrize("step", list(CHECKPOINT_STEPS))
def test_a_failed_checkpoint_loses_nothing_and_the_files_catch_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    root = tmp_path / "data"

    async def scenario() -> None:
        async with opened(root) as (store, service):
            project = await service.create_project(ProjectCreate(name="P"))
            task = await service.create_task(TaskCreate(project_id=project.id, title="T"))
            assert await store.sync_files()
            owner, name, fault = CHECKPOINT_STEPS[step](store)
            monkeypatch.setattr(owner, name, fault.wrap(getattr(owner, name)))
            # Acknowledged: the journal has them, whatever the files do.
            session = await service.create_session(
                SessionCreate(project_id=project.id, task_ids=[task.id])
            )
            await service.patch_task(task.id, TaskPatch(title="T2"))
            second = await service.create_task(TaskCreate(project_id=project.id, title="U"))
            assert not await store.sync_files()
            assert fault.calls >= fault.after, "the fault was never reached"
            acknowledged = await in_memory(store)
            assert {session.id, second.id} <= set(acknowledged)
            assert temp_files(root) == []
            assert await after_a_crash(store, tmp_path) == acknowledged

            monkeypatch.undo()  # the fault is gone
            assert await store.sync_files()
            assert on_disk(root) == acknowledged
            assert temp_files(root) == []
            seqs = [e.seq for e in store.recent_events()]
            assert event_seqs(root) == seqs, "events.jsonl has a gap or a repeat"
            # Only the segment being appended to is left.
            assert len(list((root / "journal").glob("*.jsonl"))) == 1
        assert await reopened(root) == acknowledged

    asyncio.run(scenario())


def test_a_task_folder_that_cannot_be_made_fails_the_checkpoint_not_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"

    async def scenario() -> None:
        async with opened(root) as (store, service):
            assert await store.sync_files()
            real_mkdir = Path.mkdir

            def mkdir(folder: Path, *args: Any, **kwargs: Any) -> None:
                if folder.parent == root / "tasks":
                    raise ENOSPC
                real_mkdir(folder, *args, **kwargs)

            monkeypatch.setattr(Path, "mkdir", mkdir)
            project = await service.create_project(ProjectCreate(name="P"))
            await service.create_task(TaskCreate(project_id=project.id, title="T"))
            assert not await store.sync_files()
            acknowledged = await in_memory(store)
            monkeypatch.undo()
            assert await after_a_crash(store, tmp_path) == acknowledged
            assert await store.sync_files()
            assert on_disk(root) == acknowledged

    asyncio.run(scenario())


def test_a_failed_fsync_stops_the_process_with_a_clear_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under MAESTRO_FSYNC=1 a failed fsync means the disk may have dropped what it
    promised: the store does not go on as if nothing happened, whether it was the
    journal's fsync (the write is refused) or a checkpoint's (it was answered)."""
    root = tmp_path / "data"
    stops: list[str] = []

    def failing_fsync(fd: int, what: str) -> None:
        raise FsyncFailed(errno.EIO, f"fsync of {what} failed: Input/output error")

    async def scenario() -> None:
        async with opened(root, fsync=True, on_fsync_failure=stops.append) as (store, service):
            project = await service.create_project(ProjectCreate(name="P"))
            monkeypatch.setattr(journal, "fsync_fd", failing_fsync)
            with pytest.raises(StoreWriteFailed):
                await service.create_task(TaskCreate(project_id=project.id, title="T"))
            assert len(stops) == 1
            monkeypatch.undo()
            await store.sync_files()
            monkeypatch.setattr(files, "fsync_fd", failing_fsync)
            await service.create_task(TaskCreate(project_id=project.id, title="U"))
            with pytest.raises(FsyncFailed):
                await store.sync_files()
            assert len(stops) == 2
            monkeypatch.undo()

    asyncio.run(scenario())
    assert all("fsync" in stop and "can no longer be trusted" in stop for stop in stops)


def test_payloads_are_fixed_when_emitted(tmp_path: Path) -> None:
    """A cascade delete emits several events about one session; each shows the
    session as it was at that point, never a later state."""
    root = tmp_path / "data"

    async def scenario() -> tuple[set[str], list[dict[str, Any]]]:
        async with opened(root) as (store, service):
            project = await service.create_project(ProjectCreate(name="P"))
            parent = await service.create_task(TaskCreate(project_id=project.id, title="A"))
            child = await service.create_task(
                TaskCreate(project_id=project.id, title="B", parent_id=parent.id)
            )
            await service.create_session(
                SessionCreate(project_id=project.id, task_ids=[parent.id, child.id])
            )
            first = store.recent_events()[-1].seq
            await service.delete_task(parent.id, cascade=True)
            frames = [json.loads(e.frame) for e in store.recent_events() if e.seq > first]
            return {parent.id, child.id}, frames

    linked, frames = asyncio.run(scenario())
    updates = 0
    for frame in frames:
        data = frame["data"]
        if frame["type"] == "session:task_removed":
            linked = linked - {data["taskId"]}
        elif frame["type"] == "session:updated":
            updates += 1
            assert set(data["taskIds"]) == linked, f"seq {frame['seq']} shows a later state"
    assert updates >= 1 and linked == set()
