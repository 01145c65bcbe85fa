"""A real server whose data directory is on a real filesystem that fills up: a
1 MiB tmpfs mounted by the test (it needs root, as CI has).

A write the disk cannot hold (its journal line) is answered ``507
INSUFFICIENT_STORAGE`` and leaves nothing behind: not in memory, not on disk, not
in the event stream, and not after a restart. Reads go on; writes go through
again once there is room, and the files, which follow the journal in the
background, catch up.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.e2e.wsclient import EventStream
from tests.helpers import wait_for_files

pytestmark = pytest.mark.json_only

DESCRIPTION = "x" * 20_000  # ~40 KB a task: its file and its event log line


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def entity_files(data_dir: Path) -> set[str]:
    return {p.stem for p in data_dir.glob("tasks/*/*.json")}


def test_a_full_disk_answers_507_keeps_serving_and_recovers(
    small_disk: Path, tmp_path: Path
) -> None:
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * 200_000)  # room to give back later
    server = RunningServer(small_disk / "data").start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            project: dict[str, Any] = http.post("/api/projects", json={"name": "Full"}).json()
            stream = EventStream(server.ws_url)
            acknowledged: list[str] = []
            refused: httpx.Response | None = None
            for number in range(200):
                body = {
                    "projectId": project["id"],
                    "title": f"T{number}",
                    "description": DESCRIPTION,
                }
                answer = http.post("/api/tasks", json=body)
                if answer.status_code != 201:
                    refused = answer
                    break
                acknowledged.append(answer.json()["id"])
            assert refused is not None, "the disk never filled up"
            assert refused.status_code == 507, refused.text
            error = refused.json()
            assert error["error"] is True and error["code"] == "INSUFFICIENT_STORAGE"
            assert "full" in error["message"]

            # Memory, disk and the event stream agree: only the acknowledged writes.
            listed = http.get("/api/tasks", params={"projectId": project["id"]}).json()
            assert [t["id"] for t in listed] == acknowledged
            data_dir = small_disk / "data"
            # The files follow the journal; the refused write is in neither.
            assert entity_files(data_dir) <= set(acknowledged)
            assert not [p for p in data_dir.rglob("*") if ".tmp-" in p.name]
            created = [m for m in stream.sync() if m["type"] == "task:created"]
            assert [m["data"]["id"] for m in created] == acknowledged
            # Reads go on.
            assert http.get(f"/api/tasks/{acknowledged[0]}").status_code == 200
            assert http.get("/health").status_code == 200

            ballast.unlink()  # space returns
            body = {"projectId": project["id"], "title": "After", "description": "small"}
            after = http.post("/api/tasks", json=body)
            assert after.status_code == 201, after.text
            acknowledged.append(after.json()["id"])
            stream.close()

        server.restart()
        with httpx.Client(base_url=server.url, timeout=10) as http:
            listed = http.get("/api/tasks", params={"projectId": project["id"]}).json()
            assert [t["id"] for t in listed] == acknowledged
        # The journal holds what the files do not yet: a checkpoint needs room for
        # the files before it can drop the journal, more than the ballast gave back.
        assert entity_files(data_dir) <= set(acknowledged)
        subprocess.run(["mount", "-o", "remount,size=4m", str(small_disk)], check=True)
        wait_for_files(data_dir)  # the checkpoint tries again, and gets through
        assert entity_files(data_dir) == set(acknowledged)
        assert "Traceback" not in server.log()
    finally:
        server.stop()
