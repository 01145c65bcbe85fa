"""/api/sessions/{id}/activity: a session's live activity, posted by the agent's
side and read by anyone (``server.activity``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from maestro.domain.activity import ActivityAccepted, ActivityPage, ActivityPost
from maestro.domain.errors import ValidationFailed
from maestro.server.activity import ActivityLog
from maestro.server.endpoint import Endpoint, Query
from maestro.server.http import answer, path_id, read_json, workspace
from maestro.service.access import Rule

_MAX_DIGITS = 18


def activity_log(request: Request) -> ActivityLog:
    log: ActivityLog = request.app.state.activity
    return log


def query_since(request: Request) -> int:
    """``?since=N``: a non-negative integer, 0 when absent."""
    raw = request.query_params.get("since")
    if raw is None or raw == "":
        return 0
    if not (raw.isascii() and raw.isdigit() and len(raw) <= _MAX_DIGITS):
        raise ValidationFailed("since must be a non-negative integer", field="since")
    return int(raw)


async def _known_session(request: Request, log: ActivityLog, session_id: str) -> None:
    """404 ``SESSION_NOT_FOUND`` unless the session exists: free when it has a
    log here, one store read otherwise."""
    if not log.has(session_id):
        await workspace(request).get_session(session_id)


async def record_activity(request: Request) -> Response:
    session_id = path_id(request, "id")
    body = await read_json(request, ActivityPost)
    log = activity_log(request)
    await _known_session(request, log, session_id)
    return answer(ActivityAccepted(next=log.record(session_id, body)))


async def read_activity(request: Request) -> Response:
    session_id = path_id(request, "id")
    since = query_since(request)
    log = activity_log(request)
    await _known_session(request, log, session_id)
    return answer(log.page(session_id, since))


_PATH = "/api/sessions/{id}/activity"
ENDPOINTS = [
    Endpoint(
        "POST",
        _PATH,
        record_activity,
        "Add lines to the session's live activity (the agent's side sends them)",
        body=ActivityPost,
        returns=ActivityAccepted,
        errors=(400, 404, 413, 415),
        tag="sessions",
        access=Rule.CHANGE_SESSION,
    ),
    Endpoint(
        "GET",
        _PATH,
        read_activity,
        "The session's kept activity entries after since, oldest first",
        returns=ActivityPage,
        errors=(400, 404),
        query=(
            Query(
                "since",
                "a non-negative integer: only entries with a greater index (default 0: all "
                "that are kept)",
            ),
        ),
        tag="sessions",
        access=Rule.READ_SESSION,
    ),
]
