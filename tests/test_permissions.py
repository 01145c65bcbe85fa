"""A project's permission policy (SPEC section 12): what its coding agents may do
without asking. Stored on the project, set on create, replaced whole on update,
validated field by field, announced with ``project:updated``, and filled with the
defaults for projects stored before it existed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, StoreBackend
from tests.e2e.wsclient import EventStream
from tests.helpers import assert_error, make_project

DEFAULT_POLICY = {
    "mode": "acceptEdits",
    "allow": [
        "Bash(git:*)",
        "Bash(pytest:*)",
        "Bash(python -m pytest:*)",
        "Bash(npm test:*)",
        "Bash(npm run:*)",
        "Bash(make:*)",
        "Bash(cargo test:*)",
        "Bash(go test:*)",
        "Bash(ls:*)",
    ],
    "deny": ["Bash(git push:*)", "Bash(sudo:*)"],
}
STRICT = {"mode": "default", "allow": ["Read", "Bash(npm test:*)"], "deny": ["WebFetch"]}


def get_project(api: httpx.Client, project_id: str) -> dict[str, Any]:
    response = api.get(f"/api/projects/{project_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def update(api: httpx.Client, method: str, project_id: str, body: Any) -> httpx.Response:
    return api.request(method, f"/api/projects/{project_id}", json=body)


# -- defaults and create ----------------------------------------------------------


def test_a_new_project_gets_the_default_policy(api: httpx.Client) -> None:
    project = make_project(api)
    assert project["permissions"] == DEFAULT_POLICY
    assert get_project(api, project["id"])["permissions"] == DEFAULT_POLICY


def test_a_project_can_be_created_with_its_own_policy(api: httpx.Client) -> None:
    project = make_project(api, permissions=STRICT)
    assert project["permissions"] == STRICT
    assert get_project(api, project["id"])["permissions"] == STRICT


def test_fields_left_out_of_a_policy_take_their_defaults(api: httpx.Client) -> None:
    project = make_project(api, permissions={"mode": "plan"})
    assert project["permissions"] == {**DEFAULT_POLICY, "mode": "plan"}
    project = make_project(api, permissions={"deny": []})
    assert project["permissions"] == {**DEFAULT_POLICY, "deny": []}


@pytest.mark.parametrize("mode", ["default", "acceptEdits", "plan", "bypassPermissions"])
def test_every_permission_mode_is_accepted(api: httpx.Client, mode: str) -> None:
    assert make_project(api, permissions={"mode": mode})["permissions"]["mode"] == mode


@pytest.mark.parametrize(
    "rule",
    [
        "Edit",
        "Bash(npm test:*)",
        "Bash(git:*)",
        "Read(./secrets/**)",
        "WebFetch(domain:example.com)",
        "mcp__server__tool",
        "mcp__my-server__*",
        "Bash(echo (nested) parentheses)",
        "Bash(grep -r 'é' .)",
    ],
)
def test_claude_code_rules_are_accepted_as_written(api: httpx.Client, rule: str) -> None:
    project = make_project(api, permissions={"allow": [rule], "deny": [rule]})
    assert project["permissions"]["allow"] == [rule]
    assert project["permissions"]["deny"] == [rule]


def test_a_policy_may_hold_two_hundred_rules(api: httpx.Client) -> None:
    rules = [f"Bash(tool{n}:*)" for n in range(200)]
    project = make_project(api, permissions={"allow": rules, "deny": rules})
    assert get_project(api, project["id"])["permissions"]["allow"] == rules


# -- update -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_an_update_replaces_the_whole_policy(api: httpx.Client, method: str) -> None:
    project = make_project(api, permissions=STRICT)
    response = update(api, method, project["id"], {"permissions": {"allow": ["Edit"]}})
    assert response.status_code == 200, response.text
    expected = {**DEFAULT_POLICY, "allow": ["Edit"]}
    assert response.json()["permissions"] == expected
    assert get_project(api, project["id"])["permissions"] == expected


def test_an_update_without_permissions_keeps_the_policy(api: httpx.Client) -> None:
    project = make_project(api, permissions=STRICT)
    response = update(api, "PATCH", project["id"], {"name": "Renamed"})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Renamed"
    assert response.json()["permissions"] == STRICT


def test_patch_is_the_same_partial_update_as_put(api: httpx.Client) -> None:
    project = make_project(api, description="kept")
    response = update(api, "PATCH", project["id"], {"workingDir": "/src"})
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["workingDir"], changed["description"]) == ("/src", "kept")
    assert changed["updatedAt"] > project["updatedAt"]


def test_a_policy_update_of_an_unknown_project_is_404(api: httpx.Client) -> None:
    response = update(api, "PATCH", "proj_0_missing", {"permissions": STRICT})
    assert_error(response, 404, "PROJECT_NOT_FOUND")


# -- refused ----------------------------------------------------------------------

# (policy, the field the error names, the start of its message)
BAD_POLICIES = [
    ({"mode": "ask"}, "permissions.mode", "permissions.mode must be one of default, acceptEdits"),
    ({"mode": None}, "permissions.mode", "permissions.mode must be"),
    ({"allow": "Edit"}, "permissions.allow", "permissions.allow must be a list"),
    ({"allow": [1]}, "permissions.allow[0]", "permissions.allow[0] must be a string"),
    ({"allow": ["Bash(npm test:*"]}, "permissions.allow[0]", "permissions.allow[0] must be a per"),
    ({"allow": ["Edit", ""]}, "permissions.allow[1]", "permissions.allow[1] must be a permission"),
    ({"allow": ["Bash()"]}, "permissions.allow[0]", "permissions.allow[0] must be a permission"),
    ({"allow": ["Bash (ls)"]}, "permissions.allow[0]", "permissions.allow[0] must be a permission"),
    ({"allow": ["9lives"]}, "permissions.allow[0]", "permissions.allow[0] must be a permission"),
    ({"deny": ["Edit\n"]}, "permissions.deny[0]", "permissions.deny[0] must be a permission"),
    ({"deny": ["Bash(a\nb)"]}, "permissions.deny[0]", "permissions.deny[0] must be a permission"),
    (
        {"deny": ["Bash(a\u0000)"]},
        "permissions.deny[0]",
        "permissions.deny[0] must be a permission",
    ),
    (
        {"deny": ["Bash(" + "x" * 495 + ")"]},
        "permissions.deny[0]",
        "permissions.deny[0] must be at most 500 characters long",
    ),
    (
        {"allow": ["Edit"] * 201},
        "permissions.allow",
        "permissions.allow must have at most 200 items",
    ),
    ("acceptEdits", "permissions", "permissions must be an object"),
    (None, "permissions", "permissions must be an object"),
]


@pytest.mark.parametrize(("policy", "field", "message"), BAD_POLICIES)
def test_a_bad_policy_update_is_refused_naming_the_field(
    api: httpx.Client, policy: Any, field: str, message: str
) -> None:
    project = make_project(api, permissions=STRICT)
    response = update(api, "PATCH", project["id"], {"name": "Not applied", "permissions": policy})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith(message), body["message"]
    assert body["details"] == {"field": field}
    assert get_project(api, project["id"]) == project


@pytest.mark.parametrize(("policy", "field", "message"), BAD_POLICIES[:6])
def test_a_project_with_a_bad_policy_is_not_created(
    api: httpx.Client, policy: Any, field: str, message: str
) -> None:
    before = api.get("/api/projects").json()
    response = api.post("/api/projects", json={"name": "Refused", "permissions": policy})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"].startswith(message), body["message"]
    assert body["details"] == {"field": field}
    assert api.get("/api/projects").json() == before


def test_a_bad_rule_message_shows_the_syntax(api: httpx.Client) -> None:
    response = api.post("/api/projects", json={"name": "x", "permissions": {"allow": ["npm test"]}})
    message = assert_error(response, 400, "VALIDATION_ERROR")["message"]
    assert message == (
        "permissions.allow[0] must be a permission rule: a tool name, optionally followed "
        "by a specifier in parentheses, such as Edit or Bash(npm test:*)"
    )


# -- events and storage -------------------------------------------------------------


def test_project_updated_carries_the_new_policy(
    shared_server: RunningServer, api: httpx.Client
) -> None:
    project = make_project(api)
    with EventStream(shared_server.ws_url) as stream:
        stream.sync()
        response = update(api, "PATCH", project["id"], {"permissions": STRICT})
        assert response.status_code == 200, response.text
        events = [m for m in stream.sync() if m["event"] == "project:updated"]
    assert [e["data"]["id"] for e in events] == [project["id"]]
    assert events[0]["data"]["permissions"] == STRICT
    assert events[0]["data"] == response.json()


def test_a_refused_policy_emits_nothing(shared_server: RunningServer, api: httpx.Client) -> None:
    project = make_project(api)
    with EventStream(shared_server.ws_url) as stream:
        stream.sync()
        bad = update(api, "PATCH", project["id"], {"permissions": {"mode": "yolo"}})
        assert bad.status_code == 400
        assert stream.sync() == []


def test_the_policy_survives_a_restart(server_factory: Any) -> None:
    server: RunningServer = server_factory()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        project = make_project(api, permissions=STRICT)
    server.restart()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        assert get_project(api, project["id"])["permissions"] == STRICT


def drop_from_stored_doc(
    server: RunningServer, backend: StoreBackend, table: str, entity_id: str, key: str
) -> None:
    """Remove ``key`` from an entity as stored, as if an older version had written it
    (the server is stopped: the JSON store reads its files at start)."""
    if backend.name == "postgres":
        import psycopg

        with psycopg.connect(server.env["MAESTRO_DATABASE_URL"], autocommit=True) as db:
            db.execute(
                f"UPDATE {table} SET doc = (doc::jsonb - %s)::json WHERE id = %s", (key, entity_id)
            )
        return
    path = server.data_dir / table / f"{entity_id}.json"
    doc = json.loads(path.read_text())
    del doc[key]
    path.write_text(json.dumps(doc))


def test_a_project_stored_before_policies_loads_with_the_default(
    server_factory: Any, backend: StoreBackend
) -> None:
    server: RunningServer = server_factory()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        project = make_project(api, permissions=STRICT)
    server.stop()
    drop_from_stored_doc(server, backend, "projects", project["id"], "permissions")
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        assert get_project(api, project["id"])["permissions"] == DEFAULT_POLICY
