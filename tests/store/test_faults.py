"""The JSON store under write faults: every step of a commit fails in turn
(temp file, event log, rename, directory fsync), on a real filesystem, with the
service making real multi-file changes. After each: the documented error, memory
equal to the disk, no temp file left, the event log as before, a restart showing
exactly the acknowledged writes, and the next write going through once the fault
is gone."""

from __future__ import annotations

import asyncio
import errno
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest

from maestro.domain.errors import StorageFull, StoreWriteFailed
from maestro.domain.requests import ProjectCreate, SessionCreate, TaskCreate, TaskPatch
from maestro.service import Workspace
from maestro.store import commit
from maestro.store.files import TEMP_MARK
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


def event_lines(root: Path) -> list[str]:
    return (root / "events.jsonl").read_text().splitlines()


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

# (step, the error, which call fails): often the second file of a two-file
# commit, so the first is already written when the fault hits.
STEPS = [
    ("temp file", ENOSPC, 2),
    ("temp file", EIO, 1),
    ("event log", ENOSPC, 1),
    ("rename", EIO, 2),
    ("rename", ENOSPC, 1),
]

Install = Callable[[JsonFileStore, str, OSError, int], Fault]


@pytest.fixture
def fault_at(monkeypatch: pytest.MonkeyPatch) -> Install:
    """Install a fault at one step of the store's commit."""

    def install(store: JsonFileStore, step: str, error: OSError, after: int) -> Fault:
        if step == "temp file":
            fault = Fault(error, after)
            monkeypatch.setattr(commit, "write_temp", fault.wrap(commit.write_temp))
        elif step == "event log":
            fault = Fault(error, after)
            monkeypatch.setattr(store._writer, "append_log", fault.wrap(store._writer.append_log))
        else:  # a rename that fails once; putting files back renames too
            fault = Fault(error, after, once=True)
            monkeypatch.setattr(commit.os, "replace", fault.wrap(commit.os.replace))
        return fault

    return install


@pytest.mark.parametrize(("step", "error", "after"), STEPS)
def test_a_failed_step_changes_nothing_and_the_next_write_goes_through(
    tmp_path: Path, fault_at: Install, step: str, error: OSError, after: int
) -> None:
    root = tmp_path / "data"

    async def scenario() -> None:
        async with opened(root) as (store, service):
            project = await service.create_project(ProjectCreate(name="P"))
            task = await service.create_task(TaskCreate(project_id=project.id, title="T"))
            acknowledged = await in_memory(store)
            log_before = event_lines(root)
            seq_before = store.recent_events()[-1].seq

            fault = fault_at(store, step, error, after)
            # A session linked to the task: two files (session, task) and three events.
            expected = StorageFull if error.errno == errno.ENOSPC else StoreWriteFailed
            with pytest.raises(expected) as refused:
                await service.create_session(
                    SessionCreate(project_id=project.id, task_ids=[task.id])
                )
            assert fault.calls >= after, "the fault was never reached"
            assert refused.value.status == (507 if expected is StorageFull else 503)
            assert await in_memory(store) == acknowledged
            assert on_disk(root) == acknowledged
            assert temp_files(root) == []
            assert event_lines(root) == log_before
            assert store.recent_events()[-1].seq == seq_before
            # Reads go on.
            assert (await service.get_task(task.id)).title == "T"

            fault.on = False  # space returns
            session = await service.create_session(
                SessionCreate(project_id=project.id, task_ids=[task.id])
            )
            await service.patch_task(task.id, TaskPatch(title="T2"))
            acknowledged = await in_memory(store)
            assert on_disk(root) == acknowledged
            # The seq numbers go on from the last written one: none is skipped.
            seqs = [e.seq for e in store.recent_events()]
            assert seqs == list(range(1, len(seqs) + 1))
        async with opened(root) as (store, _):
            assert await in_memory(store) == acknowledged
            assert session.id in acknowledged

    asyncio.run(scenario())


def test_transactions_queued_behind_a_failed_group_fail_too_and_leave_no_trace(
    tmp_path: Path, fault_at: Install
) -> None:
    """Writers waiting while a group is written were prepared on top of it: when
    it fails they fail with it, and the ones after go through."""
    root = tmp_path / "data"

    async def scenario() -> None:
        async with opened(root) as (store, service):
            project = await service.create_project(ProjectCreate(name="P"))
            acknowledged = await in_memory(store)
            fault = fault_at(store, "temp file", ENOSPC, 1)
            results = await asyncio.gather(
                *(
                    service.create_task(TaskCreate(project_id=project.id, title=f"T{i}"))
                    for i in range(20)
                ),
                return_exceptions=True,
            )
            assert all(isinstance(r, StorageFull) for r in results), results
            assert await in_memory(store) == acknowledged == on_disk(root)
            fault.on = False
            made = await asyncio.gather(
                *(
                    service.create_task(TaskCreate(project_id=project.id, title=f"U{i}"))
                    for i in range(20)
                )
            )
            assert len(made) == 20
            assert on_disk(root) == await in_memory(store)

    asyncio.run(scenario())


def test_a_failed_fsync_stops_the_process_with_a_clear_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under MAESTRO_FSYNC=1 a failed fsync means the disk may have dropped what it
    promised: the store does not go on as if nothing happened."""
    root = tmp_path / "data"
    stops: list[str] = []

    async def scenario() -> None:
        async with opened(root, fsync=True, on_fsync_failure=stops.append) as (_, service):
            project = await service.create_project(ProjectCreate(name="P"))
            fault = Fault(EIO)
            monkeypatch.setattr(commit, "sync_directory", fault.wrap(commit.sync_directory))
            with pytest.raises(StoreWriteFailed):
                await service.create_task(TaskCreate(project_id=project.id, title="T"))
            fault.on = False

    asyncio.run(scenario())
    assert len(stops) == 1
    assert "fsync" in stops[0] and "can no longer be trusted" in stops[0]


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
