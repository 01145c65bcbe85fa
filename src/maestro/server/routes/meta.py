"""/health and /openapi.json."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from maestro import __version__
from maestro.domain.clock import now_ms
from maestro.domain.responses import Health
from maestro.server.endpoint import Endpoint
from maestro.server.http import answer, answer_encoded, workspace
from maestro.service.access import Rule


async def health(request: Request) -> Response:
    store = workspace(request).store
    return answer(
        Health(
            status="ok",
            timestamp=now_ms(),
            uptime=round(time.monotonic() - request.app.state.started, 3),
            version=__version__,
            store=store.kind,
            counts=await store.counts(),
            latest_seq=request.app.state.hub.last_seq,
            store_id=store.store_id,
        )
    )


async def openapi(request: Request) -> Response:
    return answer_encoded(request.app.state.openapi)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/health",
        health,
        "Liveness, version, store kind and counts",
        returns=Health,
        tag="meta",
        access=Rule.ANY,
    ),
    Endpoint("GET", "/openapi.json", openapi, "This document", tag="meta", access=Rule.ANY),
]
