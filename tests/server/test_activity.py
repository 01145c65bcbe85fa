"""A session's live activity (``/api/sessions/{id}/activity``) through the whole
application in process, and the ``ActivityLog`` that keeps it, alone.

The WebSocket side against a real server: ``test_activity_server.py``; the agent's
side (``ActivityForwarder``): ``tests/agents/test_activity_forwarder.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maestro.domain.activity import ActivityLine, ActivityPost
from maestro.server.activity import ENTRIES_PER_SESSION, ENTRY_OVERHEAD, ActivityLog
from maestro.server.hub import EventHub
from tests.helpers import assert_error, ok
from tests.server.in_process import InProcessApi


@pytest.fixture
def api(tmp_path: Path) -> Iterator[InProcessApi]:
    client = InProcessApi(tmp_path / "data")
    yield client
    client.close()


@pytest.fixture
def session_id(api: InProcessApi) -> str:
    project = ok(api.post("/api/projects", json={"name": "P"}), 201)
    session = ok(api.post("/api/sessions", json={"projectId": project["id"], "taskIds": []}), 201)
    made: str = session["id"]
    return made


def lines(*texts: str, kind: str = "assistant") -> list[dict[str, str]]:
    return [{"kind": kind, "text": text} for text in texts]


def post(api: InProcessApi, session_id: str, body: dict[str, Any]) -> Any:
    return ok(api.post(f"/api/sessions/{session_id}/activity", json=body))


def read(api: InProcessApi, session_id: str, query: str = "") -> Any:
    return ok(api.get(f"/api/sessions/{session_id}/activity{query}"))


# -- posting and reading ---------------------------------------------------------------


def test_posted_lines_are_kept_in_order_with_their_index_and_time(
    api: InProcessApi, session_id: str
) -> None:
    assert post(api, session_id, {"entries": lines("Reading the code")}) == {"next": 2}
    body = {"entries": [*lines("→ Bash: ls", kind="tool"), *lines("● done", kind="status")]}
    assert post(api, session_id, body) == {"next": 4}
    page = read(api, session_id)
    assert page["sessionId"] == session_id
    assert page["next"] == 4
    assert [(e["index"], e["kind"], e["text"]) for e in page["entries"]] == [
        (1, "assistant", "Reading the code"),
        (2, "tool", "→ Bash: ls"),
        (3, "status", "● done"),
    ]
    assert all(isinstance(e["at"], int) and e["at"] > 0 for e in page["entries"])
    assert set(page["entries"][0]) == {"index", "at", "kind", "text"}


def test_since_gives_only_the_entries_after_it(api: InProcessApi, session_id: str) -> None:
    post(api, session_id, {"entries": lines("a", "b", "c")})
    assert [e["text"] for e in read(api, session_id, "?since=1")["entries"]] == ["b", "c"]
    assert read(api, session_id, "?since=3") == {"sessionId": session_id, "entries": [], "next": 4}
    assert read(api, session_id, "?since=99")["entries"] == []
    assert len(read(api, session_id, "?since=0")["entries"]) == 3


def test_a_session_without_activity_has_an_empty_log(api: InProcessApi, session_id: str) -> None:
    assert read(api, session_id) == {"sessionId": session_id, "entries": [], "next": 1}


def test_lines_the_agent_could_not_send_are_one_status_entry_before_the_batch(
    api: InProcessApi, session_id: str
) -> None:
    post(api, session_id, {"entries": lines("later"), "dropped": 12})
    post(api, session_id, {"entries": lines("last"), "dropped": 1})
    assert [(e["kind"], e["text"]) for e in read(api, session_id)["entries"]] == [
        ("status", "(12 lines not forwarded)"),
        ("assistant", "later"),
        ("status", "(1 line not forwarded)"),
        ("assistant", "last"),
    ]


def test_the_log_keeps_the_last_thousand_entries(api: InProcessApi, session_id: str) -> None:
    for batch in range(6):
        texts = [f"line {batch * 200 + k + 1}" for k in range(200)]
        post(api, session_id, {"entries": lines(*texts)})
    page = read(api, session_id)
    assert len(page["entries"]) == ENTRIES_PER_SESSION == 1000
    assert page["entries"][0] == {**page["entries"][0], "index": 201, "text": "line 201"}
    assert page["entries"][-1]["index"] == 1200
    assert page["next"] == 1201
    # A since older than what is kept gives all that is kept.
    assert len(read(api, session_id, "?since=150")["entries"]) == 1000
    assert [e["index"] for e in read(api, session_id, "?since=1198")["entries"]] == [1199, 1200]


def test_an_entry_may_be_two_thousand_characters(api: InProcessApi, session_id: str) -> None:
    post(api, session_id, {"entries": lines("é" * 2000)})
    assert read(api, session_id)["entries"][0]["text"] == "é" * 2000


def test_activity_is_not_an_event_of_the_stream(api: InProcessApi, session_id: str) -> None:
    before = api.hub.last_seq
    post(api, session_id, {"entries": lines("a")})
    assert api.hub.last_seq == before


def test_a_client_watching_the_session_gets_the_batch_as_one_frame(
    api: InProcessApi, session_id: str
) -> None:
    watching = api.hub.subscribe(None, None, session_id=session_id)
    plain = api.hub.subscribe(None, None)
    post(api, session_id, {"entries": lines("a", "b"), "dropped": 2})
    frame = json.loads(watching.queue.get_nowait())  # type: ignore[arg-type]
    assert set(frame) == {"type", "event", "data", "timestamp"}  # no seq
    assert frame["type"] == frame["event"] == "session:activity"
    assert frame["data"]["sessionId"] == session_id
    assert [e["text"] for e in frame["data"]["entries"]] == ["(2 lines not forwarded)", "a", "b"]
    assert frame["data"]["entries"] == read(api, session_id)["entries"]
    assert plain.queue.empty()


def test_a_deleted_sessions_log_goes_with_it(api: InProcessApi, session_id: str) -> None:
    post(api, session_id, {"entries": lines("a")})
    ok(api.delete(f"/api/sessions/{session_id}"))
    assert not api.app.state.activity.has(session_id)
    assert_error(api.get(f"/api/sessions/{session_id}/activity"), 404, "SESSION_NOT_FOUND")


# -- refusals ----------------------------------------------------------------------------


def test_an_unknown_session_is_404(api: InProcessApi) -> None:
    body = {"entries": lines("a")}
    assert_error(
        api.post("/api/sessions/sess_nope/activity", json=body),
        404,
        "SESSION_NOT_FOUND",
        "session sess_nope not found",
    )
    assert_error(api.get("/api/sessions/sess_nope/activity"), 404, "SESSION_NOT_FOUND")
    assert not api.app.state.activity.has("sess_nope")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "entries is required"),
        ({"entries": []}, "entries must have at least 1 items"),
        ({"entries": lines(*["a"] * 201)}, "entries must have at most 200 items"),
        ({"entries": "a"}, "entries must be a list"),
        (
            {"entries": lines("a", kind="thought")},
            "entries[0].kind must be one of assistant, tool, status",
        ),
        ({"entries": [{"kind": "tool"}]}, "entries[0].text is required"),
        ({"entries": [{"kind": "tool", "text": 3}]}, "entries[0].text must be a string"),
        ({"entries": lines("a" * 2001)}, "entries[0].text must be at most 2000 characters long"),
        ({"entries": lines("a"), "dropped": -1}, "dropped must be at least 0"),
        ({"entries": lines("a"), "dropped": "3"}, "dropped must be an integer"),
    ],
)
def test_bad_input_is_a_validation_error_naming_the_field(
    api: InProcessApi, session_id: str, body: dict[str, Any], message: str
) -> None:
    response = api.post(f"/api/sessions/{session_id}/activity", json=body)
    assert_error(response, 400, "VALIDATION_ERROR", message)
    assert read(api, session_id)["entries"] == []


@pytest.mark.parametrize("since", ["-1", "abc", "1.5", "²", "1" * 19])
def test_since_must_be_a_non_negative_integer(
    api: InProcessApi, session_id: str, since: str
) -> None:
    response = api.get(f"/api/sessions/{session_id}/activity", params={"since": since})
    body = assert_error(response, 400, "VALIDATION_ERROR", "since must be a non-negative integer")
    assert body["details"] == {"field": "since"}


def test_a_body_that_is_not_json_is_refused(api: InProcessApi, session_id: str) -> None:
    response = api.post(
        f"/api/sessions/{session_id}/activity",
        content=b"entries",
        headers={"Content-Type": "text/plain"},
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_bad_session_id_is_a_validation_error(api: InProcessApi) -> None:
    assert_error(api.get("/api/sessions/..%20x/activity"), 400, "VALIDATION_ERROR")


# -- the log alone: its memory bounds -------------------------------------------------------


def batch(*texts: str) -> ActivityPost:
    return ActivityPost(entries=[ActivityLine(kind="assistant", text=t) for t in texts])


def test_beyond_its_session_limit_the_log_written_to_least_recently_goes() -> None:
    log = ActivityLog(EventHub(retained=10, queue_limit=10), sessions=2)
    log.record("s1", batch("a"))
    log.record("s2", batch("b"))
    log.record("s1", batch("c"))  # s1 is now the most recently written
    log.record("s3", batch("d"))
    assert (log.has("s1"), log.has("s2"), log.has("s3")) == (True, False, True)
    assert len(log) == 2


def test_beyond_its_memory_budget_the_oldest_logs_go_first() -> None:
    log = ActivityLog(EventHub(retained=10, queue_limit=10), memory=2 * ENTRY_OVERHEAD + 10)
    log.record("s1", batch("aaaa"))
    log.record("s2", batch("bbbb"))
    log.record("s3", batch("cccc"))
    assert (log.has("s1"), log.has("s2"), log.has("s3")) == (False, True, True)
    assert log.size == 2 * ENTRY_OVERHEAD + 8


def test_the_size_follows_the_ring_and_forgetting() -> None:
    log = ActivityLog(EventHub(retained=10, queue_limit=10), entries_per_session=2)
    log.record("s1", batch("aa", "bbb", "cccc"))
    assert [e.text for e in log.page("s1", 0).entries] == ["bbb", "cccc"]
    assert log.size == 2 * ENTRY_OVERHEAD + 7
    log.forget("s1")
    assert log.size == 0
