"""``EndpointRouter``: Starlette's router with a table lookup in front of it.

Starlette's ``Router`` tries every route's regex in order, so a request for the
tenth route pays ten matches before its handler runs. ``EndpointRouter`` first
walks the request path, one segment at a time, down a tree built from the same
routes, and hands the request to the route Starlette itself would have chosen:
the first route, in order, whose path and method both match. Whatever the tree
does not answer (a method the path does not have, an unknown path, a trailing
slash to redirect, a WebSocket, the UI's files) goes through Starlette's own
routing, so those answers stay Starlette's.

This reaches into Starlette's routing (``Router.app``, ``Route.handle``,
``Route.param_convertors`` and the scope keys a match sets), which is why
``pyproject.toml`` pins ``starlette<2``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.convertors import StringConvertor
from starlette.routing import BaseRoute, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send

_PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True, slots=True)
class _Target:
    """A route at a leaf of the tree: its place in the route list, and which
    path segments are its parameters."""

    order: int
    route: Route
    params: tuple[tuple[int, str], ...]


@dataclass(slots=True)
class _Node:
    """One path segment: the literal segments that may follow, the ``{param}``
    that may follow, and the routes (by method) whose path ends here."""

    literals: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None
    targets: dict[str, _Target] = field(default_factory=dict)


def _segments(route: Route) -> list[str | None] | None:
    """The route's path as segments, ``None`` for a parameter; ``None`` for a path
    the tree cannot match exactly as Starlette does (a parameter inside a segment,
    or one with a convertor other than ``str``)."""
    segments: list[str | None] = []
    for segment in route.path.split("/"):
        param = _PARAM.fullmatch(segment)
        if param is not None:
            convertor = route.param_convertors.get(param[1])
            if type(convertor) is not StringConvertor:
                return None
            segments.append(None)
        elif "{" in segment:
            return None
        else:
            segments.append(segment)
    return segments


class RouteTree:
    """The HTTP routes of a route list, looked up by method and path segments."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.root = _Node()
        for order, route in enumerate(routes):
            if type(route) is WebSocketRoute:
                continue  # never matches an HTTP request
            if not (type(route) is Route and self._add(order, route)):
                # Starlette may prefer this route to any that follows it, so those
                # are left to Starlette's routing too.
                break

    def _add(self, order: int, route: Route) -> bool:
        """Add the route; ``False`` if the tree cannot match it as Starlette does."""
        segments = _segments(route)
        if segments is None or route.methods is None:
            return False
        node = self.root
        for segment in segments:
            if segment is None:
                node.param = node.param or _Node()
                node = node.param
            else:
                node = node.literals.setdefault(segment, _Node())
        names = iter(_PARAM.findall(route.path))
        params = tuple((i, next(names)) for i, s in enumerate(segments) if s is None)
        for method in route.methods:
            # Of two routes with the same path and method, Starlette picks the first.
            node.targets.setdefault(method, _Target(order, route, params))
        return True

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The first route (in list order) matching both, with its path parameters."""
        segments = path.split("/")
        depth_needed = len(segments)
        found: _Target | None = None
        pending = [(self.root, 0)]
        while pending:
            node, depth = pending.pop()
            if depth == depth_needed:
                target = node.targets.get(method)
                if target is not None and (found is None or target.order < found.order):
                    found = target
                continue
            segment = segments[depth]
            literal = node.literals.get(segment)
            if literal is not None:
                pending.append((literal, depth + 1))
            if node.param is not None and segment:  # Starlette's "[^/]+"
                pending.append((node.param, depth + 1))
        if found is None:
            return None
        return found.route, {name: segments[i] for i, name in found.params}


class EndpointRouter(Router):
    """A ``Router`` that finds an HTTP request's route by table lookup, and leaves
    everything else to Starlette's routing."""

    def __init__(self, routes: Sequence[BaseRoute], **options: Any) -> None:
        super().__init__(routes, **options)
        self.tree = RouteTree(self.routes)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette's regexes end in "$", which also matches before a final
        # newline; and a root_path changes the path routes see. Both are rare
        # enough to leave to Starlette.
        if scope["type"] == "http" and not scope.get("root_path"):
            path: str = scope["path"]
            found = None if path.endswith("\n") else self.tree.find(scope["method"], path)
            if found is not None:
                route, params = found
                # What Router.app and Route.matches set on a match.
                if "router" not in scope:
                    scope["router"] = self
                path_params = dict(scope.get("path_params", {}))
                path_params.update(params)
                scope["route"] = route
                scope["endpoint"] = route.endpoint
                scope["path_params"] = path_params
                await route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)
