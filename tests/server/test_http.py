"""What every route shares: answers with the headers Starlette would give them, and
bodies read whole whatever the number of messages they arrive in."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import msgspec
import pytest
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message

from maestro.domain.errors import PayloadTooLarge
from maestro.server.http import answer, answer_encoded, read_body


class Item(msgspec.Struct):
    id: str
    title: str


@pytest.mark.parametrize("status", [200, 201])
def test_an_answer_has_the_headers_of_a_starlette_json_response(status: int) -> None:
    content = Item("t1", "Ünïcode")
    expected = Response(msgspec.json.encode(content), status, media_type="application/json")
    got = answer(content, status)
    assert (got.status_code, got.raw_headers, got.body) == (
        expected.status_code,
        expected.raw_headers,
        expected.body,
    )


def test_an_encoded_answer_sends_the_bytes_as_they_are() -> None:
    got = answer_encoded(b'{"id":"t1"}', 201)
    assert (got.status_code, got.body) == (201, b'{"id":"t1"}')
    assert got.headers["content-length"] == "11"
    assert got.headers["content-type"] == "application/json"


def test_each_answer_has_its_own_header_list() -> None:
    """Middleware adds headers to the list it is given (CORS adds Vary)."""
    first, second = answer({}), answer({})
    first.raw_headers.append((b"vary", b"Origin"))
    assert (b"vary", b"Origin") not in second.raw_headers


def reading(messages: list[Message], limit: int = 100) -> Request:
    pending = list(messages)

    async def receive() -> Message:
        return pending.pop(0)

    settings = SimpleNamespace(body_limit=limit)
    scope = {
        "type": "http",
        "headers": [],
        "app": SimpleNamespace(state=SimpleNamespace(settings=settings)),
    }
    return Request(scope, receive)


def part(body: bytes, more: bool) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


def test_a_body_in_one_message_is_read() -> None:
    assert asyncio.run(read_body(reading([part(b'{"a":1}', False)]))) == b'{"a":1}'


def test_a_body_in_several_messages_is_read_whole() -> None:
    messages = [part(b'{"a"', True), part(b"", True), part(b":1}", False)]
    assert asyncio.run(read_body(reading(messages))) == b'{"a":1}'


def test_a_body_past_the_limit_is_refused_without_reading_the_rest() -> None:
    messages = [part(b"x" * 60, True), part(b"x" * 60, True)]  # no third message: never asked for
    with pytest.raises(PayloadTooLarge):
        asyncio.run(read_body(reading(messages)))


def test_a_client_gone_mid_body_is_a_disconnect() -> None:
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_body(reading([part(b"{", True), {"type": "http.disconnect"}])))
