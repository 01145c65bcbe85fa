"""An endpoint described once: the route is built from it and so is its entry in
``/openapi.json``, so the document cannot drift from what is served."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from maestro.service.access import Rule

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    enum: tuple[str, ...] | None = None
    is_id: bool = False


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type | None = None
    returns: Any = None
    status: int = 200
    query: tuple[Query, ...] = ()
    errors: tuple[int, ...] = ()
    tag: str = ""
    # Who may call it beyond the admin (``service.access``): admin only unless said.
    access: Rule = Rule.ADMIN
