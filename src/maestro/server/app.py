"""``create_app(settings)``: the Starlette application, its routes and guards."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maestro.config import Settings
from maestro.domain.errors import MaestroError
from maestro.server.activity import ActivityLog
from maestro.server.endpoint import Endpoint
from maestro.server.errors import on_http_error, on_maestro_error, on_unexpected_error
from maestro.server.hub import EventHub
from maestro.server.notify import Notifier
from maestro.server.openapi import build_openapi
from maestro.server.routes import (
    activity,
    approvals,
    meta,
    projects,
    runners,
    sessions,
    skills,
    subtasks,
    tasks,
    tokens,
)
from maestro.server.routing import EndpointRouter
from maestro.server.security import BrowserGuard, TokenGuard, guarded
from maestro.server.stopping import StopSignals
from maestro.server.uvicorn_ws import KeepServerSend
from maestro.server.ws import websocket_endpoint
from maestro.service import ApprovalInbox, RunnerRegistry, Workspace
from maestro.service.access import AccessPolicy
from maestro.service.tokens import TokenBook
from maestro.store import open_store
from maestro.store.base import Store

log = logging.getLogger("maestro.server")

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

ENDPOINTS: list[Endpoint] = [
    *meta.ENDPOINTS,
    *projects.ENDPOINTS,
    *tasks.ENDPOINTS,
    *subtasks.ENDPOINTS,
    *sessions.ENDPOINTS,
    *activity.ENDPOINTS,
    *approvals.ENDPOINTS,
    *runners.ENDPOINTS,
    *tokens.ENDPOINTS,
    *skills.ENDPOINTS,
]


class WebFiles(Mount):
    """The UI's static files, which never claim an API path: Starlette prefers any
    full match over a route that matched only the path, so without this a GET on
    a POST-only API route would fall through to the files (404 instead of 405)."""

    API_PREFIXES = ("/api", "/health", "/openapi.json")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope.get("path", "")
        if path.startswith(self.API_PREFIXES):
            return Match.NONE, {}
        return super().matches(scope)


class RequestLog:
    """One line per request (method, path, status, duration) when DEBUG is on.

    Only the path is logged: never query strings, headers or bodies, which may
    carry tokens or a session's environment.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status, elapsed)


def build_routes(endpoints: Iterable[Endpoint], access: AccessPolicy) -> list[BaseRoute]:
    """The API's routes in order (each behind its access rule), then the
    WebSocket's, then the web UI's files."""
    routes: list[BaseRoute] = [
        Route(e.path, guarded(e, access), methods=[e.method]) for e in endpoints
    ]
    routes += [WebSocketRoute("/", websocket_endpoint), WebSocketRoute("/ws", websocket_endpoint)]
    # Last, so it only answers what no API route claimed: the web UI's static files.
    routes.append(WebFiles("/", StaticFiles(directory=WEB_DIR, html=True), name="web"))
    return routes


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
    """Build the server. The store is opened when the app starts (lifespan), and the
    approvals' expiry sweep, the runners' lease sweep (and the webhook's sender,
    with ``MAESTRO_NOTIFY_URL``) run while it does."""
    store = store if store is not None else open_store(settings)
    hub = EventHub(settings.retained_events, settings.ws_queue_limit, debug=settings.debug)
    activity_log = ActivityLog(hub)
    inbox = ApprovalInbox(store, settings.approval_timeout)
    token_book = TokenBook(store, settings.token)
    registry = RunnerRegistry(store, settings.runner_timeout, token_book)
    # Requests waiting for a decision answer at once when a stop is asked for,
    # rather than holding the server's graceful stop (server.stopping).
    stop_signals = StopSignals(inbox.watch.close)
    notifier = Notifier(settings.notify_url) if settings.notify_url else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        hub.load(store.recent_events(), store.store_id)
        store.subscribe(hub.publish)
        store.subscribe(activity_log.on_events)
        store.subscribe(inbox.watch.on_events)
        background = [
            asyncio.create_task(inbox.expire_forever(), name="maestro-approval-expiry"),
            asyncio.create_task(registry.expire_forever(), name="maestro-runner-leases"),
        ]
        if notifier is not None:
            store.subscribe(notifier.listener)
            background.append(asyncio.create_task(notifier.run(), name="maestro-notify"))
        counts = await store.counts()
        log.info("store %s ready: %s", store.kind, counts)
        stop_signals.install()
        try:
            yield
        finally:
            stop_signals.uninstall()
            inbox.watch.close()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await store.close()

    middleware = [
        Middleware(KeepServerSend),
        Middleware(BrowserGuard, settings=settings),
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        ),
        Middleware(TokenGuard, settings=settings, tokens=token_book),
    ]
    if settings.debug:
        middleware.insert(1, Middleware(RequestLog))
    app = Starlette(
        middleware=middleware,
        exception_handlers={
            MaestroError: on_maestro_error,
            HTTPException: on_http_error,
            Exception: on_unexpected_error,
        },
    )
    # Starlette builds a plain Router; ours finds API routes by table lookup.
    app.router = EndpointRouter(build_routes(ENDPOINTS, AccessPolicy(store)), lifespan=lifespan)
    app.state.settings = settings
    app.state.hub = hub
    app.state.activity = activity_log
    app.state.workspace = Workspace(store, settings.server_url, settings.max_active_sessions)
    app.state.approvals = inbox
    app.state.runners = registry
    app.state.tokens = token_book
    app.state.started = time.monotonic()
    app.state.openapi = build_openapi(ENDPOINTS)
    return app
