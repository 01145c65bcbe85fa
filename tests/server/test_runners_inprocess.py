"""Runners in process (``in_process.InProcessApi``): registering, heartbeats,
listing, deleting, claims (one winner, labels, lost runners) and the lease sweep
(released and failed sessions), through the real application and its error
shapes, on the JSON store.

Real runner processes sharing a server are in ``tests/e2e/test_runners.py``;
claims and leases across two PostgreSQL instances in
``tests/postgres/test_runners_pg.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maestro.config import ConfigError, Settings
from tests.helpers import assert_error, ok
from tests.server.test_approvals_inprocess import Api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """Leases of 30 s: nobody is lost during a test."""
    client = Api(tmp_path / "data")
    yield client
    client.close()


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[Api]:
    """Leases of 0.3 s: a runner that does not beat is lost within about a second."""
    client = Api(tmp_path / "quick", runner_timeout=0.3)
    yield client
    client.close()


def register(api: Api, name: str = "box", **fields: Any) -> dict[str, Any]:
    body = {"name": name, "host": "host-1", "capacity": 2, **fields}
    runner: dict[str, Any] = ok(api.post("/api/runners", json=body), 201)
    return runner


def spawn(api: Api, **fields: Any) -> dict[str, Any]:
    """A spawning session on a new task of a new project."""
    project = ok(api.post("/api/projects", json={"name": "P"}), 201)
    task = ok(api.post("/api/tasks", json={"projectId": project["id"], "title": "T"}), 201)
    body = {"projectId": project["id"], "taskIds": [task["id"]], **fields}
    session: dict[str, Any] = ok(api.post("/api/sessions/spawn", json=body), 201)["session"]
    return session


def claim(api: Api, session: dict[str, Any], runner: dict[str, Any]) -> Any:
    return api.post(f"/api/sessions/{session['id']}/claim", json={"runnerId": runner["id"]})


def session_of(api: Api, session: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = ok(api.get(f"/api/sessions/{session['id']}"))
    return found


def runner_of(api: Api, runner: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = ok(api.get(f"/api/runners/{runner['id']}"))
    return found


def wait_lost(api: Api, runner: dict[str, Any], seconds: float = 5.0) -> dict[str, Any]:
    """Let time pass (the sweep runs on the event loop) until the runner is lost."""
    waited = 0.0
    while (found := runner_of(api, runner))["status"] != "lost":
        assert waited < seconds, f"runner {runner['id']} not lost after {seconds}s"
        api.sleep(0.05)
        waited += 0.05
    return found


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


# -- registering ---------------------------------------------------------------------


def test_a_runner_registers_active_with_a_lease_and_no_load(api: Api) -> None:
    before = api.hub.last_seq
    runner = register(api, labels=["gpu", "os=linux", "gpu"])

    assert runner["id"].startswith("run_")
    assert (runner["name"], runner["host"], runner["capacity"]) == ("box", "host-1", 2)
    assert runner["labels"] == ["gpu", "os=linux"]
    assert (runner["status"], runner["load"], runner["sessions"]) == ("active", 0, [])
    assert runner["lastSeen"] == runner["createdAt"]
    assert runner["expiresAt"] == runner["lastSeen"] + 30_000
    assert runner["lostAt"] is None
    [event] = api.events(before)
    assert (event["type"], event["data"]) == ("runner:created", runner)


def test_the_same_name_and_host_again_is_the_same_runner_with_what_it_says_now(
    api: Api,
) -> None:
    first = register(api, capacity=2)
    before = api.hub.last_seq

    again = register(api, capacity=5, labels=["gpu"], id=first["id"])

    assert again["id"] == first["id"]
    assert (again["capacity"], again["labels"], again["status"]) == (5, ["gpu"], "active")
    assert again["updatedAt"] > first["updatedAt"]
    assert kinds(api.events(before)) == ["runner:updated"]
    assert [r["id"] for r in ok(api.get("/api/runners"))] == [first["id"]]


def test_an_active_runners_name_is_not_taken_without_its_id(api: Api) -> None:
    first = register(api)

    body = assert_error(
        api.post("/api/runners", json={"name": " box ", "host": "host-1", "capacity": 1}),
        409,
        "RUNNER_NAME_TAKEN",
    )

    assert body["details"] == {"runnerId": first["id"]}
    assert "give this one another name" in body["message"]
    # Another name, or another host, is another runner.
    assert register(api, name="box-2")["id"] != first["id"]
    assert register(api, host="host-2")["id"] != first["id"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"host": "h", "capacity": 1}, "name is required"),
        ({"name": "  ", "host": "h", "capacity": 1}, "name is required"),
        ({"name": "a\nb", "host": "h", "capacity": 1}, None),
        ({"name": "a", "host": "h"}, "capacity is required"),
        ({"name": "a", "host": "h", "capacity": 0}, "capacity must be at least 1"),
        ({"name": "a", "host": "h", "capacity": 1001}, "capacity must be at most 1000"),
        ({"name": "a", "host": "h", "capacity": 1, "labels": ["-gpu"]}, None),
        ({"name": "a", "host": "h", "capacity": 1, "labels": ["x"] * 33}, None),
        ({"name": "a", "host": "h", "capacity": 1, "id": "../x"}, None),
    ],
)
def test_a_bad_registration_is_refused_naming_the_field(
    api: Api, body: dict[str, Any], message: str | None
) -> None:
    error = assert_error(api.post("/api/runners", json=body), 400, "VALIDATION_ERROR", message)
    assert error["details"]["field"] in error["message"]
    assert ok(api.get("/api/runners")) == []


# -- heartbeats -----------------------------------------------------------------------


def test_a_heartbeat_extends_the_lease_and_says_how_long_it_is(api: Api) -> None:
    runner = register(api)
    api.sleep(0.01)

    beat = ok(api.post(f"/api/runners/{runner['id']}/heartbeat", json={}))

    assert beat["timeout"] == 30
    assert beat["runner"]["lastSeen"] > runner["lastSeen"]
    assert beat["runner"]["expiresAt"] == beat["runner"]["lastSeen"] + 30_000
    assert runner_of(api, runner) == beat["runner"]


def test_a_heartbeat_that_only_extends_the_lease_emits_nothing(api: Api) -> None:
    runner = register(api)
    before = api.hub.last_seq

    ok(api.post(f"/api/runners/{runner['id']}/heartbeat", json={}))
    ok(api.post(f"/api/runners/{runner['id']}/heartbeat", json={"sessions": []}))

    assert api.events(before) == []


def test_a_heartbeat_reporting_other_sessions_is_announced(api: Api) -> None:
    runner = register(api)
    before = api.hub.last_seq

    body = {"sessions": ["sess_b", "sess_a", "sess_b"]}
    beat = ok(api.post(f"/api/runners/{runner['id']}/heartbeat", json=body))

    assert beat["runner"]["sessions"] == ["sess_b", "sess_a"]
    [event] = api.events(before)
    assert (event["type"], event["data"]) == ("runner:updated", beat["runner"])


def test_a_heartbeat_of_an_unknown_runner_is_404(api: Api) -> None:
    assert_error(api.post("/api/runners/run_1_nobody/heartbeat", json={}), 404, "RUNNER_NOT_FOUND")


# -- listing and deleting --------------------------------------------------------------


def test_runners_are_listed_oldest_first_with_their_load(api: Api) -> None:
    first, second = register(api, "a"), register(api, "b")
    for session in (spawn(api), spawn(api)):
        ok(claim(api, session, second))
    finished = spawn(api)
    ok(claim(api, finished, second))
    ok(api.patch(f"/api/sessions/{finished['id']}", json={"status": "completed"}))

    listed = ok(api.get("/api/runners"))

    assert [(r["id"], r["load"]) for r in listed] == [(first["id"], 0), (second["id"], 2)]
    assert ok(api.get("/api/runners", params={"status": "lost"})) == []
    assert_error(api.get("/api/runners", params={"status": "gone"}), 400, "VALIDATION_ERROR")
    held = ok(api.get("/api/sessions", params={"runnerId": second["id"], "active": "true"}))
    assert len(held) == 2


def test_deleting_a_runner_releases_what_it_has_not_started(api: Api) -> None:
    runner = register(api)
    waiting, started = spawn(api), spawn(api)
    ok(claim(api, waiting, runner))
    ok(claim(api, started, runner))
    ok(api.patch(f"/api/sessions/{started['id']}", json={"status": "running"}))
    before = api.hub.last_seq

    assert ok(api.delete(f"/api/runners/{runner['id']}")) == {"success": True, "id": runner["id"]}

    assert "runnerId" not in session_of(api, waiting)["metadata"]
    assert session_of(api, waiting)["status"] == "spawning"
    kept = session_of(api, started)
    assert (kept["status"], kept["metadata"]["runnerId"]) == ("running", runner["id"])
    assert kinds(api.events(before)) == ["runner:deleted", "session:updated"]
    assert_error(api.get(f"/api/runners/{runner['id']}"), 404, "RUNNER_NOT_FOUND")
    assert_error(api.delete(f"/api/runners/{runner['id']}"), 404, "RUNNER_NOT_FOUND")


def test_deleting_a_runner_keeps_the_sessions_it_said_it_runs(api: Api) -> None:
    runner = register(api)
    opened, left = spawn(api), spawn(api)
    for session in (opened, left):
        ok(claim(api, session, runner))
    body = {"sessions": [opened["id"]]}
    ok(api.post(f"/api/runners/{runner['id']}/heartbeat", json=body))

    ok(api.delete(f"/api/runners/{runner['id']}"))

    assert session_of(api, opened)["metadata"]["runnerId"] == runner["id"]
    assert "runnerId" not in session_of(api, left)["metadata"]


# -- claims ------------------------------------------------------------------------------


def test_a_spawning_session_is_claimed_by_the_first_runner_to_ask(api: Api) -> None:
    first, second = register(api, "a", host="laptop"), register(api, "b")
    session = spawn(api)
    before = api.hub.last_seq

    won = ok(claim(api, session, first))
    lost = assert_error(claim(api, session, second), 409, "ALREADY_CLAIMED")

    assert won["token"] is None
    claimed = won["session"]
    assert claimed["metadata"]["runnerId"] == first["id"]
    assert claimed["metadata"]["claimedAt"] >= session["startedAt"]
    assert claimed["hostname"] == "laptop"
    assert claimed["status"] == "spawning"
    assert claimed["lastActivity"] > session["lastActivity"]
    assert session_of(api, session) == claimed
    assert lost["details"] == {"status": "spawning", "runnerId": first["id"]}
    assert lost["message"] == f"session {session['id']} is claimed by runner a ({first['id']})"
    [event] = api.events(before)
    assert (event["type"], event["data"]) == ("session:updated", claimed)


def test_claiming_again_by_the_same_runner_changes_nothing(api: Api) -> None:
    runner = register(api)
    session = spawn(api)
    first = ok(claim(api, session, runner))
    before = api.hub.last_seq

    again = ok(claim(api, session, runner))

    assert again == first
    assert api.events(before) == []


@pytest.mark.parametrize("status", ["running", "completed", "failed"])
def test_a_session_that_is_not_spawning_cannot_be_claimed(api: Api, status: str) -> None:
    runner = register(api)
    session = spawn(api)
    ok(api.patch(f"/api/sessions/{session['id']}", json={"status": status}))

    error = assert_error(claim(api, session, runner), 409, "ALREADY_CLAIMED")

    assert error["details"] == {"status": status, "runnerId": None}
    assert f"is {status}, not spawning" in error["message"]


def test_a_claim_needs_every_label_the_spawn_asks_for(api: Api) -> None:
    plain = register(api, "plain", labels=["os=linux"])
    gpu = register(api, "gpu", labels=["gpu", "os=linux", "big"])
    session = spawn(api, runnerLabels=["gpu", "os=linux"])
    assert session["metadata"]["runnerLabels"] == ["gpu", "os=linux"]

    refused = assert_error(claim(api, session, plain), 409, "LABELS_MISMATCH")
    assert refused["details"] == {"required": ["gpu", "os=linux"], "missing": ["gpu"]}
    assert "runner plain lacks gpu" in refused["message"]
    assert "runnerId" not in session_of(api, session)["metadata"]
    ok(claim(api, session, gpu))
    # A spawn asking for no labels goes to any runner.
    ok(claim(api, spawn(api), plain))


def test_claims_of_unknown_sessions_or_runners_are_404(api: Api) -> None:
    runner = register(api)
    session = spawn(api)
    assert_error(
        api.post("/api/sessions/sess_1_none/claim", json={"runnerId": runner["id"]}),
        404,
        "SESSION_NOT_FOUND",
    )
    assert_error(
        api.post(f"/api/sessions/{session['id']}/claim", json={"runnerId": "run_1_none"}),
        404,
        "RUNNER_NOT_FOUND",
    )
    assert_error(
        api.post(f"/api/sessions/{session['id']}/claim", json={}),
        400,
        "VALIDATION_ERROR",
        "runnerId is required",
    )


def test_of_many_runners_claiming_at_once_one_wins(api: Api) -> None:
    runners = [register(api, f"r{n}") for n in range(8)]
    sessions = [spawn(api) for _ in range(5)]

    async def race(session: dict[str, Any]) -> list[int]:
        path = f"/api/sessions/{session['id']}/claim"
        answers = await asyncio.gather(
            *(api.client.post(path, json={"runnerId": r["id"]}) for r in runners)
        )
        return sorted(a.status_code for a in answers)

    for session in sessions:
        assert api.run(race(session)) == [200] + [409] * 7
    loads = [r["load"] for r in ok(api.get("/api/runners"))]
    assert sum(loads) == len(sessions)


def test_a_claim_held_by_a_deleted_runner_does_not_count(api: Api) -> None:
    gone, other = register(api, "gone"), register(api, "other")
    session = spawn(api)
    ok(claim(api, session, gone))
    # As a damaged or imported store could hold it: the claim outlived its runner.
    ok(api.patch(f"/api/sessions/{session['id']}", json={"metadata": {"runnerId": "run_1_x"}}))

    assert ok(claim(api, session, other))["session"]["metadata"]["runnerId"] == other["id"]


# -- leases ------------------------------------------------------------------------------


def test_a_runner_past_its_lease_is_lost_and_its_sessions_settled(quick: Api) -> None:
    api = quick
    runner = register(api, "box")
    waiting, running, finished = spawn(api), spawn(api), spawn(api)
    for session in (waiting, running, finished):
        ok(claim(api, session, runner))
    ok(api.patch(f"/api/sessions/{running['id']}", json={"status": "running"}))
    ok(api.patch(f"/api/sessions/{finished['id']}", json={"status": "completed"}))
    before = api.hub.last_seq

    lost = wait_lost(api, runner)

    assert lost["lostAt"] >= lost["expiresAt"]
    assert lost["load"] == 0
    released = session_of(api, waiting)
    assert released["status"] == "spawning"
    assert "runnerId" not in released["metadata"] and "claimedAt" not in released["metadata"]
    failed = session_of(api, running)
    assert (failed["status"], failed["attention"]) == ("failed", "failed")
    assert failed["completedAt"] == lost["lostAt"]
    reason = "runner box lost: no heartbeat for 0.3 s"
    [event] = failed["events"]
    assert (event["type"], event["data"]) == (
        "runner_lost",
        {"runnerId": runner["id"], "runner": "box", "host": "host-1", "reason": reason},
    )
    [task_id] = failed["taskIds"]
    note = ok(api.get(f"/api/tasks/{task_id}"))["timeline"][-1]
    assert (note["type"], note["message"], note["sessionId"]) == (
        "session_ended",
        f"Session {running['id']} failed: {reason}",
        running["id"],
    )
    assert session_of(api, finished)["status"] == "completed"
    events = api.events(before)
    assert kinds(events) == ["runner:updated", "session:updated", "session:updated", "task:updated"]
    assert events[0]["data"] == lost


def test_a_runner_that_beats_in_time_is_never_lost(quick: Api) -> None:
    runner = register(quick)
    for _ in range(12):
        quick.sleep(0.1)
        ok(quick.post(f"/api/runners/{runner['id']}/heartbeat", json={}))
    assert runner_of(quick, runner)["status"] == "active"


def test_a_lost_runner_must_beat_before_it_claims_and_then_is_active_again(quick: Api) -> None:
    runner = register(quick)
    session = spawn(quick)
    wait_lost(quick, runner)

    refused = assert_error(claim(quick, session, runner), 409, "RUNNER_LOST")
    assert refused["details"] == {"status": "lost"}

    before = quick.hub.last_seq
    beat = ok(quick.post(f"/api/runners/{runner['id']}/heartbeat", json={}))
    assert (beat["runner"]["status"], beat["runner"]["lostAt"]) == ("active", None)
    assert kinds(quick.events(before)) == ["runner:updated"]
    ok(claim(quick, session, runner))


def test_a_lost_runners_name_may_be_registered_again_by_anyone(quick: Api) -> None:
    runner = register(quick)
    wait_lost(quick, runner)

    again = register(quick)  # no id: a runner whose state file was lost, say

    assert (again["id"], again["status"]) == (runner["id"], "active")


def test_what_a_lost_runner_had_claimed_goes_to_another(quick: Api) -> None:
    gone = register(quick, "gone")
    session = spawn(quick)
    ok(claim(quick, session, gone))
    other = register(quick, "other")
    for _ in range(30):  # the other one keeps its lease
        ok(quick.post(f"/api/runners/{other['id']}/heartbeat", json={}))
        if runner_of(quick, gone)["status"] == "lost":
            break
        quick.sleep(0.1)

    taken = ok(claim(quick, session, other))["session"]

    assert taken["metadata"]["runnerId"] == other["id"]


# -- the setting -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "3601", "soon"])
def test_a_bad_runner_timeout_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="MAESTRO_RUNNER_TIMEOUT must be a number of seconds"):
        Settings.load(env={"MAESTRO_RUNNER_TIMEOUT": value})


def test_the_runner_timeout_is_read_in_seconds() -> None:
    assert Settings.load(env={}).runner_timeout == 30
    assert Settings.load(env={"MAESTRO_RUNNER_TIMEOUT": "2.5"}).runner_timeout == 2.5


def test_runners_and_claims_are_kept_across_a_restart(tmp_path: Path) -> None:
    api = Api(tmp_path / "kept")
    runner = register(api, labels=["gpu"])
    session = spawn(api)
    ok(claim(api, session, runner))
    api.close()

    again = Api(tmp_path / "kept")
    try:
        assert runner_of(again, runner) == {**runner, "load": 1}
        assert (tmp_path / "kept" / "runners" / f"{runner['id']}.json").is_file()
        assert session_of(again, session)["metadata"]["runnerId"] == runner["id"]
    finally:
        again.close()
