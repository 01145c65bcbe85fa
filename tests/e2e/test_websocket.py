"""The WebSocket event stream (SPEC section 5), against a real ``maestro serve``
process with real WebSocket clients.

Each test reads an action's events with ``EventStream.sync()`` (a ping/pong
barrier, see ``wsclient``), so "exactly these events" means exactly: nothing
else arrived before the pong.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from maestro.server.ws import CLOSE_GRACE_SECONDS
from tests.conftest import RunningServer, StoreBackend
from tests.e2e.wsclient import EventStream, Message, names, seqs, stalled_connection
from tests.helpers import make_project, make_session, make_task, ok

FRAME_KEYS = {"type", "event", "data", "seq", "timestamp", "actor"}


# -- helpers ------------------------------------------------------------------


def get(http: httpx.Client, path: str) -> Any:
    return ok(http.get(path))


def link_pair(session_id: str, task_id: str) -> dict[str, str]:
    return {"sessionId": session_id, "taskId": task_id}


def assert_link_change(events: list[Message], at: int, session_id: str, task_id: str) -> None:
    """``events[at]`` and the next are one link change: the session's event and the
    task's, both naming the pair."""
    pair = link_pair(session_id, task_id)
    assert [event["data"] for event in events[at : at + 2]] == [pair, pair]


def api(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10)


@pytest.fixture(scope="module")
def ws_server(
    tmp_path_factory: pytest.TempPathFactory, backend: StoreBackend
) -> Iterator[RunningServer]:
    """One server for the tests that only look at the events of their own actions.

    Tests run one at a time and each connects afresh, so none sees another's events.
    """
    server = backend.server(tmp_path_factory.mktemp("ws") / "data").start()
    yield server
    server.stop()
    backend.discard(server)


@pytest.fixture
def http(ws_server: RunningServer) -> Iterator[httpx.Client]:
    with api(ws_server) as client:
        yield client


@pytest.fixture
def stream(ws_server: RunningServer) -> Iterator[EventStream]:
    with EventStream(ws_server.ws_url) as connected:
        yield connected


@pytest.fixture
def project(http: httpx.Client) -> Any:
    return make_project(http)


@pytest.fixture
def task(http: httpx.Client, project: Any) -> Any:
    return make_task(http, project["id"])


@pytest.fixture
def session(http: httpx.Client, project: Any) -> Any:
    return make_session(http, project["id"], [])


def act(stream: EventStream, action: Callable[[], Any]) -> tuple[Any, list[Message]]:
    """Run ``action``; return its result and its events alone (earlier ones are
    read and dropped first)."""
    stream.sync()
    result = action()
    return result, stream.sync()


def after(stream: EventStream, action: Callable[[], Any]) -> list[Message]:
    """The events of ``action`` alone."""
    return act(stream, action)[1]


# -- the connection -----------------------------------------------------------


def test_nothing_is_sent_on_connect(ws_server: RunningServer, http: httpx.Client) -> None:
    make_project(http)  # there is history, but a plain client is not replayed it
    with EventStream(ws_server.ws_url) as fresh, pytest.raises(TimeoutError):
        fresh.receive(timeout=0.5)


def test_ping_is_answered_with_pong(stream: EventStream) -> None:
    stream.ping()
    assert stream.receive() == {"type": "pong"}


def test_stream_is_also_served_on_root_path(ws_server: RunningServer, http: httpx.Client) -> None:
    with EventStream(ws_server.ws_url.removesuffix("/ws") + "/") as root:
        project = make_project(http)
        events = root.sync()
    assert names(events) == ["project:created"]
    assert events[0]["data"]["id"] == project["id"]


def test_every_message_is_one_json_text_frame_with_the_documented_keys(
    stream: EventStream, http: httpx.Client
) -> None:
    before = int(time.time() * 1000)
    project = make_project(http)
    make_task(http, project["id"])
    messages = stream.sync()  # receive() asserts each frame is text and parses it whole
    after_ms = int(time.time() * 1000)
    assert len(messages) == 2
    for message in messages:
        assert set(message) == FRAME_KEYS
        assert message["type"] == message["event"]
        assert isinstance(message["seq"], int)
        assert isinstance(message["timestamp"], int)
        assert before - 1000 <= message["timestamp"] <= after_ms + 1000


def test_seq_starts_at_one_and_increases_by_one_across_all_events(
    server: RunningServer,
) -> None:
    with api(server) as http, EventStream(server.ws_url) as stream:
        project = make_project(http)
        tasks = [make_task(http, project["id"], title=f"T{i}") for i in range(3)]
        session = make_session(http, project["id"], [t["id"] for t in tasks])
        ok(http.delete(f"/api/sessions/{session['id']}"))
        messages = stream.sync()
    assert len(messages) == 1 + 3 + (1 + 3 * 3) + (1 + 3 * 3)
    assert seqs(messages) == list(range(1, len(messages) + 1))


# -- one action, exactly its events ------------------------------------------


def test_project_create_emits_project_created_with_the_full_project(
    stream: EventStream, http: httpx.Client
) -> None:
    created, events = act(stream, lambda: make_project(http))
    assert names(events) == ["project:created"]
    assert events[0]["data"] == created


def test_project_update_emits_project_updated_with_the_full_project(
    stream: EventStream, http: httpx.Client, project: Any
) -> None:
    path = f"/api/projects/{project['id']}"
    events = after(stream, lambda: ok(http.put(path, json={"name": "Renamed"})))
    assert names(events) == ["project:updated"]
    assert events[0]["data"] == get(http, path)
    assert events[0]["data"]["name"] == "Renamed"


def test_project_delete_emits_project_deleted_with_only_the_id(
    stream: EventStream, http: httpx.Client, project: Any
) -> None:
    events = after(stream, lambda: ok(http.delete(f"/api/projects/{project['id']}")))
    assert names(events) == ["project:deleted"]
    assert events[0]["data"] == {"id": project["id"]}


def test_task_create_emits_task_created_with_the_full_task(
    stream: EventStream, http: httpx.Client, project: Any
) -> None:
    created, events = act(stream, lambda: make_task(http, project["id"]))
    assert names(events) == ["task:created"]
    assert events[0]["data"] == created


def test_task_patch_emits_task_updated_with_the_full_task(
    stream: EventStream, http: httpx.Client, task: Any
) -> None:
    path = f"/api/tasks/{task['id']}"
    events = after(stream, lambda: ok(http.patch(path, json={"status": "in_progress"})))
    assert names(events) == ["task:updated"]
    assert events[0]["data"] == get(http, path)
    assert events[0]["data"]["status"] == "in_progress"


def test_timeline_append_emits_task_updated(
    stream: EventStream, http: httpx.Client, task: Any
) -> None:
    path = f"/api/tasks/{task['id']}"
    events = after(stream, lambda: ok(http.post(f"{path}/timeline", json={"message": "Halfway"})))
    assert names(events) == ["task:updated"]
    assert events[0]["data"]["timeline"][-1]["message"] == "Halfway"
    assert events[0]["data"] == get(http, path)


def test_task_delete_emits_task_deleted_with_only_the_id(
    stream: EventStream, http: httpx.Client, task: Any
) -> None:
    events = after(stream, lambda: ok(http.delete(f"/api/tasks/{task['id']}")))
    assert names(events) == ["task:deleted"]
    assert events[0]["data"] == {"id": task["id"]}


def test_subtask_create_emits_subtask_created_then_task_updated(
    stream: EventStream, http: httpx.Client, task: Any
) -> None:
    path = f"/api/tasks/{task['id']}/subtasks"
    created, events = act(stream, lambda: ok(http.post(path, json={"title": "S"}), 201))
    assert names(events) == ["subtask:created", "task:updated"]
    assert events[0]["data"] == {"taskId": task["id"], "subtask": created}
    assert events[1]["data"]["subtasks"] == [created]


def test_subtask_update_emits_subtask_updated_then_task_updated(
    stream: EventStream, http: httpx.Client, task: Any
) -> None:
    path = f"/api/tasks/{task['id']}/subtasks"
    subtask = ok(http.post(path, json={"title": "S"}), 201)
    updated, events = act(
        stream, lambda: ok(http.patch(f"{path}/{subtask['id']}", json={"completed": True}))
    )
    assert names(events) == ["subtask:updated", "task:updated"]
    assert events[0]["data"] == {"taskId": task["id"], "subtask": updated}
    assert updated["completed"] is True
    assert events[1]["data"]["subtasks"] == [updated]


def test_subtask_delete_emits_subtask_deleted_then_task_updated(
    stream: EventStream, http: httpx.Client, task: Any
) -> None:
    path = f"/api/tasks/{task['id']}/subtasks"
    subtask = ok(http.post(path, json={"title": "S"}), 201)
    events = after(stream, lambda: ok(http.delete(f"{path}/{subtask['id']}")))
    assert names(events) == ["subtask:deleted", "task:updated"]
    assert events[0]["data"] == {"taskId": task["id"], "subtaskId": subtask["id"]}
    assert events[1]["data"]["subtasks"] == []


def test_session_create_with_two_tasks_emits_created_then_link_events_per_task(
    stream: EventStream, http: httpx.Client, project: Any
) -> None:
    first, second = (
        make_task(http, project["id"], title="One"),
        make_task(http, project["id"], title="Two"),
    )
    created, events = act(
        stream, lambda: make_session(http, project["id"], [first["id"], second["id"]])
    )
    assert names(events) == [
        "session:created",
        "session:task_added",
        "task:session_added",
        "task:updated",
        "session:task_added",
        "task:session_added",
        "task:updated",
    ]
    sid = created["id"]
    assert events[0]["data"] == created
    assert events[0]["data"]["taskIds"] == [first["id"], second["id"]]
    for offset, task in ((1, first), (4, second)):
        assert_link_change(events, offset, sid, task["id"])
        assert events[offset + 2]["data"] == get(http, f"/api/tasks/{task['id']}")
        assert events[offset + 2]["data"]["sessionIds"] == [sid]


def test_spawn_emits_spawn_request_then_created_then_link_events(
    stream: EventStream, http: httpx.Client, ws_server: RunningServer
) -> None:
    project = make_project(http, workingDir="/tmp/spawn-here")
    task = make_task(http, project["id"], title="Build it")
    body = {"projectId": project["id"], "taskIds": [task["id"]]}
    spawned, events = act(stream, lambda: ok(http.post("/api/sessions/spawn", json=body), 201))
    assert names(events) == [
        "session:spawn_request",
        "session:created",
        "session:task_added",
        "task:session_added",
        "task:updated",
    ]
    sid = spawned["sessionId"]
    request = events[0]["data"]
    assert set(request) == {
        "session",
        "projectId",
        "taskIds",
        "skillIds",
        "name",
        "role",
        "command",
        "cwd",
        "env",
    }
    assert request["session"]["id"] == sid
    assert request["session"]["status"] == "spawning"
    assert request["projectId"] == project["id"]
    assert request["taskIds"] == [task["id"]]
    assert request["skillIds"] == ["maestro-worker"]
    assert request["name"] == spawned["session"]["name"]
    assert request["role"] == "worker"
    assert request["command"] == "maestro worker init"
    assert request["cwd"] == "/tmp/spawn-here"
    assert request["env"] == {
        "MAESTRO_SESSION_ID": sid,
        "MAESTRO_PROJECT_ID": project["id"],
        "MAESTRO_TASK_IDS": task["id"],
        "MAESTRO_SERVER_URL": f"http://127.0.0.1:{ws_server.port}",
        "MAESTRO_SKILLS": "maestro-worker",
        "MAESTRO_ROLE": "worker",
    }
    assert events[1]["data"] == spawned["session"]
    assert_link_change(events, 2, sid, task["id"])
    assert events[4]["data"]["sessionIds"] == [sid]


def test_link_endpoint_emits_added_pair_then_session_and_task_updated(
    stream: EventStream, http: httpx.Client, session: Any, task: Any
) -> None:
    path = f"/api/sessions/{session['id']}/tasks/{task['id']}"
    events = after(stream, lambda: ok(http.post(path)))
    assert names(events) == [
        "session:task_added",
        "task:session_added",
        "session:updated",
        "task:updated",
    ]
    assert_link_change(events, 0, session["id"], task["id"])
    assert events[2]["data"] == get(http, f"/api/sessions/{session['id']}")
    assert events[2]["data"]["taskIds"] == [task["id"]]
    assert events[3]["data"] == get(http, f"/api/tasks/{task['id']}")
    assert events[3]["data"]["sessionIds"] == [session["id"]]


def test_linking_an_already_linked_task_emits_nothing(
    stream: EventStream, http: httpx.Client, session: Any, task: Any
) -> None:
    path = f"/api/sessions/{session['id']}/tasks/{task['id']}"
    ok(http.post(path))
    assert after(stream, lambda: ok(http.post(path))) == []


def test_unlink_endpoint_emits_removed_pair_then_session_and_task_updated(
    stream: EventStream, http: httpx.Client, session: Any, task: Any
) -> None:
    path = f"/api/sessions/{session['id']}/tasks/{task['id']}"
    ok(http.post(path))
    events = after(stream, lambda: ok(http.delete(path)))
    assert names(events) == [
        "session:task_removed",
        "task:session_removed",
        "session:updated",
        "task:updated",
    ]
    assert_link_change(events, 0, session["id"], task["id"])
    assert events[2]["data"]["taskIds"] == []
    assert events[3]["data"]["sessionIds"] == []


def test_unlinking_a_task_that_is_not_linked_emits_nothing(
    stream: EventStream, http: httpx.Client, session: Any, task: Any
) -> None:
    path = f"/api/sessions/{session['id']}/tasks/{task['id']}"
    assert after(stream, lambda: ok(http.delete(path))) == []


def test_session_patch_of_task_ids_emits_session_updated_then_link_events(
    stream: EventStream, http: httpx.Client, session: Any, task: Any
) -> None:
    path = f"/api/sessions/{session['id']}"
    events = after(stream, lambda: ok(http.patch(path, json={"taskIds": [task["id"]]})))
    assert names(events) == [
        "session:updated",
        "session:task_added",
        "task:session_added",
        "session:updated",
        "task:updated",
    ]
    assert events[0]["data"]["taskIds"] == [task["id"]]
    assert_link_change(events, 1, session["id"], task["id"])
    assert events[3]["data"] == get(http, path)
    assert events[4]["data"]["sessionIds"] == [session["id"]]


def test_task_patch_of_session_ids_emits_task_updated_then_link_events(
    stream: EventStream, http: httpx.Client, session: Any, task: Any
) -> None:
    path = f"/api/tasks/{task['id']}"
    events = after(stream, lambda: ok(http.patch(path, json={"sessionIds": [session["id"]]})))
    assert names(events) == [
        "task:updated",
        "session:task_added",
        "task:session_added",
        "session:updated",
        "task:updated",
    ]
    assert events[0]["data"]["sessionIds"] == [session["id"]]
    assert_link_change(events, 1, session["id"], task["id"])
    assert events[3]["data"]["taskIds"] == [task["id"]]
    assert events[4]["data"] == get(http, path)


def test_session_delete_emits_deleted_then_removed_pair_and_task_updated(
    stream: EventStream, http: httpx.Client, project: Any, task: Any
) -> None:
    session = make_session(http, project["id"], [task["id"]])
    events = after(stream, lambda: ok(http.delete(f"/api/sessions/{session['id']}")))
    assert names(events) == [
        "session:deleted",
        "session:task_removed",
        "task:session_removed",
        "task:updated",
    ]
    assert events[0]["data"] == {"id": session["id"]}
    assert_link_change(events, 1, session["id"], task["id"])
    assert events[3]["data"] == get(http, f"/api/tasks/{task['id']}")
    assert events[3]["data"]["sessionIds"] == []


def test_task_delete_emits_deleted_then_removed_pair_and_session_updated(
    stream: EventStream, http: httpx.Client, project: Any, task: Any
) -> None:
    session = make_session(http, project["id"], [task["id"]])
    events = after(stream, lambda: ok(http.delete(f"/api/tasks/{task['id']}")))
    assert names(events) == [
        "task:deleted",
        "session:task_removed",
        "task:session_removed",
        "session:updated",
    ]
    assert events[0]["data"] == {"id": task["id"]}
    assert_link_change(events, 1, session["id"], task["id"])
    assert events[3]["data"] == get(http, f"/api/sessions/{session['id']}")
    assert events[3]["data"]["taskIds"] == []


def test_cascade_delete_emits_every_deletion_then_unlinks_then_dependents_updated(
    stream: EventStream, http: httpx.Client, project: Any
) -> None:
    parent = make_task(http, project["id"], title="Parent")
    child = make_task(http, project["id"], title="Child", parentId=parent["id"])
    dependent = make_task(http, project["id"], title="Dependent", dependencies=[child["id"]])
    session = make_session(http, project["id"], [parent["id"], child["id"], dependent["id"]])
    path = f"/api/tasks/{parent['id']}?cascade=true"
    events = after(stream, lambda: ok(http.delete(path)))
    assert names(events) == [
        "task:deleted",
        "task:deleted",
        "session:task_removed",
        "task:session_removed",
        "session:updated",
        "session:task_removed",
        "task:session_removed",
        "session:updated",
        "task:updated",
    ]
    assert [e["data"] for e in events[:2]] == [{"id": parent["id"]}, {"id": child["id"]}]
    assert events[2]["data"] == link_pair(session["id"], parent["id"])
    assert events[5]["data"] == link_pair(session["id"], child["id"])
    # Each full entity is the state at its place in the stream; the last is stored.
    final_session = get(http, f"/api/sessions/{session['id']}")
    assert final_session["taskIds"] == [dependent["id"]]
    assert events[4]["data"]["taskIds"] == [child["id"], dependent["id"]]
    assert events[7]["data"] == final_session
    assert events[8]["data"] == get(http, f"/api/tasks/{dependent['id']}")
    assert events[8]["data"]["dependencies"] == []


def test_rejected_requests_emit_nothing(
    stream: EventStream, http: httpx.Client, project: Any, task: Any
) -> None:
    session = make_session(http, project["id"], [task["id"]])
    stream.sync()  # the setup's events
    rejected = [
        http.post("/api/projects", json={"name": "  "}),
        http.delete(f"/api/projects/{project['id']}"),  # still has tasks and sessions
        http.post("/api/tasks", json={"projectId": "proj_missing", "title": "x"}),
        http.patch(f"/api/tasks/{task['id']}", json={"priority": "urgent"}),
        http.patch(f"/api/tasks/{task['id']}", json={"sessionIds": ["sess_missing"]}),
        http.post(f"/api/tasks/{task['id']}/subtasks", json={}),
        http.post(
            "/api/sessions", json={"projectId": project["id"], "taskIds": [], "id": session["id"]}
        ),
        http.post(f"/api/sessions/{session['id']}/tasks/task_missing"),
        http.post("/api/sessions/spawn", json={"projectId": project["id"], "taskIds": []}),
        http.post("/api/sessions/spawn", json={"projectId": project["id"], "taskIds": ["t_x"]}),
    ]
    statuses = [r.status_code for r in rejected]
    assert all(400 <= s < 500 for s in statuses), statuses
    assert stream.sync() == []


def test_a_rejected_request_leaves_the_stream_silent_until_the_next_event(
    stream: EventStream, http: httpx.Client, task: Any
) -> None:
    stream.sync()
    assert http.patch(f"/api/tasks/{task['id']}", json={"status": "nope"}).status_code == 400
    ok(http.patch(f"/api/tasks/{task['id']}", json={"status": "completed"}))
    events = stream.sync()
    assert names(events) == ["task:updated"]
    assert events[0]["data"]["status"] == "completed"


# -- many clients, one order --------------------------------------------------


def test_two_clients_receive_the_same_events_in_the_same_order(
    ws_server: RunningServer, http: httpx.Client
) -> None:
    with EventStream(ws_server.ws_url) as one, EventStream(ws_server.ws_url) as two:
        project = make_project(http)
        tasks = [make_task(http, project["id"], title=f"T{i}") for i in range(5)]
        make_session(http, project["id"], [t["id"] for t in tasks])
        ok(http.delete(f"/api/tasks/{tasks[0]['id']}"))
        first, second = one.sync(), two.sync()
    assert len(first) == 1 + 5 + (1 + 5 * 3) + 4
    assert first == second


# -- replay -------------------------------------------------------------------


def test_replay_since_delivers_exactly_the_missed_events_then_live_ones(
    ws_server: RunningServer, http: httpx.Client
) -> None:
    with EventStream(ws_server.ws_url) as first:
        project = make_project(http)
        last_seen = first.sync()[-1]["seq"]
    # Disconnected while these happen:
    task = make_task(http, project["id"])
    make_session(http, project["id"], [task["id"]])
    ok(http.put(f"/api/projects/{project['id']}", json={"name": "N"}))
    with EventStream(f"{ws_server.ws_url}?since={last_seen}") as back:
        replayed = back.sync()
        make_task(http, project["id"], title="Live")
        live = back.sync()
    assert names(replayed) == [
        "task:created",
        "session:created",
        "session:task_added",
        "task:session_added",
        "task:updated",
        "project:updated",
    ]
    assert seqs(replayed) == list(range(last_seen + 1, last_seen + 7))
    assert replayed[0]["data"] == task
    assert replayed[-1]["data"] == get(http, f"/api/projects/{project['id']}")
    assert names(live) == ["task:created"]
    assert live[0]["seq"] == last_seen + 7


def test_replay_since_zero_delivers_every_retained_event(server: RunningServer) -> None:
    with api(server) as http, EventStream(server.ws_url) as stream:
        project = make_project(http)
        make_task(http, project["id"])
        seen = stream.sync()
    with EventStream(f"{server.ws_url}?since=0") as back:
        assert back.sync() == seen


def test_replay_since_the_latest_seq_delivers_nothing(
    ws_server: RunningServer, http: httpx.Client, stream: EventStream
) -> None:
    make_project(http)
    latest = stream.sync()[-1]["seq"]
    with EventStream(f"{ws_server.ws_url}?since={latest}") as back:
        assert back.sync() == []


def test_replay_works_across_a_restart_and_seq_continues(server: RunningServer) -> None:
    with api(server) as http, EventStream(server.ws_url) as before:
        project = make_project(http)
        task = make_task(http, project["id"])
        seen = before.sync()
    server.restart()
    with api(server) as http, EventStream(f"{server.ws_url}?since=1") as back:
        assert back.sync() == seen[1:]
        ok(http.patch(f"/api/tasks/{task['id']}", json={"title": "After restart"}))
        live = back.sync()
    assert names(live) == ["task:updated"]
    assert live[0]["seq"] == seen[-1]["seq"] + 1


def test_since_beyond_the_latest_seq_gets_resync_required(
    ws_server: RunningServer, http: httpx.Client, stream: EventStream
) -> None:
    make_project(http)
    make_project(http)
    latest = stream.sync()[-1]["seq"]
    with EventStream(f"{ws_server.ws_url}?since={latest + 5}") as back:
        messages = back.sync()
        assert len(messages) == 1
        resync = messages[0]
        assert resync["type"] == "resync_required"
        assert resync["event"] == "resync_required"
        store_id = http.get("/health").json()["storeId"]
        assert resync["data"] == {"oldestSeq": 1, "latestSeq": latest, "storeId": store_id}
        assert isinstance(resync["timestamp"], int)
        make_project(http)  # the connection stays open and live after the notice
        assert seqs(back.sync()) == [latest + 1]


def test_since_counted_in_another_store_gets_resync_required(
    ws_server: RunningServer, http: httpx.Client, stream: EventStream
) -> None:
    make_project(http)
    latest = stream.sync()[-1]["seq"]
    url = f"{ws_server.ws_url}?since={latest - 1}&storeId=store_1_elsewhere"
    with EventStream(url) as back:
        (resync,) = back.sync()
        assert resync["type"] == "resync_required"
        assert resync["data"]["storeId"] == http.get("/health").json()["storeId"]
        make_project(http)
        assert seqs(back.sync()) == [latest + 1]


def test_since_counted_in_this_store_replays_as_usual(
    ws_server: RunningServer, http: httpx.Client, stream: EventStream
) -> None:
    make_project(http)
    make_project(http)
    seen = stream.sync()
    store_id = http.get("/health").json()["storeId"]
    url = f"{ws_server.ws_url}?since={seen[-2]['seq']}&storeId={store_id}"
    with EventStream(url) as back:
        assert back.sync() == seen[-1:]


@pytest.mark.json_only
def test_a_replaced_store_that_reached_the_same_seq_is_told_apart(
    server: RunningServer,
) -> None:
    """A wiped data directory starts a new stream; once it has as many events as
    the old one had, only the store id shows that a client's ``since`` is stale."""
    with api(server) as http:
        make_project(http, name="Old")
        old = http.get("/health").json()
    server.stop()
    shutil.rmtree(server.data_dir)
    server.start()
    with api(server) as http:
        make_project(http, name="New")
        new = http.get("/health").json()
    assert new["latestSeq"] == old["latestSeq"]
    assert new["storeId"] != old["storeId"]
    url = f"{server.ws_url}?since={old['latestSeq']}&storeId={old['storeId']}"
    with EventStream(url) as back:
        assert [m["type"] for m in back.sync()] == ["resync_required"]


def test_the_store_id_survives_a_restart(server: RunningServer) -> None:
    with api(server) as http:
        make_project(http)
        before = http.get("/health").json()["storeId"]
    server.restart()
    with api(server) as http:
        assert http.get("/health").json()["storeId"] == before


# -- project filter -----------------------------------------------------------


def test_project_filter_delivers_only_that_projects_live_events(
    ws_server: RunningServer, http: httpx.Client
) -> None:
    mine, other = make_project(http, name="Mine"), make_project(http, name="Other")
    ids_of: dict[str, set[str]] = {mine["id"]: {mine["id"]}, other["id"]: {other["id"]}}
    with (
        EventStream(f"{ws_server.ws_url}?projectId={mine['id']}") as filtered,
        EventStream(ws_server.ws_url) as everything,
    ):
        for project in (other, mine, other):
            task = make_task(http, project["id"])
            session = make_session(http, project["id"], [task["id"]])
            ok(http.put(f"/api/projects/{project['id']}", json={"name": "Renamed"}))
            ids_of[project["id"]] |= {task["id"], session["id"]}
        got, every = filtered.sync(), everything.sync()
    expected = [m for m in every if _mentions(m, ids_of[mine["id"]])]
    assert len(expected) == 6
    assert len(every) == 18
    assert got == expected


def test_project_filter_applies_to_replay(ws_server: RunningServer, http: httpx.Client) -> None:
    mine, other = make_project(http, name="Mine"), make_project(http, name="Other")
    with EventStream(ws_server.ws_url) as everything:
        for project in (other, mine, other, mine):
            make_task(http, project["id"])
        every = everything.sync()
    url = f"{ws_server.ws_url}?since=0&projectId={mine['id']}"
    with EventStream(url) as filtered:
        replayed = filtered.sync()
        make_task(http, other["id"])
        make_task(http, mine["id"])
        live = filtered.sync()
    assert names(replayed) == ["project:created", "task:created", "task:created"]
    assert replayed[1:] == [m for m in every if m["data"]["projectId"] == mine["id"]]
    assert names(live) == ["task:created"]
    assert live[0]["data"]["projectId"] == mine["id"]


def _mentions(message: Message, ids: set[str]) -> bool:
    data = message["data"]
    named = {data.get(key) for key in ("id", "projectId", "sessionId", "taskId")}
    return bool(named & ids)


# -- slow clients -------------------------------------------------------------
#
# A client whose socket stops taking data: the server drops it once 50 events
# wait in its queue (MAESTRO_WS_QUEUE=50), sends close 1013 if the socket frees
# up within a grace period (ws.CLOSE_GRACE_SECONDS), and otherwise cuts
# the TCP connection. 200 events of ~50 KB are far more than the queue plus
# what the socket buffers between server and client hold (about 60 such events
# here), and the server gets through them in well under the grace period.

EDITS = 200


@pytest.fixture(scope="module")
def slow_server(
    tmp_path_factory: pytest.TempPathFactory, backend: StoreBackend
) -> Iterator[RunningServer]:
    """A server with a 50-event client queue and one task of ~50 KB."""
    data_dir = tmp_path_factory.mktemp("slow") / "data"
    server = backend.server(data_dir, MAESTRO_WS_QUEUE="50").start()
    with api(server) as http:
        make_task(http, make_project(http)["id"], description="x" * 50_000)
    yield server
    server.stop()
    backend.discard(server)


def _overflow(server: RunningServer, reader: EventStream) -> list[Message]:
    """Make ``EDITS`` big events; return what the reading client got of them."""
    with api(server) as http:
        task_id = get(http, "/api/tasks")[0]["id"]
        for i in range(EDITS):
            ok(http.patch(f"/api/tasks/{task_id}", json={"title": f"Edit {i}"}))
    return reader.sync()


def _read_until_closed(stalled: Any) -> tuple[list[int], ConnectionClosed]:
    """The seqs a connection still delivers, and how it ended."""
    got: list[int] = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frame = stalled.recv(timeout=5)
            assert isinstance(frame, str)
            got.append(json.loads(frame)["seq"])
    return got, closed.value


def test_a_stalled_client_does_not_hold_back_the_others(slow_server: RunningServer) -> None:
    with (
        EventStream(slow_server.ws_url) as reader,
        stalled_connection(slow_server.ws_url, slow_server.port),
    ):
        received = _overflow(slow_server, reader)
    assert names(received) == ["task:updated"] * EDITS
    assert [m["data"]["title"] for m in received] == [f"Edit {i}" for i in range(EDITS)]
    first = received[0]["seq"]
    assert seqs(received) == list(range(first, first + EDITS))


def test_a_dropped_client_that_reads_again_promptly_gets_close_1013(
    slow_server: RunningServer,
) -> None:
    with (
        EventStream(slow_server.ws_url) as reader,
        stalled_connection(slow_server.ws_url, slow_server.port) as stalled,
    ):
        started = time.monotonic()
        first = _overflow(slow_server, reader)[0]["seq"]
        took = time.monotonic() - started
        got, closed = _read_until_closed(stalled)
    # What was already in the socket buffers arrives, then the close: a
    # gap-free start of the stream, cut off well before its end.
    assert got == list(range(first, first + len(got)))
    assert len(got) < EDITS
    assert closed.rcvd is not None, (
        f"no close frame: the {EDITS} edits took {took:.1f}s, "
        f"more than the server's {CLOSE_GRACE_SECONDS} s grace after the drop?"
    )
    assert closed.rcvd.code == 1013


def test_a_dropped_client_that_never_reads_has_its_connection_cut(
    slow_server: RunningServer,
) -> None:
    with (
        EventStream(slow_server.ws_url) as reader,
        stalled_connection(slow_server.ws_url, slow_server.port) as stalled,
    ):
        first = _overflow(slow_server, reader)[0]["seq"]
        time.sleep(CLOSE_GRACE_SECONDS + 1)  # past the server's grace for the close frame
        got, closed = _read_until_closed(stalled)
    # The bytes the kernel had already accepted still arrive; then the
    # connection just ends: the server cut it, no close frame got through.
    assert got == list(range(first, first + len(got)))
    assert len(got) < EDITS
    assert closed.rcvd is None
    assert closed.sent is None  # so it was not the client that ended it


def test_a_dropped_client_catches_up_by_reconnecting_with_since(
    slow_server: RunningServer,
) -> None:
    with (
        EventStream(slow_server.ws_url) as reader,
        stalled_connection(slow_server.ws_url, slow_server.port) as stalled,
    ):
        received = _overflow(slow_server, reader)
        got, _ = _read_until_closed(stalled)
    with EventStream(f"{slow_server.ws_url}?since={got[-1]}") as back:
        rest = back.sync()
    assert got + seqs(rest) == seqs(received)
    assert rest == received[len(got) :]


# -- refused handshakes -------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["since=abc", "since=-1", "since=1.5", "projectId=../x", "storeId=../x"]
)
def test_bad_query_parameters_refuse_the_handshake_with_400_and_the_error_body(
    ws_server: RunningServer, query: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        EventStream(f"{ws_server.ws_url}?{query}")
    assert refused.value.response.status_code == 400
    assert json.loads(refused.value.response.body or b"")["code"] == "VALIDATION_ERROR"


def test_a_refused_handshake_does_not_disturb_other_clients(
    ws_server: RunningServer, stream: EventStream, http: httpx.Client
) -> None:
    with pytest.raises(InvalidStatus):
        EventStream(f"{ws_server.ws_url}?projectId=../x")
    make_project(http)
    assert names(stream.sync()) == ["project:created"]


def test_a_foreign_origin_is_refused_at_the_handshake(ws_server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        EventStream(ws_server.ws_url, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body or b"")["code"] == "FORBIDDEN"


def test_the_servers_own_origin_is_accepted(ws_server: RunningServer, http: httpx.Client) -> None:
    with EventStream(ws_server.ws_url, origin=ws_server.url) as same_site:
        make_project(http)
        assert names(same_site.sync()) == ["project:created"]


# -- with MAESTRO_TOKEN ---------------------------------------------------------

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def token_server(
    tmp_path_factory: pytest.TempPathFactory, backend: StoreBackend
) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("token") / "data"
    server = backend.server(data_dir, MAESTRO_TOKEN=TOKEN).start()
    yield server
    server.stop()
    backend.discard(server)


@pytest.mark.parametrize("query", ["", "?token=wrong"])
def test_with_a_token_set_a_client_without_it_is_refused(
    token_server: RunningServer, query: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        EventStream(token_server.ws_url + query)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body or b"")["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("how", ["query", "header"])
def test_with_a_token_set_a_client_presenting_it_gets_events(
    token_server: RunningServer, how: str
) -> None:
    url, headers = token_server.ws_url, {}
    if how == "query":
        url += f"?token={TOKEN}"
    else:
        headers = {"Authorization": f"Bearer {TOKEN}"}
    with (
        EventStream(url, additional_headers=headers) as stream,
        httpx.Client(
            base_url=token_server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ) as http,
    ):
        project = make_project(http)
        events = stream.sync()
    assert names(events) == ["project:created"]
    assert events[0]["data"]["id"] == project["id"]
