"""Several ``maestro serve`` instances on one PostgreSQL database (SPEC section 10).

Every rule holds across instances, and every WebSocket client, whichever instance
it is connected to, sees every change in the one global order.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

from tests.conftest import RunningServer, TestDatabase
from tests.e2e.wsclient import EventStream, Message
from tests.helpers import make_project, make_task, ok
from tests.test_concurrency import assert_links_symmetric

Instances = Callable[..., list[RunningServer]]


def read_until(stream: EventStream, done: Callable[[Message], bool]) -> list[Message]:
    """Messages up to and including the first one ``done`` accepts."""
    messages = []
    while True:
        message = stream.receive(timeout=10)
        messages.append(message)
        if done(message):
            return messages


def marker(http: httpx.Client) -> Callable[[Message], bool]:
    """Create a project through ``http``; return a test for its ``project:created``.

    Made after every other write has been answered, it has the highest ``seq``, so
    a client that has it has everything before it (delivery is in seq order).
    """
    project_id = ok(http.post("/api/projects", json={"name": "end marker"}), 201)["id"]
    return lambda m: m["event"] == "project:created" and m["data"]["id"] == project_id


@contextmanager
def clients_of_both(
    pair: tuple[RunningServer, RunningServer], count: int
) -> Iterator[list[httpx.Client]]:
    """``count`` clients, of instance A and B in turn (A first); closed afterwards."""
    clients = [httpx.Client(base_url=pair[i % 2].url, timeout=30) for i in range(count)]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


@pytest.fixture
def pair(instances: Instances) -> Iterator[tuple[RunningServer, RunningServer]]:
    a, b = instances(2)
    yield a, b


def test_a_change_through_one_instance_reaches_clients_of_the_other(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    a, b = pair
    with EventStream(b.ws_url) as on_b, httpx.Client(base_url=a.url, timeout=10) as http:
        sent = time.monotonic()
        project = ok(http.post("/api/projects", json={"name": "Made on A"}), 201)
        message = on_b.receive(timeout=5)
        elapsed = time.monotonic() - sent
    assert message["event"] == "project:created"
    assert message["data"] == project
    assert message["seq"] == 1
    # The figure to hold (p99 < 100 ms) is measured by benchmarks/postgres_bench.py;
    # here only that it comes promptly, not after a periodic catch-up.
    assert elapsed < 2.0, f"took {elapsed:.3f}s"


def test_reads_on_one_instance_see_writes_made_through_the_other(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    a, b = pair
    with httpx.Client(base_url=a.url) as on_a, httpx.Client(base_url=b.url) as on_b:
        project = ok(on_a.post("/api/projects", json={"name": "Shared"}), 201)
        task = ok(on_b.post("/api/tasks", json={"projectId": project["id"], "title": "T"}), 201)
        patched = ok(on_a.patch(f"/api/tasks/{task['id']}", json={"status": "in_progress"}))
        assert ok(on_b.get(f"/api/tasks/{task['id']}")) == patched
        assert ok(on_b.get("/api/tasks", params={"projectId": project["id"]})) == [patched]
        assert ok(on_a.get("/health"))["counts"] == ok(on_b.get("/health"))["counts"]


def mixed_writes(http: httpx.Client, project_id: str, seed: int, rounds: int) -> None:
    """Creates, links, unlinks, PATCHes and deletes in one project, in random order."""
    rng = random.Random(seed)
    tasks = [ok(http.post("/api/tasks", json={"projectId": project_id, "title": "t"}), 201)["id"]]
    sessions: list[str] = []
    for _ in range(rounds):
        action = rng.choice(["task", "session", "link", "unlink", "patch", "delete", "timeline"])
        if action == "task" or not tasks:
            body = {"projectId": project_id, "title": f"t{seed}"}
            tasks.append(ok(http.post("/api/tasks", json=body), 201)["id"])
        elif action == "session":
            session_body = {
                "projectId": project_id,
                "taskIds": rng.sample(tasks, min(2, len(tasks))),
            }
            response = http.post("/api/sessions", json=session_body)
            # Another thread may have deleted one of the tasks in between.
            assert response.status_code in (201, 404), response.text
            if response.status_code == 201:
                sessions.append(response.json()["id"])
        elif action in ("link", "unlink") and sessions:
            method = "POST" if action == "link" else "DELETE"
            path = f"/api/sessions/{rng.choice(sessions)}/tasks/{rng.choice(tasks)}"
            assert http.request(method, path).status_code in (200, 404)
        elif action == "patch":
            body = {"status": rng.choice(["pending", "in_progress", "completed", "blocked"])}
            assert http.patch(f"/api/tasks/{rng.choice(tasks)}", json=body).status_code in (
                200,
                404,
            )
        elif action == "timeline":
            path = f"/api/tasks/{rng.choice(tasks)}/timeline"
            assert http.post(path, json={"message": "note"}).status_code in (200, 404)
        elif action == "delete" and len(tasks) > 1:
            victim = tasks.pop(rng.randrange(len(tasks)))
            assert http.delete(f"/api/tasks/{victim}").status_code in (200, 404)
        elif sessions:
            victim = sessions.pop(rng.randrange(len(sessions)))
            assert http.delete(f"/api/sessions/{victim}").status_code in (200, 404)


def test_concurrent_mixed_writes_through_both_instances_keep_links_and_one_event_order(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    a, b = pair
    with httpx.Client(base_url=a.url, timeout=30) as setup:
        project_id = make_project(setup, name="Busy")["id"]
    threads = 8
    barrier = threading.Barrier(threads)

    # From seq 1 (the project) on, whether or not B had passed it on yet.
    with (
        clients_of_both(pair, threads) as clients,
        EventStream(f"{a.ws_url}?since=1") as on_a,
        EventStream(f"{b.ws_url}?since=1") as on_b,
    ):

        def work(index: int) -> None:
            barrier.wait()
            mixed_writes(clients[index], project_id, seed=index, rounds=25)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(threads)))
        is_last = marker(clients[1])  # through B
        seen_a = read_until(on_a, is_last)
        seen_b = read_until(on_b, is_last)
    assert [m["seq"] for m in seen_a] == list(range(2, 2 + len(seen_a)))
    assert seen_a == seen_b, "the two instances delivered different events or orders"
    for server in (a, b):
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert_links_symmetric(http, project_id)


def test_concurrent_patches_of_one_task_through_both_instances_lose_nothing(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    a, b = pair
    with httpx.Client(base_url=a.url, timeout=30) as setup:
        task = make_task(setup, make_project(setup, name="Hot")["id"], title="T")
    threads, per_thread = 8, 6
    barrier = threading.Barrier(threads)

    with clients_of_both(pair, threads) as clients:

        def work(index: int) -> list[int]:
            barrier.wait()
            stamps = []
            for k in range(per_thread):
                body = {"timeline": [{"type": "update", "message": f"{index}:{k}"}]}
                patched = ok(clients[index].patch(f"/api/tasks/{task['id']}", json=body))
                stamps.append(patched["updatedAt"])
            return stamps

        with ThreadPoolExecutor(threads) as pool:
            stamps = [s for result in pool.map(work, range(threads)) for s in result]
    with httpx.Client(base_url=b.url) as http:
        stored = ok(http.get(f"/api/tasks/{task['id']}"))
    messages = {e.get("message") for e in stored["timeline"]}
    assert {f"{i}:{k}" for i in range(threads) for k in range(per_thread)} <= messages
    assert len(set(stamps)) == len(stamps), "two PATCHes got the same updatedAt"


def test_replay_on_one_instance_includes_events_written_through_the_other(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    a, b = pair
    with httpx.Client(base_url=a.url) as on_a, EventStream(b.ws_url) as live_b:
        ok(on_a.post("/api/projects", json={"name": "One"}), 201)
        ok(on_a.post("/api/projects", json={"name": "Two"}), 201)
        read_until(live_b, lambda m: m["seq"] == 2)
    with EventStream(f"{b.ws_url}?since=0") as replay:
        events = [replay.receive(), replay.receive()]
    assert [e["data"]["name"] for e in events] == ["One", "Two"]
    assert [e["seq"] for e in events] == [1, 2]


def test_a_restarted_instance_continues_the_shared_sequence(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    a, b = pair
    with httpx.Client(base_url=a.url) as on_a:
        ok(on_a.post("/api/projects", json={"name": "Before"}), 201)
    b.restart()
    with (
        EventStream(f"{b.ws_url}?since=0") as on_b,
        httpx.Client(base_url=a.url) as on_a,
    ):
        assert on_b.receive()["seq"] == 1
        ok(on_a.post("/api/projects", json={"name": "After"}), 201)
        after = on_b.receive()
    assert (after["seq"], after["data"]["name"]) == (2, "After")


def test_an_instance_whose_listen_connection_is_cut_reconnects_and_misses_nothing(
    pair: tuple[RunningServer, RunningServer], test_database: TestDatabase, store_url: str
) -> None:
    a, b = pair
    schema = store_url.rsplit("%3D", 1)[-1]
    with EventStream(b.ws_url) as on_b, httpx.Client(base_url=a.url) as on_a:
        ok(on_a.post("/api/projects", json={"name": "Before the cut"}), 201)
        read_until(on_b, lambda m: m["seq"] == 1)
        cut = test_database.connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (f"maestro listener {schema}"[:63],),
        ).fetchall()
        assert len(cut) == 2, "expected one listener per instance"
        # Written while B may still be reconnecting: it must arrive all the same.
        for name in ("During", "the", "reconnect"):
            ok(on_a.post("/api/projects", json={"name": name}), 201)
        seen = read_until(on_b, lambda m: m["seq"] == 4)
    assert [m["data"]["name"] for m in seen] == ["During", "the", "reconnect"]
