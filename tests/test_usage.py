"""Usage (SPEC section 12): what each agent invocation used, recorded on its session
with the agent's own session id, and summed per task tree and per project, each
session counted once however many of the summed tasks it is linked to."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.e2e.wsclient import EventStream
from tests.helpers import assert_error, make_project, make_session, make_task, ok

ZERO = {
    "inputTokens": 0,
    "outputTokens": 0,
    "cacheReadTokens": 0,
    "cacheWriteTokens": 0,
    "costUsd": 0.0,
    "turns": 0,
    "durationMs": 0,
    "permissionDenials": 0,
}
NUMBERS = tuple(ZERO)


def usage(**fields: Any) -> dict[str, Any]:
    """A full usage object as the server returns it."""
    return {**ZERO, "model": None, **fields}


# What `maestro worker init` sends when Claude Code's result comes in.
FINAL = usage(
    inputTokens=1200,
    outputTokens=340,
    cacheReadTokens=5000,
    cacheWriteTokens=800,
    costUsd=0.0421,
    turns=7,
    durationMs=93_000,
    model="claude-sonnet-4-5",
    permissionDenials=1,
)
AGENT_SESSION = "5f0c7c2e-8d1a-4b7e-9a43-2c1d0e6f7a11"


def make_metered_session(
    api: httpx.Client, project_id: str, task_ids: list[str], **used: Any
) -> str:
    """The id of a new session linked to ``task_ids`` that has reported ``used``."""
    session_id: str = make_session(api, project_id, task_ids)["id"]
    ok(api.patch(f"/api/sessions/{session_id}", json={"usage": used}))
    return session_id


def get_session(api: httpx.Client, session_id: str) -> Any:
    return ok(api.get(f"/api/sessions/{session_id}"))


@pytest.fixture
def session(api: httpx.Client, project: dict[str, Any], task: dict[str, Any]) -> Any:
    return make_session(api, project["id"], [task["id"]])


# -- on the session ---------------------------------------------------------------


def test_a_new_session_has_no_usage_and_no_agent_session_id(session: Any) -> None:
    assert session["usage"] is None
    assert session["agentSessionId"] is None


def test_the_worker_records_usage_and_the_agent_session_id(api: httpx.Client, session: Any) -> None:
    body = {
        "status": "completed",
        "usage": FINAL,
        "agentSessionId": AGENT_SESSION,
        "events": [{"type": "result", "data": {"subtype": "success"}}],
    }
    patched = ok(api.patch(f"/api/sessions/{session['id']}", json=body))
    assert patched["usage"] == FINAL
    assert patched["agentSessionId"] == AGENT_SESSION
    assert patched["status"] == "completed"
    assert [e["type"] for e in patched["events"]] == ["result"]
    assert get_session(api, session["id"]) == patched


def test_usage_fields_left_out_are_zero(api: httpx.Client, session: Any) -> None:
    patched = ok(api.patch(f"/api/sessions/{session['id']}", json={"usage": {"turns": 2}}))
    assert patched["usage"] == usage(turns=2)


def test_a_new_usage_replaces_the_old_one_whole(api: httpx.Client, session: Any) -> None:
    path = f"/api/sessions/{session['id']}"
    ok(api.patch(path, json={"usage": FINAL}))
    patched = ok(api.patch(path, json={"usage": {"inputTokens": 5}}))
    assert patched["usage"] == usage(inputTokens=5)


def test_a_patch_without_usage_keeps_it(api: httpx.Client, session: Any) -> None:
    path = f"/api/sessions/{session['id']}"
    ok(api.patch(path, json={"usage": FINAL, "agentSessionId": AGENT_SESSION}))
    patched = ok(api.patch(path, json={"name": "Renamed"}))
    assert (patched["usage"], patched["agentSessionId"]) == (FINAL, AGENT_SESSION)


def test_null_clears_usage_and_the_agent_session_id(api: httpx.Client, session: Any) -> None:
    path = f"/api/sessions/{session['id']}"
    ok(api.patch(path, json={"usage": FINAL, "agentSessionId": AGENT_SESSION}))
    patched = ok(api.patch(path, json={"usage": None, "agentSessionId": None}))
    assert (patched["usage"], patched["agentSessionId"]) == (None, None)


def test_session_updated_carries_the_usage(
    shared_server: RunningServer, api: httpx.Client, session: Any
) -> None:
    with EventStream(shared_server.ws_url) as stream:
        stream.sync()
        ok(api.patch(f"/api/sessions/{session['id']}", json={"usage": FINAL}))
        events = stream.sync()
    assert [e["event"] for e in events] == ["session:updated"]
    assert events[0]["data"]["usage"] == FINAL


def test_usage_survives_a_restart(server_factory: Any) -> None:
    server: RunningServer = server_factory()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        session_id = make_metered_session(api, make_project(api)["id"], [], **FINAL)
        ok(api.patch(f"/api/sessions/{session_id}", json={"agentSessionId": AGENT_SESSION}))
    server.restart()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        stored = get_session(api, session_id)
    assert (stored["usage"], stored["agentSessionId"]) == (FINAL, AGENT_SESSION)


# (body, the field the error names, the start of its message)
BAD_PATCHES = [
    ({"usage": {"inputTokens": -1}}, "usage.inputTokens", "usage.inputTokens must be at least 0"),
    ({"usage": {"costUsd": -0.01}}, "usage.costUsd", "usage.costUsd must be at least 0"),
    ({"usage": {"turns": 1.5}}, "usage.turns", "usage.turns must be an integer"),
    ({"usage": {"outputTokens": "12"}}, "usage.outputTokens", "usage.outputTokens must be an int"),
    ({"usage": {"costUsd": "0.5"}}, "usage.costUsd", "usage.costUsd must be a number"),
    ({"usage": {"durationMs": 2**53}}, "usage.durationMs", "usage.durationMs must be at most"),
    ({"usage": {"permissionDenials": None}}, "usage.permissionDenials", "usage.permissionDen"),
    ({"usage": {"model": 3}}, "usage.model", "usage.model must be a string or null"),
    ({"usage": "lots"}, "usage", "usage must be an object or null"),
    ({"usage": [FINAL]}, "usage", "usage must be an object or null"),
    ({"agentSessionId": 42}, "agentSessionId", "agentSessionId must be a string or null"),
    ({"agentSessionId": ""}, "agentSessionId", "agentSessionId must be an id"),
    ({"agentSessionId": "--resume"}, "agentSessionId", "agentSessionId must be an id"),
    ({"agentSessionId": "a b"}, "agentSessionId", "agentSessionId must be an id"),
    ({"agentSessionId": "a" * 201}, "agentSessionId", "agentSessionId must be at most 200"),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD_PATCHES)
def test_bad_usage_is_refused_and_changes_nothing(
    api: httpx.Client, session: Any, body: dict[str, Any], field: str, message: str
) -> None:
    path = f"/api/sessions/{session['id']}"
    before = ok(api.patch(path, json={"usage": FINAL}))
    response = api.patch(path, json={"status": "completed", **body})
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["message"].startswith(message), error["message"]
    assert error["details"] == {"field": field}
    assert get_session(api, session["id"]) == before


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"usage": {"costUsd": NaN}}', "body is not valid JSON"),
        (b'{"usage": {"costUsd": Infinity}}', "body is not valid JSON"),
        (b'{"usage": {"costUsd": 1e999}}', "usage.costUsd is out of range"),
    ],
)
def test_a_cost_that_is_not_a_finite_number_is_refused(
    api: httpx.Client, session: Any, raw: bytes, message: str
) -> None:
    path = f"/api/sessions/{session['id']}"
    headers = {"Content-Type": "application/json"}
    error = assert_error(api.patch(path, content=raw, headers=headers), 400, "VALIDATION_ERROR")
    assert error["message"].startswith(message), error["message"]
    assert get_session(api, session["id"]) == session


# -- roll-ups -------------------------------------------------------------------------


class Tree:
    """root ─┬─ a ── grandchild
             └─ b
    and an unrelated task ``other`` in the same project."""

    def __init__(self, api: httpx.Client) -> None:
        self.project: str = make_project(api)["id"]
        self.root: str = make_task(api, self.project)["id"]
        self.a: str = make_task(api, self.project, parentId=self.root)["id"]
        self.b: str = make_task(api, self.project, parentId=self.root)["id"]
        self.grandchild: str = make_task(api, self.project, parentId=self.a)["id"]
        self.other: str = make_task(api, self.project)["id"]


@pytest.fixture
def tree(api: httpx.Client) -> Tree:
    return Tree(api)


def rollup(api: httpx.Client, path: str) -> Any:
    body = ok(api.get(path))
    assert set(body["usage"]) == set(ZERO)
    return body


def test_a_task_rollup_sums_the_sessions_of_the_whole_tree_once_each(
    api: httpx.Client, tree: Tree
) -> None:
    make_metered_session(api, tree.project, [tree.root], inputTokens=100, costUsd=0.5, model="opus")
    # Linked to two tasks of the tree: counted once.
    make_metered_session(
        api, tree.project, [tree.a, tree.grandchild], inputTokens=10, turns=3, model="sonnet"
    )
    make_metered_session(api, tree.project, [tree.grandchild], outputTokens=7, costUsd=0.25)
    # Linked to the tree and to a task outside it: counted once, in full.
    make_metered_session(
        api, tree.project, [tree.other, tree.b], cacheReadTokens=1000, durationMs=60
    )
    make_session(api, tree.project, [tree.b])  # no usage reported: not counted
    make_metered_session(api, tree.project, [tree.other], inputTokens=99_999)  # outside the tree
    make_metered_session(api, tree.project, [], inputTokens=99_999)  # linked to no task

    body = rollup(api, f"/api/tasks/{tree.root}/usage")
    assert body == {
        "taskId": tree.root,
        "taskIds": [tree.root, tree.a, tree.b, tree.grandchild],
        "sessions": 4,
        "usage": {
            **ZERO,
            "inputTokens": 110,
            "outputTokens": 7,
            "cacheReadTokens": 1000,
            "costUsd": 0.75,
            "turns": 3,
            "durationMs": 60,
        },
        "models": ["opus", "sonnet"],
    }


def test_a_subtree_rollup_covers_only_that_subtree(api: httpx.Client, tree: Tree) -> None:
    make_metered_session(api, tree.project, [tree.root], inputTokens=100)
    make_metered_session(api, tree.project, [tree.a, tree.grandchild], inputTokens=10)
    make_metered_session(api, tree.project, [tree.grandchild], inputTokens=1, model="haiku")
    body = rollup(api, f"/api/tasks/{tree.a}/usage")
    assert body["taskIds"] == [tree.a, tree.grandchild]
    assert (body["sessions"], body["usage"]["inputTokens"]) == (2, 11)
    assert body["models"] == ["haiku"]


def test_a_task_without_sessions_rolls_up_to_zero(api: httpx.Client, tree: Tree) -> None:
    body = rollup(api, f"/api/tasks/{tree.grandchild}/usage")
    assert body == {
        "taskId": tree.grandchild,
        "taskIds": [tree.grandchild],
        "sessions": 0,
        "usage": ZERO,
        "models": [],
    }


def test_every_number_is_summed(api: httpx.Client, tree: Tree) -> None:
    make_metered_session(api, tree.project, [tree.a], **FINAL)
    make_metered_session(api, tree.project, [tree.b], **FINAL)
    body = rollup(api, f"/api/tasks/{tree.root}/usage")
    assert body["sessions"] == 2
    for name in NUMBERS:
        assert body["usage"][name] == pytest.approx(2 * FINAL[name]), name
    assert body["models"] == [FINAL["model"]]


def test_costs_keep_their_cents_and_fractions(api: httpx.Client, tree: Tree) -> None:
    for cost in (0.1, 0.2, 0.000015, 1.99):
        make_metered_session(api, tree.project, [tree.a], costUsd=cost)
    body = rollup(api, f"/api/tasks/{tree.root}/usage")
    assert body["usage"]["costUsd"] == pytest.approx(2.290015, abs=1e-9)


def test_the_rollup_follows_the_links(api: httpx.Client, tree: Tree) -> None:
    moved = make_metered_session(api, tree.project, [tree.a], inputTokens=40)
    gone = make_metered_session(api, tree.project, [tree.b], inputTokens=2)
    assert rollup(api, f"/api/tasks/{tree.root}/usage")["usage"]["inputTokens"] == 42
    ok(api.patch(f"/api/sessions/{moved}", json={"taskIds": [tree.other]}))
    ok(api.delete(f"/api/sessions/{gone}"))
    assert rollup(api, f"/api/tasks/{tree.root}/usage")["sessions"] == 0
    assert rollup(api, f"/api/tasks/{tree.other}/usage")["usage"]["inputTokens"] == 40


def test_a_project_rollup_sums_every_session_of_the_project(api: httpx.Client, tree: Tree) -> None:
    make_metered_session(api, tree.project, [tree.root, tree.a], inputTokens=100, model="opus")
    make_metered_session(
        api, tree.project, [tree.other], outputTokens=5, costUsd=0.5, model="gpt-5"
    )
    make_metered_session(api, tree.project, [], turns=4)
    make_session(api, tree.project, [tree.b])  # no usage
    elsewhere = make_project(api)["id"]
    make_metered_session(api, elsewhere, [], inputTokens=99_999)

    body = rollup(api, f"/api/projects/{tree.project}/usage")
    assert body == {
        "projectId": tree.project,
        "sessions": 3,
        "usage": {**ZERO, "inputTokens": 100, "outputTokens": 5, "costUsd": 0.5, "turns": 4},
        "models": ["gpt-5", "opus"],
    }


def test_a_project_without_usage_rolls_up_to_zero(api: httpx.Client) -> None:
    project_id = make_project(api)["id"]
    body = rollup(api, f"/api/projects/{project_id}/usage")
    assert body == {"projectId": project_id, "sessions": 0, "usage": ZERO, "models": []}


def test_the_rollup_of_an_unknown_task_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/api/tasks/task_0_missing/usage"), 404, "TASK_NOT_FOUND")


def test_the_rollup_of_an_unknown_project_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/api/projects/proj_0_missing/usage"), 404, "PROJECT_NOT_FOUND")


@pytest.mark.parametrize("bad", ["a b", "-rf", "tâche", "x" * 129])
@pytest.mark.parametrize("kind", ["tasks", "projects"])
def test_an_invalid_id_is_refused_as_on_get(api: httpx.Client, kind: str, bad: str) -> None:
    plain = api.get(f"/api/{kind}/{bad}")
    rolled = api.get(f"/api/{kind}/{bad}/usage")
    assert (rolled.status_code, rolled.json()["code"]) == (plain.status_code, plain.json()["code"])
    assert rolled.status_code == 400
