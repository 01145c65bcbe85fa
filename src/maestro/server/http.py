"""What every route shares: reading a bounded JSON body, answering with msgspec,
and reading path and query parameters with the documented errors."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from maestro.domain.encoding import encode
from maestro.domain.errors import (
    Forbidden,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from maestro.domain.ids import check_id
from maestro.domain.principals import NO_TOKEN, Principal
from maestro.domain.requests import decode_body
from maestro.service import ApprovalInbox, RunnerRegistry, Workspace

B = TypeVar("B", bound=msgspec.Struct)

_JSON_TYPE = (b"content-type", b"application/json")


class JSONBytes(Response):
    """A JSON response from bytes already encoded.

    ``Response.__init__`` would render the body and derive the same two headers
    through its general path (header mappings, media types, charsets) on every
    request; this sets them directly, as it would: length, then type.
    """

    media_type = "application/json"

    def __init__(self, body: bytes, status_code: int = 200) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        # A fresh list each time: middleware (CORS) appends to it.
        self.raw_headers = [(b"content-length", str(len(body)).encode()), _JSON_TYPE]


def answer(content: Any, status_code: int = 200) -> Response:
    """Answer with ``content`` (Structs included) encoded by msgspec."""
    return JSONBytes(encode(content), status_code)


def answer_encoded(body: bytes, status_code: int = 200) -> Response:
    """Answer with JSON that is already encoded, such as an entity's cached bytes."""
    return JSONBytes(body, status_code)


def deleted(entity_id: str) -> Response:
    return answer({"success": True, "id": entity_id})


def workspace(request: Request) -> Workspace:
    service: Workspace = request.app.state.workspace
    return service


def approvals(request: Request) -> ApprovalInbox:
    inbox: ApprovalInbox = request.app.state.approvals
    return inbox


def runners(request: Request) -> RunnerRegistry:
    registry: RunnerRegistry = request.app.state.runners
    return registry


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


PRINCIPAL = "maestro.principal"
"""The scope key of who is asking (``server.security.TokenGuard`` sets it)."""
_BODY = "maestro.body"


def principal(request: Request) -> Principal:
    """Who is asking: the holder of the request's token."""
    found: Principal = request.scope.get(PRINCIPAL, NO_TOKEN)
    return found


def project_filter(request: Request) -> str | None:
    """The ``projectId`` filter of a list: a session token's lists are its
    project's (given another project, 403)."""
    asked = query_id(request, "projectId")
    who = principal(request)
    if who.kind != "session":
        return asked
    if asked is not None and asked != who.project_id:
        raise Forbidden(
            f"{who.describe()}: it may not list another project's",
            {"scope": who.kind, "projectId": who.project_id},
        )
    return who.project_id


async def read_body(request: Request) -> bytes:
    """The raw body, refused past the configured limit without buffering it all.

    It reads the ASGI messages itself rather than through ``request.stream()``,
    whose async generator doubles the cost of reading a small (one-message) body.
    The body is kept in the scope: the access check may read it before the route.
    """
    kept: bytes | None = request.scope.get(_BODY)
    if kept is not None:
        return kept
    limit: int = request.app.state.settings.body_limit
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body must be at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    more_body = True
    while more_body:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body must be at most {limit} bytes")
        chunks.append(chunk)
        more_body = message.get("more_body", False)
    body = b"".join(chunks)
    request.scope[_BODY] = body
    return body


async def read_json(request: Request, model: type[B]) -> B:
    """Decode the request body into ``model`` (415 unless it is JSON)."""
    if not is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType("body must be sent as Content-Type: application/json")
    return decode_body(await read_body(request), model)


def path_id(request: Request, name: str, field: str | None = None) -> str:
    return check_id(request.path_params[name], field or name)


def query_id(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return None if value is None or value == "" else check_id(value, name)


def query_choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise ValidationFailed(f"{name} must be one of {', '.join(allowed)}", field=name)
    return value


def query_flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false", "1", "0", ""):
        raise ValidationFailed(f"{name} must be true or false", field=name)
    return value in ("true", "1")
