"""Who may talk to the server. A spawn can lead to code running on the user's
machine, so these hold even with no token set:

- ``Host`` must be a loopback name or a configured host (defeats DNS rebinding);
  a server bound beyond loopback also answers to IP addresses, which no
  rebinding can produce (it needs a name), so clients may use the machine's;
- a request carrying a foreign ``Origin`` is refused unless the origin is listed
  in ``MAESTRO_CORS_ORIGINS`` (a page on another site cannot drive the API or
  open the WebSocket), and a state-changing request with a body must be JSON (a
  plain HTML form cannot post);
- with a token (``MAESTRO_TOKEN``, or the admin token a server bound beyond
  loopback generates: ``admin_token.py``), the API and the WebSocket need a
  token: that admin token, a runner token or a session's (``service.tokens``);
  ``/health`` and the UI's static files stay open. A server bound beyond
  loopback without a token is refused when it is built;
- a runner's or a session's token is held to its scope: each endpoint says who
  may call it (``Endpoint.access``), ``service.access`` decides, and every
  change's event records the kind of token that made it.
"""

from __future__ import annotations

import functools
import ipaddress
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from maestro.config import LOOPBACK_NAMES, ConfigError, Settings, is_loopback
from maestro.domain.errors import Forbidden, MaestroError, Unauthorized, UnsupportedMediaType
from maestro.domain.principals import NO_TOKEN, acting_as
from maestro.server.endpoint import Endpoint, Handler
from maestro.server.errors import error_response
from maestro.server.http import PRINCIPAL, is_json, principal, read_json
from maestro.service.access import AccessPolicy
from maestro.service.tokens import TokenBook

_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def denial_supported(scope: Scope) -> bool:
    """Whether a WebSocket handshake can be refused with a full HTTP response
    (uvicorn supports the ASGI extension), so clients see our error body."""
    return "websocket.http.response" in scope.get("extensions", {})


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _is_address(name: str) -> bool:
    """An IP address other than the unspecified one (``0.0.0.0``, ``::``)."""
    try:
        return not ipaddress.ip_address(name.strip("[]")).is_unspecified
    except ValueError:
        return False


class _Guard:
    """Base of the pure-ASGI guards: refuse with our error body, or pass through."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def refuse(self, scope: Scope, receive: Receive, send: Send, error: MaestroError) -> None:
        if scope["type"] == "websocket" and not denial_supported(scope):
            # Before accept, a close makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
        await error_response(error, headers)(scope, receive, send)


class BrowserGuard(_Guard):
    """Host, Origin and content-type checks (outermost)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        super().__init__(app, settings)
        allowed = set(LOOPBACK_NAMES) | {h.lower() for h in settings.allowed_hosts}
        if settings.public_url:
            allowed.add(_host_name(settings.public_url.split("://", 1)[-1].split("/", 1)[0]))
        self.allowed_hosts = allowed
        self.allowed_origins = {o.rstrip("/") for o in settings.cors_origins}

    def host_allowed(self, host_header: str) -> bool:
        name = _host_name(host_header.lower())
        if name in self.allowed_hosts or "*" in self.allowed_hosts or is_loopback(name):
            return True
        return self.settings.exposed and _is_address(name)

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        origin = origin.rstrip("/")
        if origin in self.allowed_origins or "*" in self.allowed_origins:
            return True
        return origin in (f"http://{host_header}", f"https://{host_header}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if len(headers.getlist("host")) > 1 or not self.host_allowed(host):
            error: MaestroError = Forbidden(
                f"host {host!r} is not allowed; add it to MAESTRO_ALLOWED_HOSTS to serve it"
            )
            await self.refuse(scope, receive, send, error)
            return
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin, host):
            error = Forbidden(
                f"origin {origin!r} is not allowed; add it to MAESTRO_CORS_ORIGINS to allow it"
            )
            await self.refuse(scope, receive, send, error)
            return
        if scope["type"] == "http" and scope["method"] in _MUTATING:
            content_type = headers.get("content-type")
            if content_type is not None and not is_json(content_type):
                error = UnsupportedMediaType("body must be sent as Content-Type: application/json")
                await self.refuse(scope, receive, send, error)
                return
        await self.app(scope, receive, send)


class TokenGuard(_Guard):
    """The token: bearer header, or ``?token=`` for WebSocket clients. Who holds
    it (``Principal``) is left in the scope for the routes' access checks, and
    the request runs ``acting_as`` it, so its events record who made them."""

    OPEN_PATHS = frozenset({"/health"})

    def __init__(self, app: ASGIApp, settings: Settings, tokens: TokenBook) -> None:
        if settings.exposed and not settings.token:
            raise ConfigError(
                f"refusing to serve on {settings.host} without a token: anyone who can "
                "reach this address could start agents on this machine"
            )
        super().__init__(app, settings)
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.tokens.required or scope["type"] not in ("http", "websocket"):
            with acting_as(NO_TOKEN.actor):
                await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        guarded = scope["type"] == "websocket" or path.startswith("/api") or path == "/openapi.json"
        if not guarded or path in self.OPEN_PATHS or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        offered = Headers(scope=scope).get("authorization", "")
        presented = offered[7:] if offered.lower().startswith("bearer ") else ""
        if not presented and scope["type"] == "websocket":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            presented = query.get("token", [""])[0]
        try:
            holder = await self.tokens.resolve(presented)
        except MaestroError as error:
            await self.refuse(scope, receive, send, error)
            return
        if scope["type"] == "websocket" and holder.kind == "session":
            # An agent reads what it needs over HTTP; the stream carries every
            # project's events (and the runners'), beyond a session's scope.
            await self.refuse(
                scope,
                receive,
                send,
                Forbidden(f"{holder.describe()}: it may not follow the event stream"),
            )
            return
        scope[PRINCIPAL] = holder
        with acting_as(holder.actor):
            await self.app(scope, receive, send)


def guarded(endpoint: Endpoint, access: AccessPolicy) -> Handler:
    """The endpoint's handler behind its access rule: the admin (and everyone,
    when no token is required) goes straight through; a runner's or a session's
    token is checked against ``endpoint.access`` first."""
    handler = endpoint.handler
    action = f"{endpoint.method} {endpoint.path}"
    rule = endpoint.access

    @functools.wraps(handler)
    async def checked(request: Request) -> Response:
        holder = principal(request)
        if not holder.unlimited:
            body: object = None
            if rule.needs_body and endpoint.body is not None:
                body = await read_json(request, endpoint.body)
            await access.authorize(holder, rule, action, request.path_params, body)
        return await handler(request)

    return checked
