"""``MAESTRO_FSYNC=1``: every write is fsynced before it is answered, and writes
that commit together share their fsyncs (group commit, ``store/commit.py``).

That path answers later and publishes from a background flush, so here:

- the API answers a scripted session of requests exactly as without fsync, and
  the WebSocket stream carries exactly the same events;
- the concurrency tests of ``tests/test_concurrency.py`` (many clients PATCHing
  one task, linking and unlinking the same pairs at once) pass on it unchanged;
- a short crash torture (``tests/stress/torture.py``) loses nothing under it.

What fsync costs, and the evidence that group commit shares the fsyncs:
``benchmarks/fsync_bench.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.e2e.wsclient import EventStream
from tests.helpers import wait_for_files
from tests.stress.torture import torture

# The same tests, run here on the fsync server (this module's ``shared_server``).
from tests.test_concurrency import (  # noqa: F401
    clients,
    fresh_project,
    test_concurrent_creates_are_all_stored,
    test_concurrent_links_unlinks_and_deletes_leave_links_symmetric,
    test_concurrent_patches_of_different_fields_all_take_effect,
    test_concurrent_patches_of_one_task_keep_every_timeline_entry,
    test_link_racing_a_delete_of_its_task_leaves_no_dangling_id,
)

pytestmark = pytest.mark.json_only
FSYNC = {"MAESTRO_FSYNC": "1"}


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The server of the imported concurrency tests: one with fsync on."""
    server = RunningServer(tmp_path_factory.mktemp("fsync") / "data", env=FSYNC).start()
    yield server
    server.stop()


# -- the same answers and events -------------------------------------------------------


def scripted_session(server: RunningServer) -> list[Any]:
    """A run through every kind of request, good and bad; what it got back, and
    then the events a WebSocket client received meanwhile."""
    answers: list[Any] = []
    with (
        httpx.Client(base_url=server.url, timeout=10) as api,
        EventStream(server.ws_url) as stream,
    ):

        def call(method: str, path: str, body: Any = None, **options: Any) -> Any:
            response = api.request(method, path, json=body, **options)
            answers.append([method, path, response.status_code, response.json()])
            return response.json()

        project = call("POST", "/api/projects", {"name": "Same", "workingDir": "/tmp"})["id"]
        call("PUT", f"/api/projects/{project}", {"description": "d"})
        parent = call("POST", "/api/tasks", {"projectId": project, "title": "Parent"})["id"]
        child = call(
            "POST", "/api/tasks", {"projectId": project, "title": "Child", "parentId": parent}
        )["id"]
        call("PATCH", f"/api/tasks/{parent}", {"status": "in_progress", "priority": "high"})
        call("POST", f"/api/tasks/{parent}/timeline", {"message": "progress"})
        step = call("POST", f"/api/tasks/{parent}/subtasks", {"title": "Step"})["id"]
        call("PATCH", f"/api/tasks/{parent}/subtasks/{step}", {"completed": True})
        call("DELETE", f"/api/tasks/{parent}/subtasks/{step}")
        session = call("POST", "/api/sessions", {"projectId": project, "taskIds": [parent]})["id"]
        call("POST", f"/api/sessions/{session}/tasks/{child}")
        call("DELETE", f"/api/sessions/{session}/tasks/{parent}")
        call(
            "PATCH",
            f"/api/sessions/{session}",
            {"status": "completed", "events": [{"type": "note", "data": {"n": 1}}]},
        )
        spawn = {"projectId": project, "taskIds": [child]}
        for _ in range(2):
            call("POST", "/api/sessions/spawn", spawn, headers={"Idempotency-Key": "same-1"})
        call("PATCH", f"/api/tasks/{child}", {"sessionIds": [session]})
        call("GET", "/api/tasks", params={"projectId": project, "parentId": parent})
        call("GET", "/api/sessions", params={"projectId": project, "active": "true"})
        call("GET", f"/api/tasks/{parent}/children")
        call("POST", "/api/tasks", {"projectId": project})  # no title
        call("GET", "/api/tasks/task_missing")
        call(
            "POST",
            "/api/projects",
            None,
            content=b"name=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        call("DELETE", f"/api/projects/{project}")  # it has tasks
        call("DELETE", f"/api/sessions/{session}")
        call("DELETE", f"/api/tasks/{parent}", params={"cascade": "true"})
        answers.append(stream.sync())
    return answers


IDS = re.compile(r"\b[a-z]+_\d{13}_[a-z0-9]{9}\b")
MILLISECONDS = re.compile(r"\b1\d{12}\b")


def normalized(answers: list[Any], server: RunningServer) -> str:
    """Ids numbered in order of appearance, timestamps and the port blanked out."""
    numbers: dict[str, str] = {}
    text = IDS.sub(
        lambda m: numbers.setdefault(m.group(), f"<id{len(numbers)}>"), json.dumps(answers)
    )
    # The port last and only in an address: its digits can occur inside a timestamp.
    return MILLISECONDS.sub("<ms>", text).replace(f"127.0.0.1:{server.port}", "<address>")


def test_the_api_and_the_events_are_the_same_with_fsync_on(server_factory: Any) -> None:
    plain, fsynced = server_factory(), server_factory(**FSYNC)
    expected = normalized(scripted_session(plain), plain)
    assert normalized(scripted_session(fsynced), fsynced) == expected


def test_what_the_api_shows_is_on_disk_with_fsync_on(server_factory: Any) -> None:
    server: RunningServer = server_factory(**FSYNC)
    scripted_session(server)
    wait_for_files(server.data_dir)  # the journal had it at once; the files follow
    with httpx.Client(base_url=server.url, timeout=10) as api:
        for project in api.get("/api/projects").json():
            assert on_disk(server.data_dir / "projects" / f"{project['id']}.json") == project
        for task in api.get("/api/tasks").json():
            path = server.data_dir / "tasks" / task["projectId"] / f"{task['id']}.json"
            assert on_disk(path) == task
        for session in api.get("/api/sessions").json():
            assert on_disk(server.data_dir / "sessions" / f"{session['id']}.json") == session
        latest = api.get("/health").json()["latestSeq"]
    lines = (server.data_dir / "events.jsonl").read_bytes().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, latest + 1))


def on_disk(path: Path) -> Any:
    return json.loads(path.read_bytes())


# -- crashes ---------------------------------------------------------------------------------

CYCLES = 6


@pytest.mark.timeout(120)
def test_kill_9_under_fsync_loses_no_acknowledged_write(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    report = torture(server_factory(**FSYNC), cycles=CYCLES, seed=CYCLES)
    with capsys.disabled():
        print(f"\nwith MAESTRO_FSYNC=1, {report.summary()}")
    assert report.ok, "\n".join(report.failures)
