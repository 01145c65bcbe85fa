"""Concurrent requests never lose each other's updates (SPEC section 11).

Many threads, each with its own connection, fire at once (a barrier releases them
together) at one shared server; afterwards the store must hold every acknowledged
change, links must be symmetric, and no request may have had a 5xx.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import RunningServer

THREADS = 16
R = TypeVar("R")


@pytest.fixture
def fresh_project(api: httpx.Client) -> str:
    response = api.post("/api/projects", json={"name": "Concurrency"})
    assert response.status_code == 201, response.text
    project_id: str = response.json()["id"]
    return project_id


@pytest.fixture
def clients(shared_server: RunningServer) -> Iterator[list[httpx.Client]]:
    """One client (one connection) per thread."""
    made = [httpx.Client(base_url=shared_server.url, timeout=30) for _ in range(THREADS)]
    yield made
    for client in made:
        client.close()


def all_at_once(clients: list[httpx.Client], work: Callable[[int, httpx.Client], R]) -> list[R]:
    """Run ``work(index, client)`` on every client in its own thread, started together."""
    barrier = threading.Barrier(len(clients))

    def run(index: int) -> R:
        barrier.wait()
        return work(index, clients[index])

    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(run, range(len(clients))))


def create(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def assert_links_symmetric(api: httpx.Client, project_id: str) -> None:
    tasks = api.get("/api/tasks", params={"projectId": project_id}).json()
    sessions = api.get("/api/sessions", params={"projectId": project_id}).json()
    from_tasks = {(s, t["id"]) for t in tasks for s in t["sessionIds"]}
    from_sessions = {(s["id"], t) for s in sessions for t in s["taskIds"]}
    assert from_tasks == from_sessions
    task_ids, session_ids = {t["id"] for t in tasks}, {s["id"] for s in sessions}
    assert {t for _, t in from_sessions} <= task_ids, "a session lists a deleted task"
    assert {s for s, _ in from_tasks} <= session_ids, "a task lists a deleted session"
    for task in tasks:
        assert len(task["sessionIds"]) == len(set(task["sessionIds"])), task
    for session in sessions:
        assert len(session["taskIds"]) == len(set(session["taskIds"])), session


def test_concurrent_patches_of_one_task_keep_every_timeline_entry(
    api: httpx.Client, fresh_project: str, clients: list[httpx.Client]
) -> None:
    task = create(api, "/api/tasks", {"projectId": fresh_project, "title": "Hot task"})
    per_thread = 5

    def patch(index: int, client: httpx.Client) -> list[int]:
        statuses = []
        for n in range(per_thread):
            entry = {"type": "update", "message": f"entry {index}-{n}"}
            response = client.patch(f"/api/tasks/{task['id']}", json={"timeline": [entry]})
            statuses.append(response.status_code)
        return statuses

    statuses = [s for batch in all_at_once(clients, patch) for s in batch]

    assert statuses == [200] * THREADS * per_thread
    timeline = api.get(f"/api/tasks/{task['id']}").json()["timeline"]
    messages = [e["message"] for e in timeline if e["type"] == "update"]
    expected = {f"entry {i}-{n}" for i in range(THREADS) for n in range(per_thread)}
    assert sorted(messages) == sorted(expected)


def test_concurrent_patches_of_different_fields_all_take_effect(
    api: httpx.Client, fresh_project: str, clients: list[httpx.Client]
) -> None:
    task = create(api, "/api/tasks", {"projectId": fresh_project, "title": "Hot task"})
    changes: list[dict[str, Any]] = [
        {"title": "New title"},
        {"description": "New description"},
        {"initialPrompt": "New prompt"},
        {"priority": "high"},
        {"status": "in_progress"},
        {"skillIds": ["maestro-worker"]},
        {"agentIds": ["claude"]},
    ]
    work = clients[: len(changes)]

    def patch(index: int, client: httpx.Client) -> int:
        return client.patch(f"/api/tasks/{task['id']}", json=changes[index]).status_code

    assert all_at_once(work, patch) == [200] * len(changes)
    stored = api.get(f"/api/tasks/{task['id']}").json()
    for change in changes:
        for name, value in change.items():
            assert stored[name] == value, f"lost update of {name}"


def test_concurrent_links_unlinks_and_deletes_leave_links_symmetric(
    api: httpx.Client, fresh_project: str, clients: list[httpx.Client]
) -> None:
    tasks = [
        create(api, "/api/tasks", {"projectId": fresh_project, "title": f"T{i}"})["id"]
        for i in range(4)
    ]
    sessions = [
        create(api, "/api/sessions", {"projectId": fresh_project, "taskIds": []})["id"]
        for _ in range(4)
    ]

    # A few threads delete one session or one task part-way through.
    deletes = {(0, 10): "sessions", (4, 20): "sessions", (1, 12): "tasks", (5, 20): "tasks"}

    def churn(index: int, client: httpx.Client) -> list[int]:
        rng = random.Random(index)
        statuses = []
        for step in range(25):
            session, task = rng.choice(sessions), rng.choice(tasks)
            action = rng.randrange(5)
            if (index, step) in deletes:
                kind = deletes[index, step]
                response = client.delete(f"/api/{kind}/{session if kind == 'sessions' else task}")
            elif action == 0:
                response = client.post(f"/api/sessions/{session}/tasks/{task}")
            elif action == 1:
                response = client.delete(f"/api/sessions/{session}/tasks/{task}")
            elif action == 2:
                wanted = rng.sample(sessions, rng.randrange(4))
                response = client.patch(f"/api/tasks/{task}", json={"sessionIds": wanted})
            elif action == 3:
                wanted = rng.sample(tasks, rng.randrange(4))
                response = client.patch(f"/api/sessions/{session}", json={"taskIds": wanted})
            else:
                body = {"projectId": fresh_project, "taskIds": [task]}
                response = client.post("/api/sessions", json=body)
                if response.status_code == 201:
                    sessions.append(response.json()["id"])
            statuses.append(response.status_code)
        return statuses

    statuses = [s for batch in all_at_once(clients, churn) for s in batch]

    # 404 is the fair answer for naming what another thread deleted.
    assert set(statuses) <= {200, 201, 404}, sorted(set(statuses))
    assert statuses.count(200) + statuses.count(201) > len(statuses) // 2
    assert_links_symmetric(api, fresh_project)


def test_link_racing_a_delete_of_its_task_leaves_no_dangling_id(
    api: httpx.Client, fresh_project: str, clients: list[httpx.Client]
) -> None:
    session = create(api, "/api/sessions", {"projectId": fresh_project, "taskIds": []})["id"]
    for _ in range(5):
        task = create(api, "/api/tasks", {"projectId": fresh_project, "title": "Doomed"})["id"]

        def race(index: int, client: httpx.Client, task: str = task) -> int:  # this round
            if index == 0:
                return client.delete(f"/api/tasks/{task}").status_code
            return client.post(f"/api/sessions/{session}/tasks/{task}").status_code

        statuses = all_at_once(clients, race)

        assert statuses[0] == 200
        assert set(statuses[1:]) <= {200, 404}
        assert task not in api.get(f"/api/sessions/{session}").json()["taskIds"]
    assert_links_symmetric(api, fresh_project)


def test_concurrent_creates_are_all_stored(
    api: httpx.Client, fresh_project: str, clients: list[httpx.Client]
) -> None:
    task = create(api, "/api/tasks", {"projectId": fresh_project, "title": "Anchor"})

    def create_many(index: int, client: httpx.Client) -> list[tuple[str, int, str]]:
        made = []
        for n in range(4):
            kind = ("tasks", "sessions", "subtasks")[(index + n) % 3]
            if kind == "tasks":
                body: dict[str, Any] = {"projectId": fresh_project, "title": f"T{index}-{n}"}
                response = client.post("/api/tasks", json=body)
            elif kind == "sessions":
                body = {"projectId": fresh_project, "taskIds": [task["id"]]}
                response = client.post("/api/sessions", json=body)
            else:
                body = {"title": f"S{index}-{n}"}
                response = client.post(f"/api/tasks/{task['id']}/subtasks", json=body)
            made.append((kind, response.status_code, response.json().get("id", "")))
        return made

    made = [m for batch in all_at_once(clients, create_many) for m in batch]

    assert {status for _, status, _ in made} == {201}
    ids = [made_id for _, _, made_id in made]
    assert len(set(ids)) == len(ids), "two creates got the same id"
    tasks = {t["id"] for t in api.get("/api/tasks", params={"projectId": fresh_project}).json()}
    sessions = api.get("/api/sessions", params={"projectId": fresh_project}).json()
    stored = api.get(f"/api/tasks/{task['id']}").json()
    assert {i for kind, _, i in made if kind == "tasks"} <= tasks
    assert {i for kind, _, i in made if kind == "sessions"} == {s["id"] for s in sessions}
    assert {i for kind, _, i in made if kind == "subtasks"} == {s["id"] for s in stored["subtasks"]}
    assert sorted(s["order"] for s in stored["subtasks"]) == list(range(len(stored["subtasks"])))
    assert set(stored["sessionIds"]) == {s["id"] for s in sessions}
