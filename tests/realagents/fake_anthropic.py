"""A scripted fake of the Anthropic Messages API, for running the real Claude Code
CLI in tests.

Endpoints:

- ``POST /v1/messages`` (Claude Code adds ``?beta=true``): streamed as server-sent
  events when the body says ``"stream": true`` (``message_start``, per content
  block ``content_block_start`` / ``content_block_delta`` / ``content_block_stop``,
  ``message_delta`` with ``stop_reason`` and usage, ``message_stop``), else one
  JSON message;
- ``POST /v1/messages/count_tokens``: ``{"input_tokens": <body size / 4>}``;
- ``HEAD`` anything: 200 (Claude Code checks ``HEAD /api/hello`` unless
  ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1``);
- anything else: 404 with an Anthropic error body (and logged).

Main or auxiliary. A ``/v1/messages`` request is *main* (it consumes a turn of
the script) when it offers tools (a non-empty ``tools`` list): Claude Code's
agent loop always sends its tool set, while side requests (a session title, a
conversation summary, a ``max_tokens: 1`` quota probe) send none. With 2.1.332
in ``-p`` no side request was seen at all: every ``/v1/messages`` carried tools.
Auxiliary requests are answered with a short text (``"Fake title"``) and never
consume a turn.

Errors use Anthropic's body: ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

from tests.realagents.scripting import (
    JSON,
    FakeModelServer,
    HttpResponse,
    Reply,
    RequestKind,
    Usage,
    content_text,
    isolated_environment,
    sse,
)

AUXILIARY_TEXT = "Fake title"
API_KEY = "sk-ant-fake-0000000000000000"


def claude_environment(base_url: str, home: os.PathLike[str] | str) -> dict[str, str]:
    """The environment for ``claude -p`` against the fake at ``base_url``: its
    own ``HOME`` (no ``~/.claude.json`` seeding is needed for ``-p``), an API key
    (sent as ``x-api-key``), and no telemetry, update checks or other calls
    that do not go to the model (without them Claude Code also sends
    ``HEAD /api/hello`` to the fake and tries to reach Anthropic's telemetry)."""
    return {
        **isolated_environment(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": API_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }


class FakeAnthropic(FakeModelServer):
    """``with FakeAnthropic([Reply(...), ...]) as fake:`` then point
    ``ANTHROPIC_BASE_URL`` at ``fake.url``."""

    model = "claude-fake-model"

    def classify(self, method: str, path: str, body: JSON) -> RequestKind:
        if method == "POST" and path.split("?")[0] == "/v1/messages":
            return "main" if isinstance(body, dict) and body.get("tools") else "auxiliary"
        return "other"

    def answer_other(self, method: str, path: str, body: JSON) -> HttpResponse:
        route = path.split("?")[0]
        if method == "HEAD":  # a reachability check (HEAD /api/hello)
            return HttpResponse(200, b"")
        if route == "/v1/messages":
            return self.reply(body, Reply(AUXILIARY_TEXT, usage=Usage(10, 3)))
        if route == "/v1/messages/count_tokens":
            return HttpResponse.json(200, {"input_tokens": len(json.dumps(body)) // 4})
        return self.error(404, "not_found_error", f"fake has no {method} {route}")

    def tool_results_in(self, body: JSON) -> list[str]:
        results = []
        for message in body.get("messages", []) if isinstance(body, dict) else []:
            content = message.get("content")
            for block in content if isinstance(content, list) else []:
                if block.get("type") == "tool_result":
                    results.append(content_text(block.get("content")))
        return results

    def tool_uses(self) -> list[dict[str, JSON]]:
        """Every ``tool_use`` block the fake sent, as the CLI echoes them back."""
        return [
            block
            for message in self.last_main_body().get("messages", [])
            if message.get("role") == "assistant" and isinstance(message.get("content"), list)
            for block in message["content"]
            if block.get("type") == "tool_use"
        ]

    def error(self, status: int, error_type: str, message: str) -> HttpResponse:
        body = {"type": "error", "error": {"type": error_type, "message": message}}
        return HttpResponse.json(status, body, **{"request-id": "req_fake"})

    def reply(self, body: JSON, reply: Reply) -> HttpResponse:
        message = self._message(reply)
        if isinstance(body, dict) and body.get("model"):
            message["model"] = body["model"]
        if isinstance(body, dict) and body.get("stream"):
            return HttpResponse(200, sse(self._events(message)), "text/event-stream")
        return HttpResponse.json(200, message)

    def _message(self, reply: Reply) -> dict[str, JSON]:
        content: list[dict[str, JSON]] = []
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        for call in reply.tool_calls:
            content.append(
                {
                    "type": "tool_use",
                    "id": call.id or self.next_id("toolu_fake"),
                    "name": call.name,
                    "input": call.input,
                }
            )
        usage = reply.usage or self.default_usage
        return {
            "id": self.next_id("msg_fake"),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                "cache_read_input_tokens": usage.cache_read_input_tokens,
            },
        }

    @staticmethod
    def _events(message: dict[str, JSON]) -> Iterator[tuple[str, JSON]]:
        """The stream the real API sends for ``message``: the start carries the
        input-side usage (and ``output_tokens: 1``), the delta the final counts."""
        usage = message["usage"]
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage}}
        start["usage"]["output_tokens"] = 1
        yield "message_start", {"type": "message_start", "message": start}
        yield "ping", {"type": "ping"}
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                empty: dict[str, JSON] = {"type": "text", "text": ""}
                delta: dict[str, JSON] = {"type": "text_delta", "text": block["text"]}
            else:
                empty = {**block, "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": empty},
            )
            yield (
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": usage,
            },
        )
        yield "message_stop", {"type": "message_stop"}
