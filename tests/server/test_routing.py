"""``EndpointRouter``: every request reaches the route Starlette's own router would
give it, with the same scope, and whatever the lookup table does not answer
(405, 404, redirects, WebSockets, the UI's files) is answered as before."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp

from maestro.config import Settings
from maestro.server.app import ENDPOINTS, build_routes, create_app
from maestro.server.endpoint import Endpoint
from maestro.server.routing import EndpointRouter, RouteTree
from maestro.service.access import AccessPolicy
from maestro.store.base import Store
from tests.server.asgi import Answer, ping_over_websocket, request

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def concrete(template: str, value: str = "x1") -> str:
    """The template with every ``{param}`` replaced by ``value``."""
    return re.sub(r"{\w+}", value, template)


def params_of(template: str, value: str = "x1") -> dict[str, str]:
    return dict.fromkeys(re.findall(r"{(\w+)}", template), value)


# -- the table, against Starlette's router ---------------------------------------


async def echo(request: Request) -> Response:
    """Which route and parameters the router chose, as the handler sees them."""
    route = request.scope["route"]
    assert request.scope["endpoint"] is route.endpoint
    return JSONResponse(
        {"route": [route.path, sorted(route.methods)], "params": request.path_params}
    )


# No token is configured here, so no request reaches the access policy (nor its store).
ACCESS = AccessPolicy(cast(Store, None))
# The real route list, with a handler that reports what it was given.
ECHO_ROUTES = build_routes((replace(e, handler=echo) for e in ENDPOINTS), ACCESS)
TABLE = EndpointRouter(ECHO_ROUTES)
STARLETTE = Router(ECHO_ROUTES)


def call(app: ASGIApp, method: str, path: str) -> Answer | tuple[int, Mapping[str, str] | None]:
    """The answer, or the error raised for the application around a router to answer."""
    try:
        return asyncio.run(request(app, method, path))
    except HTTPException as error:
        return error.status_code, error.headers


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_every_endpoint_resolves_to_its_route_with_its_parameters(endpoint: Endpoint) -> None:
    found = RouteTree(ECHO_ROUTES).find(endpoint.method, concrete(endpoint.path))
    assert found is not None
    route, params = found
    assert route.path == endpoint.path and endpoint.method in (route.methods or ())
    assert params == params_of(endpoint.path)


def test_the_real_routes_are_all_in_the_table() -> None:
    tree = RouteTree(build_routes(ENDPOINTS, ACCESS))
    for endpoint in ENDPOINTS:
        found = tree.find(endpoint.method, concrete(endpoint.path))
        # Each handler is behind its access check (server.security.guarded).
        assert found is not None
        assert getattr(found[0].endpoint, "__wrapped__", None) is endpoint.handler


def test_a_get_route_also_answers_head() -> None:
    assert RouteTree(ECHO_ROUTES).find("HEAD", "/api/tasks/t1") is not None


def test_a_literal_segment_is_a_parameter_value_for_another_method() -> None:
    """GET /api/sessions/spawn is the session "spawn", as Starlette routes it:
    the spawn route is POST only."""
    tree = RouteTree(ECHO_ROUTES)
    get, post = tree.find("GET", "/api/sessions/spawn"), tree.find("POST", "/api/sessions/spawn")
    assert get is not None and get[0].path == "/api/sessions/{id}" and get[1] == {"id": "spawn"}
    assert post is not None and post[0].path == "/api/sessions/spawn" and post[1] == {}


@pytest.mark.parametrize("literal_first", [True, False])
def test_of_two_routes_matching_a_path_the_first_listed_wins(literal_first: bool) -> None:
    literal, param = Route("/items/new", echo), Route("/items/{id}", echo)
    routes = [literal, param] if literal_first else [param, literal]
    found = RouteTree(routes).find("GET", "/items/new")
    assert found is not None and found[0] is routes[0]
    table, starlette = EndpointRouter(routes), Router(routes)
    assert call(table, "GET", "/items/new") == call(starlette, "GET", "/items/new")


def test_routes_after_one_the_table_cannot_hold_are_left_to_starlette() -> None:
    """A convertor other than str may claim a path before the routes that follow."""
    routes = [Route("/items/{n:int}", echo), Route("/items/{id}", echo)]
    assert RouteTree(routes).find("GET", "/items/1") is None
    table, starlette = EndpointRouter(routes), Router(routes)
    assert call(table, "GET", "/items/1") == call(starlette, "GET", "/items/1")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/tasks/t1"),  # the path exists, not the method: 405
        ("GET", "/api/nothing"),
        ("GET", "/api/tasks/"),  # trailing slash: a redirect
        ("GET", "/api/tasks//usage"),  # an empty parameter
        ("GET", "/api/tasks/t1/usage/"),
        ("GET", "/"),
        ("GET", "/index.html"),
        ("GET", "api/tasks"),
        ("GET", "/health\n"),  # Starlette's "$" matches before a final newline
    ],
)
def test_what_the_table_does_not_hold_is_left_to_starlette(method: str, path: str) -> None:
    assert RouteTree(ECHO_ROUTES).find(method, path) is None
    assert call(TABLE, method, path) == call(STARLETTE, method, path)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("template", sorted({e.path for e in ENDPOINTS}))
def test_each_endpoint_path_is_answered_as_starlette_answers_it(method: str, template: str) -> None:
    path = concrete(template)
    assert call(TABLE, method, path) == call(STARLETTE, method, path)


SEGMENTS = sorted(
    {s for e in ENDPOINTS for s in e.path.split("/") if "{" not in s}
    | {"x1", "index.html", "styles.css", "ws", "-bad", "a\n", ""}
)
VALUES = st.sampled_from(["x1", "spawn", "tasks", "-bad", "a\n", ""])


@st.composite
def paths(draw: st.DrawFn) -> str:
    """Mostly an endpoint's path with odd parameter values, sometimes with a
    segment more; otherwise any path made of the API's segments."""
    if draw(st.booleans()):
        template = draw(st.sampled_from(ENDPOINTS)).path
        path = re.sub(r"{\w+}", lambda _: draw(VALUES), template)
        return path + draw(st.sampled_from(["", "/", "/x1", "/usage"]))
    return "/" + "/".join(draw(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6)))


@given(method=st.sampled_from(METHODS), path=paths())
def test_any_path_is_answered_as_starlette_answers_it(method: str, path: str) -> None:
    assert call(TABLE, method, path) == call(STARLETTE, method, path)


# -- the application -------------------------------------------------------------


class Server:
    """The application with its lifespan entered, on an event loop of its own."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.runner = asyncio.Runner()
        self.lifespan = self.app.router.lifespan_context(self.app)
        self.runner.run(self.lifespan.__aenter__())

    def close(self) -> None:
        self.runner.run(self.lifespan.__aexit__(None, None, None))
        self.runner.close()

    def request(self, method: str, path: str, json: Any = None) -> Answer:
        return self.runner.run(request(self.app, method, path, json))

    def ping(self, path: str) -> Any:
        return self.runner.run(ping_over_websocket(self.app, path))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = Server(
        Settings.load(env={}, data_dir=tmp_path / "data", skills_dir=tmp_path / "skills")
    )
    yield server
    server.close()


def error_code(answer: Answer) -> str:
    body = answer.json()
    assert set(body) <= {"error", "code", "message", "details"} and body["error"] is True
    code: str = body["code"]
    return code


def test_the_app_uses_the_table(server: Server) -> None:
    assert isinstance(server.app.router, EndpointRouter)


def test_an_api_route_gets_its_path_parameters(server: Server) -> None:
    project = server.request("POST", "/api/projects", {"name": "p"}).json()
    task = server.request("POST", "/api/tasks", {"projectId": project["id"], "title": "t"}).json()
    assert server.request("GET", f"/api/tasks/{task['id']}").json()["id"] == task["id"]
    created = server.request("POST", f"/api/tasks/{task['id']}/subtasks", {"title": "s"})
    assert created.status == 201
    path = f"/api/tasks/{task['id']}/subtasks/{created.json()['id']}"
    patched = server.request("PATCH", path, {"completed": True})
    assert patched.status == 200 and patched.json()["completed"] is True


def test_a_method_the_path_does_not_have_is_405(server: Server) -> None:
    answer = server.request("PUT", "/api/tasks/t1", {})
    assert answer.status == 405 and error_code(answer) == "METHOD_NOT_ALLOWED"


def test_an_unknown_api_path_is_404(server: Server) -> None:
    answer = server.request("GET", "/api/nothing-here")
    assert answer.status == 404 and error_code(answer) == "NOT_FOUND"


def test_an_invalid_id_in_the_path_is_400(server: Server) -> None:
    answer = server.request("GET", "/api/tasks/-bad")
    assert answer.status == 400 and error_code(answer) == "VALIDATION_ERROR"
    assert answer.json()["details"] == {"field": "id"}


def test_head_on_a_get_route_is_answered(server: Server) -> None:
    assert server.request("HEAD", "/health").status == 200


def test_a_trailing_slash_is_redirected(server: Server) -> None:
    answer = server.request("GET", "/api/tasks/")
    assert answer.status == 307 and answer.header("location") == "http://127.0.0.1:3000/api/tasks"


def test_the_web_ui_is_served(server: Server) -> None:
    page = server.request("GET", "/")
    assert page.status == 200 and page.body.startswith(b"<!doctype html>")
    assert page.header("content-type") == "text/html; charset=utf-8"
    assert server.request("GET", "/styles.css").status == 200


def test_the_openapi_document_is_served(server: Server) -> None:
    answer = server.request("GET", "/openapi.json")
    assert answer.header("content-type") == "application/json"
    assert "/api/tasks/{id}" in answer.json()["paths"]


@pytest.mark.parametrize("path", ["/", "/ws"])
def test_the_websocket_answers_a_ping(server: Server, path: str) -> None:
    assert server.ping(path) == {"type": "pong"}
