"""/health, /openapi.json, and what the server answers for routes and methods it
does not have."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, StoreBackend

# SPEC section 4, less the skills endpoints (they come with section 7).
SPEC_ENDPOINTS = {
    ("get", "/health"),
    ("get", "/api/projects"),
    ("post", "/api/projects"),
    ("get", "/api/projects/{id}"),
    ("put", "/api/projects/{id}"),
    ("delete", "/api/projects/{id}"),
    ("get", "/api/tasks"),
    ("post", "/api/tasks"),
    ("get", "/api/tasks/{id}"),
    ("patch", "/api/tasks/{id}"),
    ("delete", "/api/tasks/{id}"),
    ("post", "/api/tasks/{id}/timeline"),
    ("get", "/api/tasks/{id}/children"),
    ("get", "/api/tasks/{taskId}/subtasks"),
    ("post", "/api/tasks/{taskId}/subtasks"),
    ("patch", "/api/tasks/{taskId}/subtasks/{id}"),
    ("delete", "/api/tasks/{taskId}/subtasks/{id}"),
    ("get", "/api/sessions"),
    ("post", "/api/sessions"),
    ("get", "/api/sessions/{id}"),
    ("patch", "/api/sessions/{id}"),
    ("delete", "/api/sessions/{id}"),
    ("post", "/api/sessions/{id}/tasks/{taskId}"),
    ("delete", "/api/sessions/{id}/tasks/{taskId}"),
    ("post", "/api/sessions/spawn"),
}
# SPEC section 12: usage and the permission policy.
PLATFORM_ENDPOINTS = {
    ("patch", "/api/projects/{id}"),
    ("get", "/api/projects/{id}/usage"),
    ("get", "/api/tasks/{id}/usage"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
WITH_BODY = {
    ("post", "/api/projects"),
    ("put", "/api/projects/{id}"),
    ("patch", "/api/projects/{id}"),
    ("post", "/api/tasks"),
    ("patch", "/api/tasks/{id}"),
    ("post", "/api/tasks/{id}/timeline"),
    ("post", "/api/tasks/{taskId}/subtasks"),
    ("patch", "/api/tasks/{taskId}/subtasks/{id}"),
    ("post", "/api/sessions"),
    ("patch", "/api/sessions/{id}"),
    ("post", "/api/sessions/spawn"),
}


def assert_error(response: httpx.Response, status: int, code: str) -> Any:
    """The documented error body, and nothing else in it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) <= {"error", "code", "message", "details"}
    assert body["error"] is True
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in response.text
    return body


@pytest.fixture(scope="module")
def document(shared_server: RunningServer) -> Any:
    response = httpx.get(f"{shared_server.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def operations(document: Any) -> list[tuple[str, str, Any]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def refs(node: Any) -> list[str]:
    """Every ``$ref`` anywhere below ``node``."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def resolve(document: Any, schema: Any) -> Any:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


# -- /health --------------------------------------------------------------------


def test_health_answers_ok_with_timestamp_and_uptime(api: httpx.Client) -> None:
    before = int(time.time() * 1000)
    response = api.get("/health")
    after = int(time.time() * 1000)
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert isinstance(health["timestamp"], int)
    assert before - 1000 <= health["timestamp"] <= after + 1000
    assert isinstance(health["uptime"], int | float)
    assert health["uptime"] >= 0


def test_health_names_the_version_and_store(api: httpx.Client, backend: StoreBackend) -> None:
    health = api.get("/health").json()
    assert isinstance(health["version"], str) and health["version"]
    assert health["store"] == backend.name
    assert re.fullmatch(r"store_\d{13}_[a-z0-9]{9}", health["storeId"]), health["storeId"]


def test_health_counts_the_entities(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as api:
        assert api.get("/health").json()["counts"] == {"projects": 0, "tasks": 0, "sessions": 0}
        project = api.post("/api/projects", json={"name": "Counted"}).json()
        task = api.post("/api/tasks", json={"projectId": project["id"], "title": "t"}).json()
        api.post("/api/sessions", json={"projectId": project["id"], "taskIds": [task["id"]]})
        assert api.get("/health").json()["counts"] == {"projects": 1, "tasks": 1, "sessions": 1}


def test_uptime_grows(api: httpx.Client) -> None:
    first = api.get("/health").json()["uptime"]
    time.sleep(0.05)
    assert api.get("/health").json()["uptime"] > first


# -- /openapi.json --------------------------------------------------------------


def test_openapi_is_a_3_1_document(document: Any) -> None:
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert isinstance(document["info"]["title"], str) and document["info"]["title"]
    assert isinstance(document["info"]["version"], str) and document["info"]["version"]
    assert isinstance(document["paths"], dict)


def test_openapi_lists_every_endpoint_of_the_spec(document: Any) -> None:
    listed = {(method, path) for method, path, _ in operations(document)}
    wanted = SPEC_ENDPOINTS | PLATFORM_ENDPOINTS
    assert listed >= wanted, sorted(wanted - listed)


def test_openapi_documents_the_usage_rollups(document: Any) -> None:
    for path, owner in (
        ("/api/tasks/{id}/usage", "taskId"),
        ("/api/projects/{id}/usage", "projectId"),
    ):
        ok = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        schema = resolve(document, ok["schema"])
        assert {owner, "sessions", "usage", "models"} <= set(schema["required"]), path
        totals = resolve(document, schema["properties"]["usage"])
        assert "costUsd" in totals["properties"] and "inputTokens" in totals["properties"]


def test_openapi_documents_the_permission_rule_syntax(document: Any) -> None:
    project = document["components"]["schemas"]["Project"]
    policy = resolve(document, project["properties"]["permissions"])
    assert set(resolve(document, policy["properties"]["mode"])["enum"]) == {
        "default",
        "acceptEdits",
        "plan",
        "bypassPermissions",
    }
    for name in ("allow", "deny"):
        rules = policy["properties"][name]
        assert rules["maxItems"] == 200
        assert rules["items"]["maxLength"] == 500
        assert re.search(rules["items"]["pattern"], "Bash(npm test:*)")
        assert not re.search(rules["items"]["pattern"], "Bash(npm test:*")


def test_openapi_paths_start_with_a_slash(document: Any) -> None:
    assert all(path.startswith("/") for path in document["paths"])


def test_every_operation_has_a_unique_operation_id(document: Any) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert all(isinstance(i, str) and i for i in ids)
    assert len(ids) == len(set(ids))


def test_every_operation_documents_its_responses(document: Any) -> None:
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert responses, (method, path)
        for status, response in responses.items():
            assert re.fullmatch(r"[1-5](\d\d|XX)|default", status), (method, path, status)
            assert isinstance(response["description"], str), (method, path, status)


def test_every_path_parameter_is_declared_and_required(document: Any) -> None:
    for method, path, operation in operations(document):
        templated = set(re.findall(r"{(\w+)}", path))
        declared = {
            p["name"]: p
            for p in operation.get("parameters", []) + document["paths"][path].get("parameters", [])
            if p["in"] == "path"
        }
        assert set(declared) == templated, (method, path)
        for parameter in declared.values():
            assert parameter["required"] is True, (method, path)
            assert "schema" in parameter


def test_every_parameter_has_a_valid_location(document: Any) -> None:
    for _, _, operation in operations(document):
        for parameter in operation.get("parameters", []):
            assert parameter["in"] in {"path", "query", "header", "cookie"}
            assert isinstance(parameter["name"], str) and parameter["name"]


def test_every_reference_resolves(document: Any) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    for ref in refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_endpoints_that_take_a_body_document_it_as_json(document: Any) -> None:
    for method, path in WITH_BODY:
        body = document["paths"][path][method]["requestBody"]
        assert "schema" in body["content"]["application/json"], (method, path)


def test_success_codes_match_the_spec(document: Any) -> None:
    created = {("post", "/api/projects"), ("post", "/api/tasks"), ("post", "/api/sessions")}
    created |= {("post", "/api/tasks/{taskId}/subtasks"), ("post", "/api/sessions/spawn")}
    for method, path in SPEC_ENDPOINTS:
        responses = document["paths"][path][method]["responses"]
        assert ("201" if (method, path) in created else "200") in responses, (method, path)


def test_error_responses_use_the_error_body(document: Any) -> None:
    schema = resolve(
        document,
        document["paths"]["/api/tasks/{id}"]["get"]["responses"]["404"]["content"][
            "application/json"
        ]["schema"],
    )
    assert set(schema["properties"]) >= {"error", "code", "message", "details"}
    assert set(schema["required"]) >= {"error", "code", "message"}


def test_the_task_create_schema_is_the_one_that_validates(document: Any) -> None:
    body = document["paths"]["/api/tasks"]["post"]["requestBody"]
    schema = resolve(document, body["content"]["application/json"]["schema"])
    assert set(schema["required"]) == {"projectId", "title"}
    priority = resolve(document, schema["properties"]["priority"])
    assert set(priority["enum"]) == {"low", "medium", "high"}


# -- unknown routes and methods -------------------------------------------------


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/projects/p1/extra"])
def test_an_unknown_route_is_404_not_found(api: httpx.Client, path: str) -> None:
    assert_error(api.get(path), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/projects"),
        ("PATCH", "/api/projects"),
        ("POST", "/api/projects/p1/usage"),
        ("PUT", "/api/tasks/t1"),
        ("PUT", "/api/sessions"),
        ("POST", "/health"),
        ("GET", "/api/tasks/t1/timeline"),
        ("GET", "/api/sessions/s1/tasks/t1"),
    ],
)
def test_a_method_the_route_does_not_have_is_405(api: httpx.Client, method: str, path: str) -> None:
    assert_error(api.request(method, path), 405, "METHOD_NOT_ALLOWED")


def test_health_reports_the_latest_event_seq(api: httpx.Client) -> None:
    before = api.get("/health").json()["latestSeq"]
    api.post("/api/projects", json={"name": "Seq"})
    assert api.get("/health").json()["latestSeq"] == before + 1
