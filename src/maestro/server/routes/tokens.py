"""/api/tokens: the runner tokens (the admin's to make, list and revoke)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from maestro.domain.requests import RunnerTokenCreate
from maestro.domain.responses import Deleted, IssuedToken, TokenInfo
from maestro.server.endpoint import Endpoint
from maestro.server.http import answer, deleted, path_id, read_json
from maestro.service.tokens import TokenBook


def _tokens(request: Request) -> TokenBook:
    book: TokenBook = request.app.state.tokens
    return book


async def create_token(request: Request) -> Response:
    body = await read_json(request, RunnerTokenCreate)
    return answer(await _tokens(request).create_runner_token(body), 201)


async def list_tokens(request: Request) -> Response:
    return answer(await _tokens(request).list_runner_tokens())


async def revoke_token(request: Request) -> Response:
    token_id = path_id(request, "id")
    await _tokens(request).revoke(token_id)
    return deleted(token_id)


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/tokens",
        create_token,
        "Make a runner token (shown once in this answer)",
        body=RunnerTokenCreate,
        returns=IssuedToken,
        status=201,
        errors=(400, 403, 413, 415),
        tag="tokens",
    ),
    Endpoint(
        "GET",
        "/api/tokens",
        list_tokens,
        "The runner tokens, oldest first (never their secrets)",
        returns=list[TokenInfo],
        errors=(403,),
        tag="tokens",
    ),
    Endpoint(
        "DELETE",
        "/api/tokens/{id}",
        revoke_token,
        "Revoke a token at once (a runner's, or a session's before it finishes)",
        returns=Deleted,
        errors=(400, 403, 404),
        tag="tokens",
    ),
]
