"""The server's half of worktrees and dispatch (SPEC section 12), in process: a
project's settings for how its sessions run, a task's ``autoStart``, and the
agent and model a spawn takes from its project. The server stores and serves
these; the CLI and the runner act on them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maestro.agents.adapters import ADAPTERS
from maestro.domain.vocabulary import AGENT_NAMES, SPAWN_SOURCES
from tests.helpers import assert_error, created, ok
from tests.server.in_process import InProcessApi

DEFAULTS: dict[str, Any] = {
    "worktrees": "auto",
    "baseBranch": None,
    "setupCommand": None,
    "setupTimeout": 600,
    "worktreeInclude": [],
    "agent": None,
    "model": None,
    "maxConcurrent": 2,
}
CHOSEN: dict[str, Any] = {
    "worktrees": "on",
    "baseBranch": "release/2.0",
    "setupCommand": "npm ci && cp .env.example .env",
    "setupTimeout": 1200,
    "worktreeInclude": [".env", "config/*.local"],
    "agent": "codex",
    "model": "o3",
    "maxConcurrent": 4,
}
# Another value for each setting, for updates.
CHANGED: dict[str, Any] = {
    "worktrees": "off",
    "baseBranch": "main",
    "setupCommand": "make setup",
    "setupTimeout": 30,
    "worktreeInclude": ["**/.env.local"],
    "agent": "custom",
    "model": "claude-sonnet-4-5",
    "maxConcurrent": 1,
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApi]:
    """One server for the module (each test makes its own project): starting one
    takes longer than most of these tests."""
    client = InProcessApi(tmp_path_factory.mktemp("dispatch") / "data")
    yield client
    client.close()


def project_count(api: InProcessApi) -> int:
    return len(ok(api.get("/api/projects")))


def new_project(api: InProcessApi, **fields: Any) -> dict[str, Any]:
    return created(api.post("/api/projects", json={"name": "P", **fields}))


def new_task(api: InProcessApi, project_id: str, **fields: Any) -> dict[str, Any]:
    return created(api.post("/api/tasks", json={"projectId": project_id, "title": "T", **fields}))


def settings(project: dict[str, Any]) -> dict[str, Any]:
    return {name: project[name] for name in DEFAULTS}


def spawned(api: InProcessApi, project_id: str, **fields: Any) -> dict[str, Any]:
    """The metadata of a session spawned on a new task of the project."""
    task = new_task(api, project_id)
    body = {"projectId": project_id, "taskIds": [task["id"]], **fields}
    metadata: dict[str, Any] = created(api.post("/api/sessions/spawn", json=body))["session"][
        "metadata"
    ]
    return metadata


# -- project settings -------------------------------------------------------------


def test_a_new_project_gets_the_default_settings(api: InProcessApi) -> None:
    project = new_project(api)
    assert settings(project) == DEFAULTS
    assert settings(ok(api.get(f"/api/projects/{project['id']}"))) == DEFAULTS


def test_every_setting_is_kept_from_the_create(api: InProcessApi) -> None:
    project = new_project(api, **CHOSEN)
    assert settings(project) == CHOSEN
    assert settings(ok(api.get(f"/api/projects/{project['id']}"))) == CHOSEN
    listed = [p for p in ok(api.get("/api/projects")) if p["id"] == project["id"]]
    assert [settings(p) for p in listed] == [CHOSEN]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("name", list(CHANGED))
def test_an_update_changes_only_the_setting_it_names(
    api: InProcessApi, method: str, name: str
) -> None:
    project = new_project(api, **CHOSEN)
    answer = ok(api.request(method, f"/api/projects/{project['id']}", json={name: CHANGED[name]}))
    expected = {**CHOSEN, name: CHANGED[name]}
    assert settings(answer) == expected
    assert settings(ok(api.get(f"/api/projects/{project['id']}"))) == expected
    assert answer["name"] == "P" and answer["permissions"] == project["permissions"]


def test_null_puts_a_nullable_setting_back_to_its_default(api: InProcessApi) -> None:
    project = new_project(api, **CHOSEN)
    nulls = {"baseBranch": None, "setupCommand": None, "agent": None, "model": None}
    answer = ok(api.patch(f"/api/projects/{project['id']}", json=nulls))
    assert settings(answer) == {**CHOSEN, **nulls}


def test_an_update_without_settings_leaves_them_alone(api: InProcessApi) -> None:
    project = new_project(api, **CHOSEN)
    answer = ok(api.request("PUT", f"/api/projects/{project['id']}", json={"name": "Renamed"}))
    assert answer["name"] == "Renamed"
    assert settings(answer) == CHOSEN


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("setupTimeout", 1),
        ("setupTimeout", 86_400),
        ("maxConcurrent", 1),
        ("maxConcurrent", 100),
        ("setupCommand", "x" * 10_000),
        ("setupCommand", "set -e\nnpm ci\nmake build\n"),
        ("setupCommand", ""),
        ("worktreeInclude", [f"file{i}" for i in range(100)]),
        ("worktreeInclude", ["x" * 500]),
        ("worktreeInclude", ["..env", "a/..b", "*.secret", "deep/**/x"]),
        ("worktreeInclude", []),
        ("baseBranch", "b" * 200),
        ("baseBranch", "origin/main"),
        ("baseBranch", "feature/JIRA-12_fix.v2"),
        ("baseBranch", "v1.0"),
        ("model", "claude-sonnet-4-5[1m]"),
        ("model", "us.anthropic.claude-sonnet-4-5-v1:0"),
        ("model", "m" * 200),
        *[("agent", agent) for agent in AGENT_NAMES],
        *[("worktrees", mode) for mode in ("auto", "on", "off")],
    ],
)
def test_a_setting_at_its_limits_is_accepted(api: InProcessApi, name: str, value: Any) -> None:
    assert new_project(api, **{name: value})[name] == value
    project = new_project(api)
    assert ok(api.patch(f"/api/projects/{project['id']}", json={name: value}))[name] == value


BRANCH_RULE = (
    "must be a branch name git accepts: no spaces, control characters or any of "
    "~ ^ : ? * [ \\; not starting with '-', '/' or '.'; no '..', '//', '@{' or '/.'; "
    "not ending with '/', '.' or '.lock'"
)
INCLUDE_RULE = (
    "must be a file pattern relative to the repository: not starting with '/', "
    "without a '..' segment or control characters"
)
MODEL_RULE = (
    "must be a model name: starting with a letter or digit, without spaces or control characters"
)
BAD_SETTINGS: list[tuple[str, Any, str, str]] = [
    # (field, value, message, details.field)
    ("worktrees", "always", "worktrees must be one of auto, on, off", "worktrees"),
    ("worktrees", None, "worktrees must be a string", "worktrees"),
    ("worktrees", True, "worktrees must be a string", "worktrees"),
    ("baseBranch", "-main", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "--upload-pack=evil", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "my branch", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "main\n", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "a\tb", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "main..dev", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "main@{1}", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "main.lock", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "feature/", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "main.", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "a//b", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "a/.hidden", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "HEAD~1", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "a:b", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "@", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "", f"baseBranch {BRANCH_RULE}", "baseBranch"),
    ("baseBranch", "b" * 201, "baseBranch must be at most 200 characters long", "baseBranch"),
    ("baseBranch", 5, "baseBranch must be a string or null", "baseBranch"),
    ("setupCommand", "make\u0000setup", "setupCommand must be a command without NUL characters",
     "setupCommand"),
    ("setupCommand", "x" * 10_001, "setupCommand must be at most 10000 characters long",
     "setupCommand"),
    ("setupCommand", ["npm", "ci"], "setupCommand must be a string or null", "setupCommand"),
    ("setupTimeout", 0, "setupTimeout must be at least 1", "setupTimeout"),
    ("setupTimeout", 86_401, "setupTimeout must be at most 86400", "setupTimeout"),
    ("setupTimeout", 1.5, "setupTimeout must be an integer", "setupTimeout"),
    ("setupTimeout", None, "setupTimeout must be an integer", "setupTimeout"),
    ("worktreeInclude", ".env", "worktreeInclude must be a list", "worktreeInclude"),
    ("worktreeInclude", [1], "worktreeInclude[0] must be a string", "worktreeInclude[0]"),
    ("worktreeInclude", ["/etc/passwd"], f"worktreeInclude[0] {INCLUDE_RULE}",
     "worktreeInclude[0]"),
    ("worktreeInclude", [".env", "../secrets/*"], f"worktreeInclude[1] {INCLUDE_RULE}",
     "worktreeInclude[1]"),
    ("worktreeInclude", ["a/../../b"], f"worktreeInclude[0] {INCLUDE_RULE}",
     "worktreeInclude[0]"),
    ("worktreeInclude", ["a/.."], f"worktreeInclude[0] {INCLUDE_RULE}", "worktreeInclude[0]"),
    ("worktreeInclude", ["\\\\server\\x"], f"worktreeInclude[0] {INCLUDE_RULE}",
     "worktreeInclude[0]"),
    ("worktreeInclude", [".env\u0000"], f"worktreeInclude[0] {INCLUDE_RULE}",
     "worktreeInclude[0]"),
    ("worktreeInclude", [""], f"worktreeInclude[0] {INCLUDE_RULE}", "worktreeInclude[0]"),
    ("worktreeInclude", ["x" * 501], "worktreeInclude[0] must be at most 500 characters long",
     "worktreeInclude[0]"),
    ("worktreeInclude", ["x"] * 101, "worktreeInclude must have at most 100 items",
     "worktreeInclude"),
    ("agent", "gemini", "agent must be one of claude, codex, custom", "agent"),
    ("agent", 1, "agent must be a string or null", "agent"),
    ("model", "", f"model {MODEL_RULE}", "model"),
    ("model", "-o3", f"model {MODEL_RULE}", "model"),
    ("model", "claude sonnet", f"model {MODEL_RULE}", "model"),
    ("model", "m" * 201, "model must be at most 200 characters long", "model"),
    ("maxConcurrent", 0, "maxConcurrent must be at least 1", "maxConcurrent"),
    ("maxConcurrent", 101, "maxConcurrent must be at most 100", "maxConcurrent"),
    ("maxConcurrent", "2", "maxConcurrent must be an integer", "maxConcurrent"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "message", "field"), BAD_SETTINGS)
def test_a_bad_setting_is_refused_on_create_naming_the_field(
    api: InProcessApi, name: str, value: Any, message: str, field: str
) -> None:
    before = project_count(api)
    answer = api.post("/api/projects", json={"name": "P", name: value})
    body = assert_error(answer, 400, "VALIDATION_ERROR", message)
    assert body["details"] == {"field": field}
    assert project_count(api) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize(("name", "value", "message", "field"), BAD_SETTINGS)
def test_a_bad_setting_is_refused_on_update_and_changes_nothing(
    api: InProcessApi, method: str, name: str, value: Any, message: str, field: str
) -> None:
    project = new_project(api, **CHOSEN)
    answer = api.request(
        method, f"/api/projects/{project['id']}", json={"description": "new", name: value}
    )
    body = assert_error(answer, 400, "VALIDATION_ERROR", message)
    assert body["details"] == {"field": field}
    assert ok(api.get(f"/api/projects/{project['id']}")) == project


def test_the_agent_names_are_those_the_agent_side_can_launch() -> None:
    assert set(AGENT_NAMES) == set(ADAPTERS)


# -- autoStart ----------------------------------------------------------------------


def test_a_task_does_not_start_itself_unless_asked(api: InProcessApi) -> None:
    task = new_task(api, new_project(api)["id"])
    assert task["autoStart"] is False
    assert ok(api.get(f"/api/tasks/{task['id']}"))["autoStart"] is False


def test_auto_start_is_kept_from_the_create(api: InProcessApi) -> None:
    task = new_task(api, new_project(api)["id"], autoStart=True)
    assert task["autoStart"] is True
    assert ok(api.get(f"/api/tasks/{task['id']}"))["autoStart"] is True


def test_auto_start_can_be_switched_on_and_off(api: InProcessApi) -> None:
    task = new_task(api, new_project(api)["id"], title="Keep")
    on = ok(api.patch(f"/api/tasks/{task['id']}", json={"autoStart": True}))
    assert on["autoStart"] is True and on["updatedAt"] > task["updatedAt"]
    assert ok(api.patch(f"/api/tasks/{task['id']}", json={"title": "Still"}))["autoStart"] is True
    off = ok(api.patch(f"/api/tasks/{task['id']}", json={"autoStart": False}))
    assert off["autoStart"] is False and off["title"] == "Still"
    assert ok(api.get(f"/api/tasks/{task['id']}"))["autoStart"] is False


@pytest.mark.parametrize("value", ["yes", 1, None, []])
def test_auto_start_must_be_a_boolean(api: InProcessApi, value: Any) -> None:
    project = new_project(api)
    refused = api.post(
        "/api/tasks", json={"projectId": project["id"], "title": "T", "autoStart": value}
    )
    assert_error(refused, 400, "VALIDATION_ERROR", "autoStart must be a boolean")
    task = new_task(api, project["id"])
    refused = api.patch(f"/api/tasks/{task['id']}", json={"autoStart": value})
    assert_error(refused, 400, "VALIDATION_ERROR", "autoStart must be a boolean")
    assert ok(api.get(f"/api/tasks/{task['id']}")) == task


# -- stored before these fields existed ---------------------------------------------


def test_a_project_and_task_stored_before_these_fields_load_with_the_defaults(
    tmp_path: Path,
) -> None:
    """Files as the seed wrote them (no settings, no autoStart, no policy)."""
    data = tmp_path / "data"
    (data / "projects").mkdir(parents=True)
    (data / "tasks" / "proj_1").mkdir(parents=True)
    (data / "projects" / "proj_1.json").write_text(
        json.dumps(
            {"id": "proj_1", "name": "Old", "workingDir": "/tmp", "description": "",
             "createdAt": 1_700_000_000_000, "updatedAt": 1_700_000_000_000}
        )
    )  # fmt: skip
    (data / "tasks" / "proj_1" / "task_1.json").write_text(
        json.dumps(
            {"id": "task_1", "projectId": "proj_1", "parentId": None, "title": "Old task",
             "description": "", "initialPrompt": "", "status": "pending", "priority": "medium",
             "sessionIds": [], "skillIds": [], "agentIds": [], "dependencies": [],
             "subtasks": [], "timeline": [], "createdAt": 1_700_000_000_000,
             "updatedAt": 1_700_000_000_000, "startedAt": None, "completedAt": None}
        )
    )  # fmt: skip
    api = InProcessApi(data)
    try:
        project = ok(api.get("/api/projects/proj_1"))
        assert project["name"] == "Old" and settings(project) == DEFAULTS
        assert ok(api.get("/api/tasks/task_1"))["autoStart"] is False
        # ...and they take the new fields from then on.
        assert ok(api.patch("/api/projects/proj_1", json={"agent": "codex"}))["agent"] == "codex"
        assert ok(api.patch("/api/tasks/task_1", json={"autoStart": True}))["autoStart"] is True
    finally:
        api.close()


# -- spawn defaults -----------------------------------------------------------------


def test_a_spawn_naming_no_agent_runs_claude_when_the_project_names_none(
    api: InProcessApi,
) -> None:
    metadata = spawned(api, new_project(api)["id"])
    assert (metadata["agent"], metadata["model"]) == ("claude", None)


def test_a_spawn_naming_no_agent_takes_the_projects_agent_and_model(api: InProcessApi) -> None:
    project = new_project(api, agent="codex", model="o3")
    metadata = spawned(api, project["id"])
    assert (metadata["agent"], metadata["model"]) == ("codex", "o3")
    metadata = spawned(api, project["id"], agent=None, model=None)
    assert (metadata["agent"], metadata["model"]) == ("codex", "o3")


def test_a_projects_model_alone_is_the_model_of_claude(api: InProcessApi) -> None:
    project = new_project(api, model="opus")
    assert (spawned(api, project["id"])["agent"], spawned(api, project["id"])["model"]) == (
        "claude",
        "opus",
    )
    assert spawned(api, project["id"], agent="claude")["model"] == "opus"
    assert spawned(api, project["id"], agent="codex")["model"] is None


def test_a_spawn_naming_the_projects_agent_gets_its_model(api: InProcessApi) -> None:
    project = new_project(api, agent="codex", model="o3")
    metadata = spawned(api, project["id"], agent="codex")
    assert (metadata["agent"], metadata["model"]) == ("codex", "o3")


def test_a_spawn_naming_another_agent_does_not_get_the_projects_model(
    api: InProcessApi,
) -> None:
    """A model is one agent's word: ``o3`` means nothing to claude."""
    project = new_project(api, agent="codex", model="o3")
    metadata = spawned(api, project["id"], agent="claude")
    assert (metadata["agent"], metadata["model"]) == ("claude", None)


def test_a_spawn_naming_a_model_keeps_it(api: InProcessApi) -> None:
    project = new_project(api, agent="codex", model="o3")
    metadata = spawned(api, project["id"], model="o4-mini")
    assert (metadata["agent"], metadata["model"]) == ("codex", "o4-mini")
    metadata = spawned(api, project["id"], agent="claude", model="opus")
    assert (metadata["agent"], metadata["model"]) == ("claude", "opus")


def test_a_spawn_takes_the_projects_agent_as_it_is_at_the_spawn(api: InProcessApi) -> None:
    project = new_project(api, agent="codex")
    ok(api.patch(f"/api/projects/{project['id']}", json={"agent": None}))
    assert spawned(api, project["id"])["agent"] == "claude"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"agent": "gemini"}, "agent must be one of claude, codex, custom"),
        ({"agent": 5}, "agent must be a string or null"),
        ({"model": "-rf"}, f"model {MODEL_RULE}"),
        ({"model": "a b"}, f"model {MODEL_RULE}"),
        ({"spawnSource": "cron"}, "spawnSource must be one of " + ", ".join(SPAWN_SOURCES)),
    ],
)
def test_a_spawn_with_a_bad_agent_model_or_source_is_refused(
    api: InProcessApi, fields: dict[str, Any], message: str
) -> None:
    project = new_project(api)
    task = new_task(api, project["id"])
    body = {"projectId": project["id"], "taskIds": [task["id"]], **fields}
    assert_error(api.post("/api/sessions/spawn", json=body), 400, "VALIDATION_ERROR", message)
    assert ok(api.get("/api/sessions", params={"projectId": project["id"]})) == []


def test_the_dispatcher_says_it_spawned_a_session(api: InProcessApi) -> None:
    assert "dispatch" in SPAWN_SOURCES
    project = new_project(api)
    assert spawned(api, project["id"], spawnSource="dispatch")["spawnSource"] == "dispatch"


def test_the_openapi_document_says_where_a_spawns_agent_comes_from(api: InProcessApi) -> None:
    schema = ok(api.get("/openapi.json"))["components"]["schemas"]["SpawnRequest"]
    agent = schema["properties"]["agent"]
    assert "agent" not in schema.get("required", [])
    assert agent["default"] is None
    assert {"enum": list(AGENT_NAMES)} in agent["anyOf"]
    assert "project's agent" in agent["description"]
