"""Durability and start-up recovery of the JSON store (SPEC section 11).

- A 2xx means the change is on disk: ``kill -9`` at any moment loses no
  acknowledged change and leaves no half-written or unparsable file.
- On start, an unparsable file goes to ``DATA_DIR/.quarantine/`` with a log line
  naming it, and the server starts with everything else; files of older versions
  load with defaults; leftover temp files are removed, not loaded; task/session
  links left asymmetric by a crash are repaired; the event ``seq`` continues.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.e2e.wsclient import events_after

# -- helpers ---------------------------------------------------------------------


def create(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def read_json(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_bytes())
    return loaded


def write_json(path: Path, content: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2))


def assert_links_symmetric(api: httpx.Client) -> None:
    tasks = api.get("/api/tasks").json()
    sessions = api.get("/api/sessions").json()
    from_tasks = {(s, t["id"]) for t in tasks for s in t["sessionIds"]}
    from_sessions = {(s["id"], t) for s in sessions for t in s["taskIds"]}
    assert from_tasks == from_sessions
    assert {t for _, t in from_sessions} <= {t["id"] for t in tasks}
    assert {s for s, _ in from_tasks} <= {s["id"] for s in sessions}


# -- (a) kill -9 under concurrent writes ---------------------------------------------


@dataclass
class Acknowledged:
    """Every change the server answered 2xx, as the writers recorded them."""

    tasks: dict[str, str] = field(default_factory=dict)  # id -> title
    timeline: dict[str, set[str]] = field(default_factory=dict)  # task -> messages
    subtasks: dict[str, set[str]] = field(default_factory=dict)  # task -> subtask ids
    sessions: set[str] = field(default_factory=set)
    links: set[tuple[str, str]] = field(default_factory=set)  # (session, task)
    answered: int = 0  # requests answered, acknowledged or not
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for_answers(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.answered < count and time.monotonic() < deadline:
            time.sleep(0.01)


def write_until_killed(
    url: str, project: str, acked: Acknowledged, seed: int, stop: threading.Event
) -> None:
    """Create, append, link -- only changes no later change undoes -- until the
    server goes away, recording each one the server acknowledged."""
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=5) as api:
        n = 0
        while not stop.is_set():
            n += 1
            with acked.lock:
                tasks = list(acked.tasks)
                sessions = list(acked.sessions)
            try:
                action = rng.randrange(5) if tasks else 0
                if action == 0:
                    title = f"task {seed}-{n}"
                    response = api.post("/api/tasks", json={"projectId": project, "title": title})
                    if response.status_code == 201:
                        with acked.lock:
                            acked.tasks[response.json()["id"]] = title
                elif action == 1:
                    task, message = rng.choice(tasks), f"note {seed}-{n}"
                    body = {"timeline": [{"message": message}]}
                    if api.patch(f"/api/tasks/{task}", json=body).status_code == 200:
                        with acked.lock:
                            acked.timeline.setdefault(task, set()).add(message)
                elif action == 2:
                    task = rng.choice(tasks)
                    response = api.post(f"/api/tasks/{task}/subtasks", json={"title": "step"})
                    if response.status_code == 201:
                        with acked.lock:
                            acked.subtasks.setdefault(task, set()).add(response.json()["id"])
                elif action == 3:
                    task = rng.choice(tasks)
                    session_body = {"projectId": project, "taskIds": [task]}
                    response = api.post("/api/sessions", json=session_body)
                    if response.status_code == 201:
                        with acked.lock:
                            acked.sessions.add(response.json()["id"])
                            acked.links.add((response.json()["id"], task))
                elif sessions:
                    session, task = rng.choice(sessions), rng.choice(tasks)
                    response = api.post(f"/api/sessions/{session}/tasks/{task}")
                    if response.status_code == 200:
                        with acked.lock:
                            acked.links.add((session, task))
            except httpx.TransportError:
                return  # killed: whatever was in flight was never acknowledged
            with acked.lock:
                acked.answered += 1


def assert_store_holds(api: httpx.Client, acked: Acknowledged) -> None:
    tasks = {t["id"]: t for t in api.get("/api/tasks").json()}
    sessions = {s["id"]: s for s in api.get("/api/sessions").json()}
    for task_id, title in acked.tasks.items():
        assert task_id in tasks, f"acknowledged task {task_id} was lost"
        assert tasks[task_id]["title"] == title
    for task_id, messages in acked.timeline.items():
        stored = {e.get("message") for e in tasks[task_id]["timeline"]}
        assert messages <= stored, f"lost timeline entries of {task_id}"
    for task_id, subtask_ids in acked.subtasks.items():
        assert subtask_ids <= {s["id"] for s in tasks[task_id]["subtasks"]}
    assert acked.sessions <= set(sessions), "an acknowledged session was lost"
    for session_id, task_id in acked.links:
        assert task_id in sessions[session_id]["taskIds"], "a link was lost (session side)"
        assert session_id in tasks[task_id]["sessionIds"], "a link was lost (task side)"


def assert_every_file_whole(data_dir: Path) -> None:
    for path in data_dir.rglob("*"):
        assert ".tmp-" not in path.name, f"temp file {path} survived a restart"
        if path.suffix == ".json":
            json.loads(path.read_bytes())  # raises on a half-written file
    quarantine = data_dir / ".quarantine"
    assert not quarantine.exists() or not any(quarantine.iterdir()), "a file was quarantined"


def test_kill_9_under_concurrent_writes_loses_no_acknowledged_change(
    server: RunningServer,
) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as api:
        project = create(api, "/api/projects", {"name": "Crash test"})["id"]
    acked = Acknowledged()
    rng = random.Random(1)

    for cycle in range(3):
        stop = threading.Event()
        writers = [
            threading.Thread(
                target=write_until_killed,
                args=(server.url, project, acked, cycle * 10 + i, stop),
            )
            for i in range(4)
        ]
        for writer in writers:
            writer.start()
        # Kill at a random moment once the writes are flowing.
        acked.wait_for_answers(acked.answered + 40)
        time.sleep(rng.uniform(0, 0.3))
        server.kill()
        stop.set()
        for writer in writers:
            writer.join(10)

        server.start()

        assert_every_file_whole(server.data_dir)
        with httpx.Client(base_url=server.url, timeout=10) as api:
            assert_store_holds(api, acked)
            assert_links_symmetric(api)
    assert len(acked.tasks) >= 5 and acked.links, "the writers hardly wrote anything"


# -- (b)-(e) start-up recovery ----------------------------------------------------------
#
# One data dir holds every damaged or dated file at once (each scenario has entities
# of its own), so one start of the server serves all the tests below.

BROKEN = b'{"id": "broken_1", "projectId": "'
KINDS = ("project", "task", "session")


@dataclass
class Recovered:
    """A server started on a data dir that was damaged while it was down."""

    server: RunningServer
    project: str
    tasks: list[str]
    sessions: list[str]
    log: str = field(default="", repr=False)

    def file(self, kind: str, entity_id: str) -> Path:
        folders = {
            "project": self.server.data_dir / "projects",
            "task": self.server.data_dir / "tasks" / self.project,
            "session": self.server.data_dir / "sessions",
        }
        return folders[kind] / f"{entity_id}.json"

    def old_file(self, kind: str) -> tuple[Path, dict[str, Any]]:
        """Where a file of an older version sits, and what it holds: required fields only."""
        required: dict[str, Any] = {
            "project": {"id": "project_old", "name": "Old"},
            "task": {"id": "task_old", "projectId": self.project, "title": "Old"},
            "session": {"id": "session_old", "projectId": self.project},
        }[kind]
        return self.file(kind, required["id"]), required

    def temp_file(self, kind: str) -> Path:
        final = self.file(kind, f"{kind}_tmp")
        return final.with_name(f".{final.name}.tmp-1a2b3c4d")

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.server.url}{path}", timeout=10)


def edit(path: Path, **changes: Any) -> None:
    write_json(path, {**read_json(path), **changes})


@pytest.fixture(scope="module")
def recovered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recovered]:
    server = RunningServer(tmp_path_factory.mktemp("recovery") / "data").start()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        project = create(api, "/api/projects", {"name": "Durable"})["id"]
        tasks = [
            create(api, "/api/tasks", {"projectId": project, "title": f"T{i}"})["id"]
            for i in range(5)
        ]
        sessions = [
            create(api, "/api/sessions", {"projectId": project, "taskIds": []})["id"]
            for _ in range(5)
        ]
    server.stop()
    state = Recovered(server, project, tasks, sessions)

    for kind in KINDS:
        state.file(kind, f"broken_{kind}").write_bytes(BROKEN)  # (b) a torn write
        path, content = state.old_file(kind)  # (c) an older version
        write_json(path, content)
        _, content = state.old_file(kind)  # (d) a whole file never renamed into place
        write_json(state.temp_file(kind), {**content, "id": f"{kind}_tmp"})
    write_json(state.file("session", "wrong_kind"), {"valid": "JSON", "but": "not a session"})
    # (e) links as a crash between the two files of one change can leave them
    edit(state.file("session", sessions[0]), taskIds=[tasks[0]])
    edit(state.file("task", tasks[1]), sessionIds=[sessions[1]])
    edit(state.file("task", tasks[2]), sessionIds=["sess_gone"])
    edit(state.file("session", sessions[2]), taskIds=["task_gone"])
    log_start = len(server.log())

    server.start()
    state.log = server.log()[log_start:]
    yield state
    server.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_unparsable_file_is_moved_to_quarantine(recovered: Recovered, kind: str) -> None:
    assert not recovered.file(kind, f"broken_{kind}").exists()
    quarantine = recovered.server.data_dir / ".quarantine"
    moved = [p for p in quarantine.iterdir() if p.name.endswith(f"broken_{kind}.json")]
    assert len(moved) == 1
    assert moved[0].read_bytes() == BROKEN, "the quarantined file must be kept as it was"


@pytest.mark.parametrize("kind", KINDS)
def test_quarantine_is_logged_naming_the_file(recovered: Recovered, kind: str) -> None:
    lines = [line for line in recovered.log.splitlines() if f"broken_{kind}.json" in line]
    assert any("quarantine" in line.lower() for line in lines), recovered.log


def test_file_that_is_json_but_not_an_entity_is_quarantined(recovered: Recovered) -> None:
    assert not recovered.file("session", "wrong_kind").exists()
    quarantine = recovered.server.data_dir / ".quarantine"
    assert [p for p in quarantine.iterdir() if p.name.endswith("wrong_kind.json")]


def test_server_starts_with_everything_else_after_a_quarantine(recovered: Recovered) -> None:
    assert recovered.get(f"/api/projects/{recovered.project}").status_code == 200
    for task in recovered.tasks:
        assert recovered.get(f"/api/tasks/{task}").status_code == 200
    for session in recovered.sessions:
        assert recovered.get(f"/api/sessions/{session}").status_code == 200
    assert recovered.get("/api/tasks/broken_task").status_code == 404


DEFAULTS: dict[str, dict[str, Any]] = {
    "project": {"workingDir": "", "description": ""},
    "task": {
        "parentId": None,
        "description": "",
        "initialPrompt": "",
        "status": "pending",
        "priority": "medium",
        "sessionIds": [],
        "skillIds": [],
        "agentIds": [],
        "dependencies": [],
        "subtasks": [],
        "startedAt": None,
        "completedAt": None,
    },
    "session": {
        "taskIds": [],
        "agentId": None,
        "status": "running",
        "env": {},
        "events": [],
        "metadata": {},
        "completedAt": None,
    },
}


@pytest.mark.parametrize("kind", KINDS)
def test_file_with_only_required_fields_loads_with_defaults(
    recovered: Recovered, kind: str
) -> None:
    _, content = recovered.old_file(kind)
    response = recovered.get(f"/api/{kind}s/{content['id']}")
    assert response.status_code == 200, response.text
    loaded = response.json()
    for name, value in {**content, **DEFAULTS[kind]}.items():
        assert loaded[name] == value, f"{kind}.{name}"


def test_task_of_an_older_version_can_be_updated(recovered: Recovered) -> None:
    session = recovered.sessions[4]
    patch = {"status": "in_progress", "sessionIds": [session]}
    with httpx.Client(base_url=recovered.server.url, timeout=10) as api:
        response = api.patch("/api/tasks/task_old", json=patch)
        assert response.status_code == 200, response.text
        assert response.json()["startedAt"] is not None
        assert api.get(f"/api/sessions/{session}").json()["taskIds"] == ["task_old"]


@pytest.mark.parametrize("kind", KINDS)
def test_leftover_temp_file_is_removed_and_not_loaded(recovered: Recovered, kind: str) -> None:
    assert not recovered.temp_file(kind).exists()
    assert not recovered.file(kind, f"{kind}_tmp").exists()
    assert recovered.get(f"/api/{kind}s/{kind}_tmp").status_code == 404


def test_link_recorded_only_by_the_session_is_repaired_at_start(recovered: Recovered) -> None:
    task, session = recovered.tasks[0], recovered.sessions[0]
    assert recovered.get(f"/api/tasks/{task}").json()["sessionIds"] == [session]
    assert recovered.get(f"/api/sessions/{session}").json()["taskIds"] == [task]
    on_disk = read_json(recovered.file("task", task))["sessionIds"]
    assert on_disk == [session], "the repair must be written to disk"


def test_link_recorded_only_by_the_task_is_repaired_at_start(recovered: Recovered) -> None:
    task, session = recovered.tasks[1], recovered.sessions[1]
    linked_on_task = session in recovered.get(f"/api/tasks/{task}").json()["sessionIds"]
    linked_on_session = task in recovered.get(f"/api/sessions/{session}").json()["taskIds"]
    assert linked_on_task == linked_on_session, "the link is still recorded on one side only"


def test_link_to_an_entity_that_no_longer_exists_is_dropped_at_start(
    recovered: Recovered,
) -> None:
    task, session = recovered.tasks[2], recovered.sessions[2]
    assert recovered.get(f"/api/tasks/{task}").json()["sessionIds"] == []
    assert recovered.get(f"/api/sessions/{session}").json()["taskIds"] == []
    assert read_json(recovered.file("task", task))["sessionIds"] == []
    assert read_json(recovered.file("session", session))["taskIds"] == []


# -- (f) the event sequence --------------------------------------------------------------


@pytest.mark.parametrize("stop", ["graceful", "kill -9"])
def test_event_seq_continues_after_restart(server: RunningServer, stop: str) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as api:
        project = create(api, "/api/projects", {"name": "Before"})["id"]
        create(api, "/api/tasks", {"projectId": project, "title": "Before"})
    before = events_after(server.ws_url, 0)[-1]["seq"]

    if stop == "graceful":
        server.stop()
    else:
        server.kill()
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        create(api, "/api/projects", {"name": "After"})

    after = events_after(server.ws_url, before)
    assert [e["seq"] for e in after] == [before + 1]
    assert after[0]["type"] == "project:created" and after[0]["data"]["name"] == "After"


# -- (g) one server per data directory ---------------------------------------------------


def test_a_second_server_on_the_same_data_directory_refuses_to_start(
    server: RunningServer,
) -> None:
    """Two servers on one directory would overwrite each other's changes from
    their own memory and give out the same seq twice."""
    with httpx.Client(base_url=server.url, timeout=10) as api:
        project = create(api, "/api/projects", {"name": "Mine"})
    second = RunningServer(server.data_dir)
    second.launch()
    assert second.process is not None
    assert second.process.wait(30) == 1
    assert f"another Maestro process is using the data directory {server.data_dir}" in (
        second.log()
    )
    with httpx.Client(base_url=server.url, timeout=10) as api:
        assert api.get(f"/api/projects/{project['id']}").json() == project
        create(api, "/api/projects", {"name": "Still served"})


def test_the_data_directory_is_free_again_after_a_kill_9(server: RunningServer) -> None:
    server.kill()
    server.start()  # the kernel released the dead process's lock
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"


def test_data_export_refuses_a_data_directory_a_server_is_using(
    server: RunningServer, tmp_path: Path
) -> None:
    """Opening the store repairs it (torn event line, quarantine, links): never
    while a server writes to it."""
    exported = tmp_path / "exported"
    command = ["data", "export", str(exported), "--data-dir", str(server.data_dir)]
    done = subprocess.run(
        [sys.executable, "-m", "maestro", *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "another Maestro process is using the data directory" in done.stderr + done.stdout
    assert not exported.exists() or not any(exported.iterdir())
