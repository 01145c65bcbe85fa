"""The JSON store's ``events.jsonl``: written by checkpoints, compacted down to
the retained tail, and read back at start so ``seq`` continues."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from maestro.domain.requests import ProjectCreate, TaskCreate, TaskPatch
from maestro.service import Workspace
from maestro.store.jsonfs import JsonFileStore

pytestmark = pytest.mark.json_only


def seqs_in_file(root: Path) -> list[int]:
    return [json.loads(line)["seq"] for line in (root / "events.jsonl").read_text().splitlines()]


def test_the_log_stays_bounded_and_keeps_the_latest_events(tmp_path: Path) -> None:
    root = tmp_path / "data"

    async def scenario() -> list[int]:
        store = JsonFileStore(root, retain_events=5)
        await store.open()
        service = Workspace(store, "http://127.0.0.1:3000")
        project = await service.create_project(ProjectCreate(name="P"))
        task = await service.create_task(TaskCreate(project_id=project.id, title="T"))
        for number in range(40):
            await service.patch_task(task.id, TaskPatch(description=f"step {number}"))
            if number % 7 == 0:
                assert await store.sync_files()
                assert len(seqs_in_file(root)) < 2 * 5 + 7  # compacted as it goes
        assert await store.sync_files()
        latest = [event.seq for event in store.recent_events()]
        await store.close()
        return latest

    latest = asyncio.run(scenario())
    assert latest == list(range(38, 43))  # 42 events: project, task, 40 patches
    in_file = seqs_in_file(root)
    assert in_file == list(range(in_file[0], 43)), "a gap or a repeat in the file"
    assert in_file[-5:] == latest

    async def reopened() -> list[int]:
        store = JsonFileStore(root, retain_events=5)
        await store.open()
        service = Workspace(store, "http://127.0.0.1:3000")
        await service.create_project(ProjectCreate(name="Q"))
        seqs = [event.seq for event in store.recent_events()]
        await store.close()
        return seqs

    assert asyncio.run(reopened()) == list(range(39, 44)), "seq continues after a restart"
