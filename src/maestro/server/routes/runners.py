"""/api/runners, and a runner claiming a spawning session."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from maestro.domain.models import RUNNER_STATUSES
from maestro.domain.requests import RunnerHeartbeat, RunnerRegister, SessionClaim
from maestro.domain.responses import Claimed, Deleted, Heartbeat, RunnerWithLoad
from maestro.server.endpoint import Endpoint, Query
from maestro.server.http import answer, deleted, path_id, query_choice, read_json, runners
from maestro.service.access import Rule
from maestro.store.base import RunnerQuery


async def register_runner(request: Request) -> Response:
    body = await read_json(request, RunnerRegister)
    return answer(await runners(request).register(body), 201)


async def list_runners(request: Request) -> Response:
    query = RunnerQuery(status=query_choice(request, "status", RUNNER_STATUSES))
    return answer(await runners(request).list_runners(query))


async def get_runner(request: Request) -> Response:
    return answer(await runners(request).get_runner(path_id(request, "id")))


async def heartbeat(request: Request) -> Response:
    runner_id = path_id(request, "id")
    body = await read_json(request, RunnerHeartbeat)
    return answer(await runners(request).heartbeat(runner_id, body))


async def delete_runner(request: Request) -> Response:
    runner_id = path_id(request, "id")
    await runners(request).delete(runner_id)
    return deleted(runner_id)


async def claim_session(request: Request) -> Response:
    session_id = path_id(request, "id")
    body = await read_json(request, SessionClaim)
    return answer(await runners(request).claim(session_id, body))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/runners",
        register_runner,
        "Register a runner, or take back the registration of this name and host",
        body=RunnerRegister,
        returns=RunnerWithLoad,
        status=201,
        errors=(400, 409, 413, 415),
        tag="runners",
        access=Rule.REGISTER_RUNNER,
    ),
    Endpoint(
        "GET",
        "/api/runners",
        list_runners,
        "Runners with their load, oldest first",
        returns=list[RunnerWithLoad],
        errors=(400,),
        query=(Query("status", "only runners with this status", enum=RUNNER_STATUSES),),
        tag="runners",
        access=Rule.READ_RUNNERS,
    ),
    Endpoint(
        "GET",
        "/api/runners/{id}",
        get_runner,
        "One runner with its load",
        returns=RunnerWithLoad,
        errors=(400, 404),
        tag="runners",
        access=Rule.READ_RUNNERS,
    ),
    Endpoint(
        "POST",
        "/api/runners/{id}/heartbeat",
        heartbeat,
        "Extend the runner's lease (and report the sessions it still runs)",
        body=RunnerHeartbeat,
        returns=Heartbeat,
        errors=(400, 404, 413, 415),
        tag="runners",
        access=Rule.RUNNER_ITSELF,
    ),
    Endpoint(
        "DELETE",
        "/api/runners/{id}",
        delete_runner,
        "Forget a runner; its unopened claims go back to the others",
        returns=Deleted,
        errors=(400, 404),
        tag="runners",
        access=Rule.RUNNER_ITSELF,
    ),
    Endpoint(
        "POST",
        "/api/sessions/{id}/claim",
        claim_session,
        "Claim a spawning session for a runner, which may then open its terminal",
        body=SessionClaim,
        returns=Claimed,
        errors=(400, 404, 409, 413, 415),
        tag="runners",
        access=Rule.CLAIM,
    ),
]
