"""``maestro data export|import``: lossless moves between the JSON store and
PostgreSQL, both ways, through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, TestDatabase
from tests.e2e.wsclient import EventStream


def maestro(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``maestro ARGS`` with none of the developer's own settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    clean.pop("DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "maestro", *args],
        env={**clean, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, by relative path, with its bytes."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def seed(server: RunningServer) -> dict[str, Any]:
    """A little of everything: nested tasks, subtasks, timeline, links, a spawn,
    deletes, odd characters; returns what the API then lists."""
    with httpx.Client(base_url=server.url, timeout=10) as http:

        def post(path: str, body: dict[str, Any], status: int = 201) -> Any:
            response = http.post(path, json=body)
            assert response.status_code == status, response.text
            return response.json()

        project = post("/api/projects", {"name": "Moving ✈", "workingDir": "/tmp/w"})
        other = post("/api/projects", {"name": "Other", "description": "line\nbreak"})
        pid = project["id"]
        root = post("/api/tasks", {"projectId": pid, "title": "Root", "priority": "high"})
        child = post("/api/tasks", {"projectId": pid, "title": "Child", "parentId": root["id"]})
        post(f"/api/tasks/{root['id']}/subtasks", {"title": "step one"})
        post(f"/api/tasks/{root['id']}/timeline", {"message": "halfway", "type": "milestone"}, 200)
        doomed = post("/api/tasks", {"projectId": pid, "title": "Doomed"})
        session = post(
            "/api/sessions",
            {"projectId": pid, "taskIds": [root["id"], child["id"]], "metadata": {"n": 1.5}},
        )
        post("/api/sessions/spawn", {"projectId": pid, "taskIds": [child["id"]]})
        assert http.patch(f"/api/sessions/{session['id']}", json={"status": "completed"}).is_success
        assert http.delete(f"/api/tasks/{doomed['id']}").is_success
        post("/api/tasks", {"projectId": other["id"], "title": "Elsewhere"})
        return listing(http)


def listing(http: httpx.Client) -> dict[str, Any]:
    return {
        "projects": http.get("/api/projects").json(),
        "tasks": http.get("/api/tasks").json(),
        "sessions": http.get("/api/sessions").json(),
    }


@pytest.fixture
def json_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = RunningServer(tmp_path / "json-data")
    yield server
    server.stop()


@pytest.fixture
def pg_server(tmp_path: Path, store_url: str) -> Iterator[RunningServer]:
    server = RunningServer(tmp_path / "unused", env={"MAESTRO_DATABASE_URL": store_url})
    yield server
    server.stop()


def test_json_to_postgres_and_back_gives_back_the_same_files(
    tmp_path: Path, json_server: RunningServer, store_url: str
) -> None:
    json_server.start()
    seed(json_server)
    json_server.stop()
    exported, again = tmp_path / "exported", tmp_path / "again"

    done = maestro("data", "export", str(exported), "--data-dir", str(json_server.data_dir))
    assert done.returncode == 0, done.stderr
    assert files(exported) == files(json_server.data_dir), "an export of a JSON store is a copy"

    done = maestro("data", "import", str(exported), "--database-url", store_url, "--json")
    assert done.returncode == 0, done.stderr
    assert '"success":true' in done.stdout
    done = maestro("data", "export", str(again), env={"MAESTRO_DATABASE_URL": store_url})
    assert done.returncode == 0, done.stderr
    assert files(again) == files(exported)


def test_postgres_to_json_and_back_gives_back_the_same_store(
    tmp_path: Path, pg_server: RunningServer, test_database: TestDatabase, store_url: str
) -> None:
    pg_server.start()
    before = seed(pg_server)
    with EventStream(pg_server.ws_url + "?since=0") as replay:
        events = replay.sync()
    store_id = httpx.get(f"{pg_server.url}/health").json()["storeId"]
    pg_server.stop()
    exported, json_dir, again = tmp_path / "exported", tmp_path / "json", tmp_path / "again"

    assert maestro("data", "export", str(exported), "--database-url", store_url).returncode == 0
    done = maestro("data", "import", str(exported), "--data-dir", str(json_dir))
    assert done.returncode == 0, done.stderr
    assert maestro("data", "export", str(again), "--data-dir", str(json_dir)).returncode == 0
    assert files(again) == files(exported)

    second_url = test_database.new_store_url()
    try:
        done = maestro("data", "import", str(again), "--database-url", second_url)
        assert done.returncode == 0, done.stderr
        moved = RunningServer(tmp_path / "unused2", env={"MAESTRO_DATABASE_URL": second_url})
        moved.start()
        try:
            with (
                httpx.Client(base_url=moved.url) as http,
                EventStream(moved.ws_url + "?since=0") as replay,
            ):
                assert listing(http) == before
                assert replay.sync() == events, "the event tail moves with the store"
                assert http.get("/health").json()["storeId"] == store_id, "and its identity"
                http.post("/api/projects", json={"name": "After the move"})
                assert replay.receive()["seq"] == events[-1]["seq"] + 1
        finally:
            moved.stop()
    finally:
        test_database.drop(second_url)


def test_a_json_export_serves_as_a_data_directory(
    tmp_path: Path, pg_server: RunningServer, store_url: str
) -> None:
    pg_server.start()
    before = seed(pg_server)
    pg_server.stop()
    exported = tmp_path / "exported"
    assert maestro("data", "export", str(exported), "--database-url", store_url).returncode == 0
    server = RunningServer(exported).start()
    try:
        with httpx.Client(base_url=server.url) as http:
            assert listing(http) == before
    finally:
        server.stop()


def test_export_refuses_a_non_empty_directory_without_force(
    tmp_path: Path, pg_server: RunningServer, store_url: str
) -> None:
    pg_server.start()
    seed(pg_server)
    pg_server.stop()
    target = tmp_path / "target"
    target.mkdir()
    (target / "notes.txt").write_text("mine")

    refused = maestro("data", "export", str(target), "--database-url", store_url)
    assert refused.returncode == 1
    assert "is not empty; pass --force" in refused.stderr
    assert files(target) == {"notes.txt": b"mine"}

    forced = maestro("data", "export", str(target), "--database-url", store_url, "--force")
    assert forced.returncode == 0, forced.stderr
    assert (target / "notes.txt").read_text() == "mine", "only the store's own entries go"
    assert (target / "projects").is_dir()


def test_import_refuses_a_non_empty_store_without_force(
    tmp_path: Path, json_server: RunningServer, pg_server: RunningServer, store_url: str
) -> None:
    json_server.start()
    wanted = seed(json_server)
    json_server.stop()
    pg_server.start()
    with httpx.Client(base_url=pg_server.url) as http:
        http.post("/api/projects", json={"name": "Already here"})
    pg_server.stop()

    refused = maestro("data", "import", str(json_server.data_dir), "--database-url", store_url)
    assert refused.returncode == 1
    assert "the PostgreSQL store at" in refused.stderr
    assert "is not empty; pass --force" in refused.stderr

    forced = maestro(
        "data", "import", str(json_server.data_dir), "--database-url", store_url, "--force"
    )
    assert forced.returncode == 0, forced.stderr
    pg_server.start()
    with httpx.Client(base_url=pg_server.url) as http:
        assert listing(http) == wanted, "--force replaces, it does not merge"


def test_import_into_a_non_empty_json_store_is_refused(
    tmp_path: Path, json_server: RunningServer
) -> None:
    json_server.start()
    seed(json_server)
    json_server.stop()
    target = tmp_path / "busy"
    RunningServer(target).start().stop()  # an empty store: importing into it is fine
    assert (
        maestro("data", "import", str(json_server.data_dir), "--data-dir", str(target)).returncode
        == 0
    )
    again = maestro("data", "import", str(json_server.data_dir), "--data-dir", str(target))
    assert again.returncode == 1
    assert f"the JSON store in {target} is not empty; pass --force" in again.stderr


def test_import_refuses_a_directory_with_an_unreadable_file(
    tmp_path: Path, json_server: RunningServer, store_url: str
) -> None:
    json_server.start()
    seed(json_server)
    json_server.stop()
    broken = next((json_server.data_dir / "projects").iterdir())
    broken.write_text("{not json")
    done = maestro("data", "import", str(json_server.data_dir), "--database-url", store_url)
    assert done.returncode == 1
    assert broken.name in done.stderr and "is not a valid project" in done.stderr


def test_data_commands_without_a_store_say_so(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    done = maestro("data", "export", str(tmp_path / "out"), "--data-dir", str(missing))
    assert done.returncode == 1
    assert f"there is no JSON store in {missing}" in done.stderr
    done = maestro("data", "import", str(missing), "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 1
    assert "is not a directory" in done.stderr
