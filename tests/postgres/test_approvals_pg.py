"""Approvals on PostgreSQL: the store itself (in process, on a throw-away schema),
and two ``maestro serve`` instances on one database: a long-poll on one woken by
a decision on the other, and races (two decisions, a decision and the expiry)
that each approval leaves with exactly one winner and one ``approval:decided``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from maestro.domain.models import Approval
from maestro.store.base import ApprovalQuery
from maestro.store.jsonfs import JsonFileStore
from maestro.store.postgres import PostgresStore
from maestro.store.transfer import read_store
from tests.conftest import RunningServer, TestDatabase
from tests.e2e.wsclient import EventStream, Message
from tests.helpers import make_project, make_session, make_task, ok
from tests.postgres.test_instances import marker, read_until
from tests.server.in_process import InProcessApi

Instances = Callable[..., list[RunningServer]]


def new_session(http: Any) -> dict[str, Any]:
    project = make_project(http)
    task = make_task(http, project["id"])
    return make_session(http, project["id"], [task["id"]])


def file_approval(http: Any, session_id: str, tool: str = "Bash") -> dict[str, Any]:
    body = {"tool": tool, "input": {"command": "make release"}}
    approval: dict[str, Any] = ok(
        http.post(f"/api/sessions/{session_id}/approvals", json=body), 201
    )
    return approval


# -- the store, in process ---------------------------------------------------------------


@pytest.fixture
def on_postgres(tmp_path: Path, store_url: str) -> Iterator[InProcessApi]:
    """The whole application in this process, on this test's schema."""
    api = InProcessApi(tmp_path / "unused", database_url=store_url)
    yield api
    api.close()


def test_approvals_are_listed_filtered_and_oldest_first(on_postgres: InProcessApi) -> None:
    api = on_postgres
    one, two = new_session(api), new_session(api)
    first = file_approval(api, one["id"])
    second = file_approval(api, two["id"])
    third = file_approval(api, one["id"], "Edit")
    ok(api.post(f"/api/approvals/{second['id']}/decision", json={"decision": "allow"}))
    assert [a["id"] for a in ok(api.get("/api/approvals"))] == [
        first["id"],
        second["id"],
        third["id"],
    ]
    pending = ok(api.get("/api/approvals", params={"status": "pending", "sessionId": one["id"]}))
    assert pending == [first, third]
    by_project = ok(api.get("/api/approvals", params={"projectId": two["projectId"]}))
    assert [a["status"] for a in by_project] == ["allowed"]


def test_a_sessions_approvals_and_attention_on_postgres(on_postgres: InProcessApi) -> None:
    api = on_postgres
    session = new_session(api)
    approval = file_approval(api, session["id"])
    assert ok(api.get(f"/api/sessions/{session['id']}"))["attention"] == "approval"
    ok(api.post(f"/api/approvals/{approval['id']}/decision", json={"decision": "deny"}))
    assert ok(api.get(f"/api/sessions/{session['id']}"))["attention"] is None
    file_approval(api, session["id"])
    ok(api.delete(f"/api/sessions/{session['id']}"))
    assert ok(api.get("/api/approvals", params={"sessionId": session["id"]})) == []


def test_the_expiry_sweep_reads_a_partial_index_of_the_pending(
    test_database: TestDatabase, store_url: str, on_postgres: InProcessApi
) -> None:
    schema = store_url.rsplit("%3D", 1)[-1]
    rows = test_database.connection.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'approvals'",
        (schema,),
    ).fetchall()
    assert any("(expires_at) WHERE (status = 'pending'" in row[0] for row in rows), rows


def test_approvals_move_between_the_stores_as_they_are(tmp_path: Path, store_url: str) -> None:
    json_api = InProcessApi(tmp_path / "json")
    session = new_session(json_api)
    decided = file_approval(json_api, session["id"])
    ok(json_api.post(f"/api/approvals/{decided['id']}/decision", json={"decision": "allow"}))
    file_approval(json_api, session["id"], "Edit")
    listed = ok(json_api.get("/api/approvals"))
    json_api.close()

    async def move() -> list[Approval]:
        source = JsonFileStore(tmp_path / "json")
        await source.open()
        snapshot = await read_store(source)
        await source.close()
        target = PostgresStore(store_url)
        await target.open()
        await target.restore(snapshot.entities(), snapshot.events, snapshot.store_id)
        await target.close()
        again = PostgresStore(store_url)
        await again.open()
        try:
            return await again.find_approvals(ApprovalQuery())
        finally:
            await again.close()

    moved = asyncio.run(move())
    assert [a.id for a in moved] == [a["id"] for a in listed]
    on_pg = InProcessApi(tmp_path / "unused", database_url=store_url)
    try:
        assert ok(on_pg.get("/api/approvals")) == listed
    finally:
        on_pg.close()


# -- two instances -----------------------------------------------------------------------


@pytest.fixture
def pair(instances: Instances) -> Iterator[tuple[RunningServer, RunningServer]]:
    a, b = instances(2)
    yield a, b


def test_a_long_poll_on_one_instance_is_woken_by_a_decision_on_the_other(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    a, b = pair
    with (
        httpx.Client(base_url=a.url, timeout=30) as on_a,
        httpx.Client(base_url=b.url, timeout=30) as on_b,
    ):
        approval = file_approval(on_a, new_session(on_a)["id"])
        path = f"/api/approvals/{approval['id']}"
        result: list[Any] = []

        def poll() -> None:
            started = time.monotonic()
            result.append(on_a.get(path, params={"wait": "30"}))
            result.append(time.monotonic() - started)

        thread = threading.Thread(target=poll)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive(), "the long-poll on A should be waiting"
        decided_at = time.monotonic()
        decided = ok(on_b.post(f"{path}/decision", json={"decision": "allow", "decidedBy": "B"}))
        thread.join(15)
        woken_after = time.monotonic() - decided_at
    answer, _ = result
    assert ok(answer) == decided
    # Sooner than the instances' 5 s catch-up: the notification woke it.
    assert woken_after < 3, f"A's long-poll ended {woken_after:.1f}s after B's decision"


def decided_events(messages: list[Message]) -> Counter[str]:
    return Counter(m["data"]["id"] for m in messages if m["type"] == "approval:decided")


def test_two_decisions_on_two_instances_have_one_winner(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    a, b = pair
    count = 12
    with (
        httpx.Client(base_url=a.url, timeout=30) as on_a,
        httpx.Client(base_url=b.url, timeout=30) as on_b,
        EventStream(a.ws_url) as events,
    ):
        session = new_session(on_a)
        approvals = [file_approval(on_a, session["id"]) for _ in range(count)]
        barrier = threading.Barrier(2)

        def decide(client: httpx.Client, approval_id: str, decision: str) -> httpx.Response:
            path = f"/api/approvals/{approval_id}/decision"
            barrier.wait()
            return client.post(path, json={"decision": decision})

        outcomes = []
        with ThreadPoolExecutor(2) as pool:
            for approval in approvals:
                through_a = pool.submit(decide, on_a, approval["id"], "allow")
                through_b = pool.submit(decide, on_b, approval["id"], "deny")
                outcomes.append((approval["id"], through_a.result(), through_b.result()))
        seen = read_until(events, marker(on_b))
        stored = {a["id"]: a for a in ok(on_b.get("/api/approvals"))}
    for approval_id, allow, deny in outcomes:
        assert sorted([allow.status_code, deny.status_code]) == [200, 409], (
            allow.text,
            deny.text,
        )
        winner, loser = (allow, deny) if allow.status_code == 200 else (deny, allow)
        assert loser.json()["code"] == "APPROVAL_DECIDED"
        assert loser.json()["details"] == {"status": winner.json()["status"]}
        assert stored[approval_id] == winner.json()
    assert decided_events(seen) == {approval["id"]: 1 for approval in approvals}


def test_a_decision_racing_the_expiry_on_two_instances_has_one_winner(
    instances: Instances,
) -> None:
    a, b = instances(2, MAESTRO_APPROVAL_TIMEOUT="1")
    count = 10
    with (
        httpx.Client(base_url=a.url, timeout=30) as on_a,
        httpx.Client(base_url=b.url, timeout=30) as on_b,
        EventStream(b.ws_url) as events,
    ):
        session = new_session(on_a)
        approvals = [file_approval(on_a, session["id"]) for _ in range(count)]
        # Decide each one around its deadline, alternately through A and B, while
        # both instances' sweeps (once a second) are after the same approvals.
        deadline = approvals[0]["expiresAt"] / 1000
        time.sleep(max(0.0, deadline - time.time() - 0.05))
        answers = {}
        for index, approval in enumerate(approvals):
            client = (on_a, on_b)[index % 2]
            answers[approval["id"]] = client.post(
                f"/api/approvals/{approval['id']}/decision", json={"decision": "allow"}
            )
            time.sleep(0.02)
        # Every one is decided by now, or expires within the next sweeps.
        last = approvals[-1]["id"]
        ok(on_b.get(f"/api/approvals/{last}", params={"wait": "10"}))
        for approval in approvals:
            done = ok(on_a.get(f"/api/approvals/{approval['id']}", params={"wait": "10"}))
            assert done["status"] != "pending"
        seen = read_until(events, marker(on_a))
        stored = {a["id"]: a for a in ok(on_a.get("/api/approvals"))}
    for approval_id, answer in answers.items():
        if answer.status_code == 200:
            assert stored[approval_id] == answer.json()
            assert stored[approval_id]["status"] == "allowed"
        else:
            assert answer.status_code == 409, answer.text
            assert answer.json()["details"] == {"status": "expired"}
            assert stored[approval_id]["status"] == "expired"
            assert stored[approval_id]["decidedBy"] == "maestro"
    assert decided_events(seen) == {approval["id"]: 1 for approval in approvals}
    assert ok(httpx.get(f"{b.url}/api/sessions/{session['id']}"))["attention"] is None
