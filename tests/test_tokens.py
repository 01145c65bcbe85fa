"""Scoped tokens (docs/operations.md, "Tokens"): what a session's token, an
orchestrator's, a runner token and a forged or ended one may do, against a
real server requiring a token, on both stores."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import RunningServer, StoreBackend
from tests.e2e.wsclient import EventStream, events_after
from tests.helpers import created

ADMIN = "admin-" + secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def guarded_server(
    tmp_path_factory: pytest.TempPathFactory, backend: StoreBackend
) -> Iterator[RunningServer]:
    server = backend.server(tmp_path_factory.mktemp("tokens") / "data", MAESTRO_TOKEN=ADMIN)
    server.start()
    yield server
    server.stop()
    backend.discard(server)


def client(server: RunningServer, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


@pytest.fixture
def admin(guarded_server: RunningServer) -> Iterator[httpx.Client]:
    with client(guarded_server, ADMIN) as api:
        yield api


@dataclass
class World:
    """Two projects; a session spawned for ``mine`` (with ``child`` under it),
    claimed by a runner; ``other`` is a task of the same project it was not
    spawned for; ``foreign`` is in the other project."""

    project: str
    other_project: str
    mine: str
    child: str
    other: str
    foreign: str
    session: str
    runner: str
    token: str
    api: httpx.Client


def claim(admin: httpx.Client, session_id: str, runner_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = created(
        admin.post(f"/api/sessions/{session_id}/claim", json={"runnerId": runner_id}), 200
    )
    return answer


def new_runner(api: httpx.Client, name: str | None = None) -> str:
    body = {"name": name or f"r-{secrets.token_hex(4)}", "host": "test", "capacity": 5}
    runner_id: str = created(api.post("/api/runners", json=body))["id"]
    return runner_id


def spawn(api: httpx.Client, project: str, tasks: list[str], **fields: Any) -> str:
    body = {"projectId": project, "taskIds": tasks, **fields}
    session_id: str = created(api.post("/api/sessions/spawn", json=body))["sessionId"]
    return session_id


def build_world(admin: httpx.Client, server: RunningServer, role: str = "worker") -> World:
    project = created(admin.post("/api/projects", json={"name": "P", "workingDir": "/tmp"}))["id"]
    other_project = created(admin.post("/api/projects", json={"name": "Q"}))["id"]

    def task(in_project: str, **fields: Any) -> str:
        body = {"projectId": in_project, "title": "T", **fields}
        task_id: str = created(admin.post("/api/tasks", json=body))["id"]
        return task_id

    mine = task(project)
    child = task(project, parentId=mine)
    other = task(project)
    foreign = task(other_project)
    session = spawn(admin, project, [mine], role=role)
    runner = new_runner(admin)
    token = claim(admin, session, runner)["token"]
    assert isinstance(token, str) and token
    return World(
        project, other_project, mine, child, other, foreign, session, runner, token,
        client(server, token),
    )  # fmt: skip


@pytest.fixture
def world(admin: httpx.Client, guarded_server: RunningServer) -> Iterator[World]:
    made = build_world(admin, guarded_server)
    with made.api:
        yield made


def replay(server: RunningServer, seq: int) -> list[dict[str, Any]]:
    """Every stored event after ``seq``, as the admin replays them."""
    with EventStream(f"{server.ws_url}?token={ADMIN}&since={seq}", timeout=10) as stream:
        return stream.sync()


def forbidden(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 403, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == "FORBIDDEN"
    return body


# -- a worker's token: what it may do ---------------------------------------------------


def test_a_worker_reads_its_project(world: World) -> None:
    api = world.api
    assert api.get(f"/api/projects/{world.project}").status_code == 200
    assert api.get(f"/api/tasks/{world.other}").status_code == 200
    assert api.get(f"/api/sessions/{world.session}").status_code == 200
    assert [p["id"] for p in api.get("/api/projects").json()] == [world.project]


def test_a_worker_lists_only_its_project_even_without_asking(world: World) -> None:
    listed = world.api.get("/api/tasks").json()
    assert {t["id"] for t in listed} == {world.mine, world.child, world.other}
    assert world.foreign not in {t["id"] for t in listed}


def test_a_worker_changes_its_task_and_the_tasks_under_it(world: World) -> None:
    api = world.api
    assert api.patch(f"/api/tasks/{world.mine}", json={"status": "in_progress"}).status_code == 200
    entry = {"type": "update", "message": "halfway"}
    assert api.post(f"/api/tasks/{world.mine}/timeline", json=entry).status_code in (200, 201)
    assert api.patch(f"/api/tasks/{world.child}", json={"status": "completed"}).status_code == 200
    created(api.post(f"/api/tasks/{world.mine}/subtasks", json={"title": "step"}))
    grandchild = {"projectId": world.project, "title": "deeper", "parentId": world.child}
    created(api.post("/api/tasks", json=grandchild))


def test_a_worker_changes_its_own_session_and_files_approvals_for_itself(world: World) -> None:
    api = world.api
    patched = api.patch(f"/api/sessions/{world.session}", json={"status": "running"})
    assert patched.status_code == 200
    approval = {"tool": "Bash", "input": {"command": "ls"}}
    filed = created(api.post(f"/api/sessions/{world.session}/approvals", json=approval))
    assert api.get(f"/api/approvals/{filed['id']}").status_code == 200


# -- a worker's token: what it may not ------------------------------------------------


def test_a_worker_cannot_change_a_task_it_was_not_spawned_for(world: World) -> None:
    body = forbidden(world.api.patch(f"/api/tasks/{world.other}", json={"status": "completed"}))
    assert world.session in body["message"] and body["details"]["scope"] == "session"
    assert body["details"]["sessionId"] == world.session


def test_a_worker_cannot_read_or_list_another_project(world: World) -> None:
    forbidden(world.api.get(f"/api/tasks/{world.foreign}"))
    forbidden(world.api.get(f"/api/projects/{world.other_project}"))
    forbidden(world.api.get("/api/tasks", params={"projectId": world.other_project}))


def test_a_worker_cannot_touch_another_session(
    world: World, admin: httpx.Client, guarded_server: RunningServer
) -> None:
    neighbour = spawn(admin, world.project, [world.other])
    forbidden(world.api.patch(f"/api/sessions/{neighbour}", json={"status": "failed"}))
    approval = {"tool": "Bash", "input": {"command": "ls"}}
    forbidden(world.api.post(f"/api/sessions/{neighbour}/approvals", json=approval))
    forbidden(world.api.post(f"/api/sessions/{world.session}/tasks/{world.other}"))
    relink = {"taskIds": [world.mine, world.other]}
    forbidden(world.api.patch(f"/api/sessions/{world.session}", json=relink))


def test_a_worker_deletes_nothing(world: World) -> None:
    for path in (
        f"/api/tasks/{world.child}",
        f"/api/sessions/{world.session}",
        f"/api/projects/{world.project}",
    ):
        forbidden(world.api.delete(path))


def test_a_worker_cannot_spawn_decide_approvals_or_touch_runners(world: World) -> None:
    api = world.api
    forbidden(api.post("/api/sessions/spawn", json={"projectId": world.project, "taskIds": []}))
    approval = {"tool": "Bash", "input": {"command": "rm -rf /"}}
    filed = created(api.post(f"/api/sessions/{world.session}/approvals", json=approval))
    forbidden(api.post(f"/api/approvals/{filed['id']}/decision", json={"decision": "allow"}))
    forbidden(api.post("/api/projects", json={"name": "mine now"}))
    forbidden(api.get("/api/runners"))
    forbidden(api.post("/api/runners", json={"name": "x", "host": "y", "capacity": 1}))
    forbidden(api.post("/api/tokens", json={"runner": "x"}))


def test_a_worker_cannot_follow_the_event_stream(
    world: World, guarded_server: RunningServer
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        EventStream(f"{guarded_server.ws_url}?token={world.token}").close()
    assert refused.value.response.status_code == 403


# -- an orchestrator's token ---------------------------------------------------------


def test_an_orchestrator_spawns_in_its_project_only(
    admin: httpx.Client, guarded_server: RunningServer
) -> None:
    world = build_world(admin, guarded_server, role="orchestrator")
    with world.api as api:
        spawn(api, world.project, [world.child])
        body = {"projectId": world.other_project, "taskIds": [world.foreign]}
        forbidden(api.post("/api/sessions/spawn", json=body))


# -- tokens that are not (or no longer) valid -----------------------------------------


@pytest.mark.parametrize(
    "forge",
    [
        lambda real: None,
        lambda real: secrets.token_urlsafe(32),
        lambda real: real.split(".")[0] + "." + secrets.token_urlsafe(32),  # its id, not its secret
        lambda real: "tok_1700000000000_abcdefgh." + real.split(".")[1],  # its secret, not its id
        lambda real: real + "x",
        lambda real: ADMIN[:-1],
    ],
    ids=["none", "random", "wrong-secret", "wrong-id", "altered", "admin-altered"],
)
def test_a_forged_token_is_refused(forge: Any, world: World, guarded_server: RunningServer) -> None:
    with client(guarded_server, forge(world.token)) as api:
        answer = api.get(f"/api/projects/{world.project}")
    assert answer.status_code == 401 and answer.json()["code"] == "UNAUTHORIZED"


def test_a_session_token_ends_when_the_session_finishes(world: World) -> None:
    finished = world.api.patch(f"/api/sessions/{world.session}", json={"status": "completed"})
    assert finished.status_code == 200
    answer = world.api.get(f"/api/projects/{world.project}")
    assert answer.status_code == 401 and "ended" in answer.json()["message"]


def test_a_new_claim_ends_the_token_of_the_one_before(world: World, admin: httpx.Client) -> None:
    again = claim(admin, world.session, world.runner)["token"]
    assert again != world.token
    assert world.api.get(f"/api/projects/{world.project}").status_code == 401


def test_a_deleted_session_token_is_refused(world: World, admin: httpx.Client) -> None:
    assert admin.delete(f"/api/sessions/{world.session}").status_code == 200
    assert world.api.get(f"/api/projects/{world.project}").status_code == 401


# -- runner tokens --------------------------------------------------------------------


def test_runner_tokens_are_the_admins_to_make(world: World, guarded_server: RunningServer) -> None:
    with client(guarded_server, None) as anonymous:
        assert anonymous.post("/api/tokens", json={"runner": "r"}).status_code == 401


def test_a_runner_token_acts_as_the_runners_of_its_name(
    admin: httpx.Client, guarded_server: RunningServer
) -> None:
    name = f"box-{secrets.token_hex(3)}"
    issued = created(admin.post("/api/tokens", json={"runner": name}))
    assert issued["runner"] == name and issued["kind"] == "runner"
    project = created(admin.post("/api/projects", json={"name": "R", "workingDir": "/tmp"}))["id"]
    task = created(admin.post("/api/tasks", json={"projectId": project, "title": "t"}))["id"]
    session = spawn(admin, project, [task])
    with client(guarded_server, issued["token"]) as runner_api:
        runner_id = new_runner(runner_api, name)
        beat = runner_api.post(f"/api/runners/{runner_id}/heartbeat", json={})
        assert beat.status_code == 200
        claimed = claim(runner_api, session, runner_id)
        assert claimed["session"]["metadata"]["runnerId"] == runner_id and claimed["token"]
        assert runner_api.get("/api/sessions", params={"status": "spawning"}).status_code == 200
        forbidden(
            runner_api.post("/api/runners", json={"name": "other", "host": "h", "capacity": 1})
        )
        someone_else = new_runner(admin)
        forbidden(runner_api.post(f"/api/runners/{someone_else}/heartbeat", json={}))
        forbidden(runner_api.patch(f"/api/tasks/{task}", json={"status": "completed"}))
        # It may mark the session it claimed failed (a terminal it could not
        # open), not another runner's.
        failed = runner_api.patch(f"/api/sessions/{session}", json={"status": "failed"})
        assert failed.status_code == 200
        theirs = spawn(admin, project, [task])
        claim(admin, theirs, someone_else)
        forbidden(runner_api.patch(f"/api/sessions/{theirs}", json={"status": "failed"}))
        forbidden(runner_api.post(f"/api/sessions/{session}/activity", json={"entries": []}))
        forbidden(runner_api.post("/api/tokens", json={"runner": name}))
        forbidden(runner_api.delete(f"/api/tasks/{task}"))
        assert runner_api.delete(f"/api/runners/{runner_id}").status_code == 200


def test_a_runner_token_spawns_only_the_dispatchers_workers(
    admin: httpx.Client, guarded_server: RunningServer
) -> None:
    token = created(admin.post("/api/tokens", json={"runner": "dispatching"}))["token"]
    project = created(admin.post("/api/projects", json={"name": "D", "workingDir": "/tmp"}))["id"]
    auto = {"projectId": project, "title": "auto", "autoStart": True}
    auto_task = created(admin.post("/api/tasks", json=auto))["id"]
    manual_task = created(admin.post("/api/tasks", json={"projectId": project, "title": "m"}))["id"]
    with client(guarded_server, token) as runner_api:
        spawn(runner_api, project, [auto_task], spawnSource="dispatch")
        body = {"projectId": project, "taskIds": [manual_task], "spawnSource": "dispatch"}
        forbidden(runner_api.post("/api/sessions/spawn", json=body))
        body = {"projectId": project, "taskIds": [auto_task], "spawnSource": "api"}
        forbidden(runner_api.post("/api/sessions/spawn", json=body))


def test_a_revoked_runner_token_is_refused(
    admin: httpx.Client, guarded_server: RunningServer
) -> None:
    issued = created(admin.post("/api/tokens", json={"runner": "gone"}))
    with client(guarded_server, issued["token"]) as runner_api:
        assert runner_api.get("/api/runners").status_code == 200
        assert admin.delete(f"/api/tokens/{issued['id']}").status_code == 200
        assert runner_api.get("/api/runners").status_code == 401
    assert issued["id"] not in [t["id"] for t in admin.get("/api/tokens").json()]


# -- secrecy and the audit trail -------------------------------------------------------


def test_tokens_appear_in_no_answer_event_or_log_after_their_creation(
    admin: httpx.Client, guarded_server: RunningServer
) -> None:
    world = build_world(admin, guarded_server)
    issued = created(admin.post("/api/tokens", json={"runner": "secretive"}))
    with world.api:
        world.api.patch(f"/api/sessions/{world.session}", json={"status": "running"})
    secrets_made = [world.token.split(".")[1], issued["token"].split(".")[1]]
    answers = [
        admin.get(f"/api/sessions/{world.session}").text,
        admin.get("/api/sessions").text,
        admin.get("/api/tokens").text,
        admin.get("/api/runners").text,
    ]
    frames = [str(m) for m in replay(guarded_server, 0)]
    for secret in secrets_made:
        for text in [*answers, *frames, guarded_server.log()]:
            assert secret not in text
    listed = admin.get("/api/tokens").json()
    assert all(set(t) <= {"id", "kind", "createdAt", "runner", "sessionId"} for t in listed)


def test_each_change_records_the_kind_of_token_that_made_it(
    admin: httpx.Client, guarded_server: RunningServer
) -> None:
    start = admin.get("/health").json()["latestSeq"]
    world = build_world(admin, guarded_server)
    with world.api:
        world.api.patch(f"/api/tasks/{world.mine}", json={"status": "in_progress"})
    events = replay(guarded_server, start)
    actors = {(m["event"], m["actor"]["kind"]) for m in events}
    assert ("project:created", "admin") in actors
    assert ("runner:created", "admin") in actors
    by_session = [
        m for m in events if m["event"] == "task:updated" and m["actor"]["kind"] == "session"
    ]
    assert by_session and by_session[-1]["actor"]["sessionId"] == world.session
    assert by_session[-1]["actor"]["role"] == "worker"
    assert by_session[-1]["data"]["id"] == world.mine


def test_without_a_token_configured_claims_mint_none_and_events_say_so(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        project = created(api.post("/api/projects", json={"name": "open"}))["id"]
        task = created(api.post("/api/tasks", json={"projectId": project, "title": "t"}))["id"]
        session = spawn(api, project, [task])
        assert claim(api, session, new_runner(api))["token"] is None
    events = events_after(server.ws_url, 0)
    assert {m["actor"]["kind"] for m in events} == {"none"}


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "runner"),
        ({"runner": "  "}, "runner is required"),
        ({"runner": "two\nlines"}, "runner"),
        ({"runner": 7}, "runner must be a string"),
    ],
)
def test_a_runner_token_needs_a_runner_name(
    admin: httpx.Client, body: dict[str, Any], message: str
) -> None:
    before = admin.get("/api/tokens").json()
    answer = admin.post("/api/tokens", json=body)
    assert answer.status_code == 400 and answer.json()["code"] == "VALIDATION_ERROR"
    assert message in answer.json()["message"]
    assert admin.get("/api/tokens").json() == before


def test_revoking_a_token_that_is_not_there_says_so(admin: httpx.Client) -> None:
    missing = admin.delete("/api/tokens/tok_1700000000000_nothere1")
    assert missing.status_code == 404 and missing.json()["code"] == "TOKEN_NOT_FOUND"
    bad = admin.delete("/api/tokens/..")
    assert bad.status_code in (400, 404)
