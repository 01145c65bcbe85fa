"""One mapping from errors to the documented body:
``{"error": true, "code", "message", "details"?}``. Never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from maestro.domain.errors import MaestroError, MethodNotAllowed, NotFound

log = logging.getLogger("maestro.server")


class ErrorBody(msgspec.Struct, omit_defaults=True):
    error: bool
    code: str
    message: str
    details: dict[str, Any] | None = None


def error_body(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        msgspec.json.encode(ErrorBody(True, code, message, details)),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(error: MaestroError, headers: dict[str, str] | None = None) -> Response:
    return error_body(error.status, error.code, error.message, error.details, headers)


async def on_maestro_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MaestroError)
    return error_response(exc)


async def on_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 in our shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(MethodNotAllowed(f"{request.method} is not allowed on this path"))
    if exc.status_code == 404:
        return error_response(NotFound(f"no route for {request.method} {request.url.path}"))
    return error_body(exc.status_code, "HTTP_ERROR", str(exc.detail))


async def on_unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(MaestroError("internal error; the server log has the details"))
