"""/api/approvals, and filing one for a session."""

from __future__ import annotations

import math
import re

from starlette.requests import Request
from starlette.responses import Response

from maestro.domain.errors import ValidationFailed
from maestro.domain.models import APPROVAL_STATUSES, Approval
from maestro.domain.requests import ApprovalCreate, ApprovalDecide
from maestro.server.endpoint import Endpoint, Query
from maestro.server.http import (
    answer,
    approvals,
    path_id,
    project_filter,
    query_choice,
    query_id,
    read_json,
)
from maestro.service.access import Rule
from maestro.store.base import ApprovalQuery

MAX_WAIT_SECONDS = 60
_SECONDS = re.compile(r"\d{1,6}(\.\d{1,9})?")


def query_wait(request: Request) -> float | None:
    """``?wait=SECONDS``: a plain decimal number, more than 0 and at most 60."""
    raw = request.query_params.get("wait")
    if raw is None or raw == "":
        return None
    seconds = float(raw) if _SECONDS.fullmatch(raw) else math.nan
    if not 0 < seconds <= MAX_WAIT_SECONDS:  # NaN fails too
        raise ValidationFailed(
            f"wait must be a number of seconds greater than 0 and at most {MAX_WAIT_SECONDS}",
            field="wait",
        )
    return seconds


async def file_approval(request: Request) -> Response:
    session_id = path_id(request, "id")
    body = await read_json(request, ApprovalCreate)
    return answer(await approvals(request).file(session_id, body), 201)


async def list_approvals(request: Request) -> Response:
    query = ApprovalQuery(
        project_id=project_filter(request),
        session_id=query_id(request, "sessionId"),
        status=query_choice(request, "status", APPROVAL_STATUSES),
    )
    return answer(await approvals(request).list_approvals(query))


async def get_approval(request: Request) -> Response:
    approval_id = path_id(request, "id")
    wait = query_wait(request)
    inbox = approvals(request)
    if wait is None:
        return answer(await inbox.get_approval(approval_id))
    return answer(await inbox.wait_for_decision(approval_id, wait))


async def decide_approval(request: Request) -> Response:
    approval_id = path_id(request, "id")
    body = await read_json(request, ApprovalDecide)
    return answer(await approvals(request).decide(approval_id, body))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/sessions/{id}/approvals",
        file_approval,
        "Ask a person to allow or deny a tool call of the session's agent",
        body=ApprovalCreate,
        returns=Approval,
        status=201,
        errors=(400, 404, 409, 413, 415),
        tag="approvals",
        access=Rule.CHANGE_SESSION,
    ),
    Endpoint(
        "GET",
        "/api/approvals",
        list_approvals,
        "Approvals, filtered, oldest first",
        returns=list[Approval],
        errors=(400,),
        query=(
            Query("projectId", "only approvals of this project", is_id=True),
            Query("sessionId", "only approvals of this session", is_id=True),
            Query("status", "only approvals with this status", enum=APPROVAL_STATUSES),
        ),
        tag="approvals",
        access=Rule.LIST,
    ),
    Endpoint(
        "GET",
        "/api/approvals/{id}",
        get_approval,
        "One approval; with wait, once it is decided or after that many seconds",
        returns=Approval,
        errors=(400, 404),
        query=(
            Query(
                "wait",
                "seconds (more than 0, at most 60) to wait for a pending approval to be "
                "decided or expire before answering",
            ),
        ),
        tag="approvals",
        access=Rule.READ_APPROVAL,
    ),
    Endpoint(
        "POST",
        "/api/approvals/{id}/decision",
        decide_approval,
        "Allow or deny a pending approval, optionally remembering it in the project's policy",
        body=ApprovalDecide,
        returns=Approval,
        errors=(400, 404, 409, 413, 415),
        tag="approvals",
    ),
]
