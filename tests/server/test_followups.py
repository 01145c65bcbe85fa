"""Follow-up spawns (``followUpOf`` + ``followUpPrompt`` on ``POST
/api/sessions/spawn``), in process: what is recorded, and every refusal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import assert_error, created, ok
from tests.server.in_process import InProcessApi


@pytest.fixture
def api(tmp_path: Path) -> Iterator[InProcessApi]:
    client = InProcessApi(tmp_path / "data")
    yield client
    client.close()


def finished_session(api: InProcessApi, **changes: Any) -> dict[str, Any]:
    """A session of a new project that ran a Claude session and completed."""
    project = created(api.post("/api/projects", json={"name": "P"}))
    task = created(api.post("/api/tasks", json={"projectId": project["id"], "title": "T"}))
    body = {"projectId": project["id"], "taskIds": [task["id"]], "model": "opus"}
    session = created(api.post("/api/sessions/spawn", json=body))["session"]
    change = {"status": "completed", "agentSessionId": "c0ffee-1", **changes}
    done: dict[str, Any] = ok(api.patch(f"/api/sessions/{session['id']}", json=change))
    return done


def refused(answer: httpx.Response, status: int, code: str, says: str) -> None:
    """The documented error, its message matching ``says`` (a regex)."""
    body = assert_error(answer, status, code)
    assert re.search(says, body["message"]), body["message"]


def follow_up(api: InProcessApi, earlier: dict[str, Any], **fields: Any) -> Any:
    body = {
        "projectId": earlier["projectId"],
        "taskIds": earlier["taskIds"],
        "followUpOf": earlier["id"],
        "followUpPrompt": "Now add a test for the empty case.",
        **fields,
    }
    return api.post("/api/sessions/spawn", json=body)


def test_a_follow_up_records_what_it_continues_and_what_to_ask(api: InProcessApi) -> None:
    earlier = finished_session(api)
    session = created(follow_up(api, earlier))["session"]
    assert session["status"] == "spawning"
    assert session["taskIds"] == earlier["taskIds"]
    assert session["metadata"]["followUpOf"] == earlier["id"]
    assert session["metadata"]["followUpPrompt"] == "Now add a test for the empty case."


def test_an_ordinary_spawn_records_no_follow_up(api: InProcessApi) -> None:
    earlier = finished_session(api)
    assert "followUpOf" not in earlier["metadata"]


def test_a_failed_session_can_be_followed_up_too(api: InProcessApi) -> None:
    created(follow_up(api, finished_session(api, status="failed")))


@pytest.mark.parametrize("missing", ["followUpOf", "followUpPrompt"])
def test_the_two_fields_go_together(api: InProcessApi, missing: str) -> None:
    earlier = finished_session(api)
    body = {
        "projectId": earlier["projectId"],
        "taskIds": earlier["taskIds"],
        "followUpOf": earlier["id"],
        "followUpPrompt": "more",
    }
    del body[missing]
    answer = api.post("/api/sessions/spawn", json=body)
    refused(answer, 400, "VALIDATION_ERROR", "go together")


def test_a_running_session_cannot_be_followed_up(api: InProcessApi) -> None:
    earlier = finished_session(api, status="running")
    refused(follow_up(api, earlier), 409, "SESSION_NOT_FINISHED", "still running")


def test_an_unknown_session_cannot_be_followed_up(api: InProcessApi) -> None:
    earlier = finished_session(api)
    answer = follow_up(api, earlier, followUpOf="sess_nope")
    refused(answer, 404, "SESSION_NOT_FOUND", "sess_nope")


def test_a_session_of_another_project_cannot_be_followed_up(api: InProcessApi) -> None:
    earlier = finished_session(api)
    elsewhere = finished_session(api)
    answer = follow_up(api, earlier, followUpOf=elsewhere["id"])
    refused(answer, 400, "VALIDATION_ERROR", f"project {earlier['projectId']}")


def test_a_session_whose_agent_recorded_nothing_to_resume_cannot(api: InProcessApi) -> None:
    earlier = finished_session(api, agentSessionId=None)
    refused(follow_up(api, earlier), 400, "VALIDATION_ERROR", "nothing|no agent session")


@pytest.mark.parametrize("prompt", ["", "x" * 100_001, 42])
def test_the_prompt_must_be_text_of_sensible_length(api: InProcessApi, prompt: Any) -> None:
    answer = follow_up(api, finished_session(api), followUpPrompt=prompt)
    refused(answer, 400, "VALIDATION_ERROR", "followUpPrompt")


def test_a_follow_up_of_a_bad_id_is_refused_as_such(api: InProcessApi) -> None:
    answer = follow_up(api, finished_session(api), followUpOf="../etc")
    refused(answer, 400, "VALIDATION_ERROR", "followUpOf")
