"""Live activity over a real ``maestro serve``: a WebSocket client that names a
session (``?sessionId=``) gets its ``session:activity`` frames, and nobody else
does. Each check reads with ``EventStream.sync()`` (the ping/pong barrier), so
"nothing arrived" means nothing was owed."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import RunningServer
from tests.e2e.wsclient import EventStream, names
from tests.helpers import make_session, ok


@pytest.fixture
def session_id(api: httpx.Client, project: dict[str, Any]) -> str:
    made: str = make_session(api, project["id"], [])["id"]
    return made


def post_lines(api: httpx.Client, session_id: str, *texts: str) -> Any:
    entries = [{"kind": "tool", "text": text} for text in texts]
    return ok(api.post(f"/api/sessions/{session_id}/activity", json={"entries": entries}))


def test_only_the_client_watching_the_session_gets_its_activity(
    api: httpx.Client, shared_server: RunningServer, session_id: str, project: dict[str, Any]
) -> None:
    other_session = make_session(api, project["id"], [])["id"]
    url = shared_server.ws_url
    with (
        EventStream(f"{url}?sessionId={session_id}") as watching,
        EventStream(url) as plain,
        EventStream(f"{url}?sessionId={other_session}") as elsewhere,
    ):
        assert post_lines(api, session_id, "→ Bash: ls", "→ Read: a.py") == {"next": 3}
        [frame] = watching.sync()
        assert frame["event"] == frame["type"] == "session:activity"
        assert "seq" not in frame
        assert frame["data"]["sessionId"] == session_id
        assert [e["text"] for e in frame["data"]["entries"]] == ["→ Bash: ls", "→ Read: a.py"]
        assert (
            frame["data"]["entries"]
            == ok(api.get(f"/api/sessions/{session_id}/activity"))["entries"]
        )
        assert plain.sync() == []
        assert elsewhere.sync() == []


def test_a_client_watching_a_session_still_gets_the_event_stream(
    api: httpx.Client, shared_server: RunningServer, session_id: str
) -> None:
    with EventStream(f"{shared_server.ws_url}?sessionId={session_id}") as watching:
        ok(api.patch(f"/api/sessions/{session_id}", json={"name": "Renamed"}))
        post_lines(api, session_id, "→ Edit: b.py")
        assert names(watching.sync()) == ["session:updated", "session:activity"]


def test_activity_is_not_replayed_to_a_client_that_resumes_with_since(
    api: httpx.Client, shared_server: RunningServer, session_id: str
) -> None:
    latest = ok(api.get("/health"))["latestSeq"]
    post_lines(api, session_id, "→ Bash: make")
    with EventStream(f"{shared_server.ws_url}?since={latest}&sessionId={session_id}") as late:
        assert late.sync() == []


@pytest.mark.parametrize("bad", ["..", "a b", "x" * 200])
def test_a_session_id_that_is_not_an_id_is_refused_at_the_handshake(
    shared_server: RunningServer, bad: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        EventStream(f"{shared_server.ws_url}?sessionId={quote(bad)}")
    response = refused.value.response
    assert response.status_code == 400
    body = json.loads(response.body or b"{}")
    assert (body["code"], body["message"]) == ("VALIDATION_ERROR", "sessionId must be a valid id")
