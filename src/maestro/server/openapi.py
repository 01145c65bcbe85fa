"""``/openapi.json``, built from the endpoint table and the msgspec models that
validate requests and encode responses."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec

from maestro import __version__
from maestro.domain.ids import ID_PATTERN
from maestro.server.endpoint import Endpoint
from maestro.server.errors import ErrorBody

_REF = "#/components/schemas/{name}"
_ERROR_TEXT = {
    400: "Invalid input (VALIDATION_ERROR, or the documented specific code)",
    401: "Missing, wrong or ended token",
    403: "Refused host or origin, or beyond the token's scope (a runner's or a session's)",
    404: "Not found",
    409: "Conflicts with the stored state (SESSION_EXISTS, SESSION_FINISHED, APPROVAL_DECIDED, "
    "ALREADY_CLAIMED, LABELS_MISMATCH, RUNNER_LOST, RUNNER_NAME_TAKEN)",
    413: "Body too large",
    415: "Body is not application/json",
    429: "Too many active sessions in the project (TOO_MANY_SESSIONS)",
    500: "Server error",
}


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": ID_PATTERN},
        }
        for name in re.findall(r"{(\w+)}", endpoint.path)
    ]
    for query in endpoint.query:
        schema: dict[str, Any] = {"type": "string"}
        if query.enum:
            schema["enum"] = list(query.enum)
        elif query.is_id:
            schema["pattern"] = ID_PATTERN
        params.append(
            {
                "name": query.name,
                "in": "query",
                "required": False,
                "description": query.description,
                "schema": schema,
            }
        )
    return params


_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _guard_answers(endpoint: Endpoint) -> set[int]:
    """What the guards in front of every route may answer (see security.py):
    403 for a foreign Host or Origin or a token beyond its scope, 415 for a
    non-JSON state-changing request,
    401 without the token where one is configured (all but /health)."""
    answers = {403}
    if endpoint.method in _MUTATING:
        answers.add(415)
    if endpoint.path != "/health":
        answers.add(401)
    return answers


def build_openapi(endpoints: Iterable[Endpoint]) -> bytes:
    endpoints = list(endpoints)
    types: list[Any] = [ErrorBody]
    for endpoint in endpoints:
        types += [t for t in (endpoint.body, endpoint.returns) if t is not None]
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    by_type = dict(zip(map(repr, types), schemas, strict=True))
    error_schema = by_type[repr(ErrorBody)]
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        responses: dict[str, Any] = {}
        success: dict[str, Any] = {"description": "OK"}
        if endpoint.returns is not None:
            success["content"] = {"application/json": {"schema": by_type[repr(endpoint.returns)]}}
        responses[str(endpoint.status)] = success
        for status in sorted(set(endpoint.errors) | _guard_answers(endpoint)):
            responses[str(status)] = {
                "description": _ERROR_TEXT[status],
                "content": {"application/json": {"schema": error_schema}},
            }
        operation: dict[str, Any] = {
            "summary": endpoint.summary,
            "operationId": endpoint.handler.__name__,
            "tags": [endpoint.tag or endpoint.path.split("/")[2]],
            "parameters": _parameters(endpoint),
            "responses": responses,
        }
        if endpoint.path != "/health":
            # The token is optional: required only when MAESTRO_TOKEN is set.
            operation["security"] = [{}, {"bearer": []}]
        if endpoint.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": by_type[repr(endpoint.body)]}},
            }
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Maestro", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    return msgspec.json.encode(document)
