"""A scripted fake of the OpenAI Responses API, for running the real Codex CLI in
tests.

Endpoints:

- ``POST /v1/responses``: streamed as server-sent events (``response.created``,
  per output item ``response.output_item.added`` / ``response.output_text.delta``
  / ``response.output_item.done``, then ``response.completed`` carrying the
  usage), or one JSON response when the body does not ask for a stream;
- ``GET /v1/models``: the one fake model;
- anything else, including the WebSocket upgrade Codex tries first on the
  built-in ``openai`` provider: 404 with an OpenAI error body (and logged).

Point Codex at it with a custom provider that turns WebSockets off and reads
its key from ``OPENAI_API_KEY`` (``codex_config``, ``codex_environment``). The
built-in ``openai`` provider works too (``openai_base_url = "<url>/v1"``), but
tries ``GET /v1/responses`` as a WebSocket 7 times (~7 s) before falling back to
HTTPS, and sends a key only from ``CODEX_API_KEY`` or ``codex login
--with-api-key`` (``auth.json``), never from ``OPENAI_API_KEY``;
``[model_providers.openai] supports_websockets = false`` does not change it.

Shell commands. Which tool runs a command depends on the model Codex thinks it
talks to: ``gpt-5.5`` (``codex_config``'s default) and unknown models (which also
add an ``error`` item "Model metadata ... not found" to the output) are offered
a function ``exec_command`` taking ``{"cmd": "..."}``; older catalogs offer
``shell_command`` (``{"command": "..."}``) or ``shell`` (``{"command": [argv]}``);
the built-in provider's default model (``gpt-6.2-sol``) gets "code mode": one
custom tool ``exec`` taking JavaScript that calls ``tools.exec_command(...)``.
Script ``ToolCall(SHELL, {"command": "echo hi"})`` (or ``shell("echo hi")``) and
the fake calls whichever of those the request offers. Other tool calls are sent
as they are: a ``function_call`` with the input as its JSON arguments.

Main or auxiliary: a ``/v1/responses`` request is *main* when it offers tools
(Codex's agent turns always do); one without tools (none observed with 0.171.0)
is auxiliary, answered ``"done"`` without consuming a turn.

Usage: OpenAI counts cache reads and writes inside ``input_tokens``, so a
``Usage`` is reported as ``input_tokens = input + cache reads + cache writes``,
``input_tokens_details.cached_tokens = cache reads`` and
``input_tokens_details.cache_write_tokens = cache writes`` (Codex reads both).
Codex sums the replies into ``turn.completed.usage``: ``input_tokens``,
``cached_input_tokens``, ``cache_write_input_tokens``, ``output_tokens``,
``reasoning_output_tokens``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.realagents.scripting import (
    JSON,
    FakeModelServer,
    HttpResponse,
    Reply,
    RequestKind,
    ToolCall,
    Usage,
    content_text,
    isolated_environment,
    sse,
)

SHELL = "<shell>"
MODEL = "gpt-5.5"
PROVIDER = "maestro-fake"
API_KEY_ENV = "OPENAI_API_KEY"
API_KEY = "sk-fake-0000000000000000"


def shell(command: str, text: str = "") -> Reply:
    """A turn that runs ``command`` with Codex's shell tool, whatever it is called."""
    return Reply(text, [ToolCall(SHELL, {"command": command})])


def codex_config(base_url: str, model: str = MODEL) -> str:
    """``config.toml`` text for ``$CODEX_HOME`` that sends every request to the fake
    over HTTPS (``supports_websockets = false``), authenticated with the
    ``OPENAI_API_KEY`` environment variable as a Bearer token."""
    return (
        f'model = "{model}"\n'
        f'model_provider = "{PROVIDER}"\n'
        "\n"
        f"[model_providers.{PROVIDER}]\n"
        'name = "Maestro fake"\n'
        f'base_url = "{base_url}/v1"\n'
        f'env_key = "{API_KEY_ENV}"\n'
        'wire_api = "responses"\n'
        "supports_websockets = false\n"
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )


def codex_environment(base_url: str, home: os.PathLike[str] | str) -> dict[str, str]:
    """The environment for ``codex exec`` against the fake at ``base_url``: its
    own ``HOME`` and ``CODEX_HOME`` (``HOME/.codex``, holding ``codex_config``)
    and the API key the provider reads from ``OPENAI_API_KEY``. No ``auth.json``
    or ``codex login`` is needed."""
    codex_home = Path(home) / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(codex_config(base_url))
    return {
        **isolated_environment(home),
        "CODEX_HOME": os.fspath(codex_home),
        API_KEY_ENV: API_KEY,
    }


class FakeOpenAI(FakeModelServer):
    """``with FakeOpenAI([shell("echo hi"), Reply("done")]) as fake:`` then write
    ``codex_config(fake.url)`` to ``$CODEX_HOME/config.toml``."""

    def classify(self, method: str, path: str, body: JSON) -> RequestKind:
        if method == "POST" and path.split("?")[0] == "/v1/responses":
            return "main" if _offers_tools(body) else "auxiliary"
        return "other"

    def answer_other(self, method: str, path: str, body: JSON) -> HttpResponse:
        route = path.split("?")[0]
        if route == "/v1/responses" and method == "POST":
            return self.reply(body, Reply("done", usage=Usage(10, 3)))
        if route == "/v1/models" and method == "GET":
            models = [{"id": MODEL, "object": "model", "created": 0, "owned_by": "maestro"}]
            return HttpResponse.json(200, {"object": "list", "data": models})
        return self.error(404, "not_found", f"fake has no {method} {route}")

    def tool_results_in(self, body: JSON) -> list[str]:
        return [
            content_text(item.get("output"))
            for item in (body.get("input", []) if isinstance(body, dict) else [])
            if item.get("type") in ("function_call_output", "custom_tool_call_output")
        ]

    def tool_calls_sent(self) -> list[dict[str, JSON]]:
        """The ``function_call`` items the fake sent, as Codex echoes them back."""
        return [
            item
            for item in self.last_main_body().get("input", [])
            if item.get("type") in ("function_call", "custom_tool_call")
        ]

    # -- building the response -------------------------------------------------------

    def error(self, status: int, error_type: str, message: str) -> HttpResponse:
        body = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
        return HttpResponse.json(status, body)

    def reply(self, body: JSON, reply: Reply) -> HttpResponse:
        items = self._output_items(body, reply)
        response = {
            "id": self.next_id("resp_fake"),
            "object": "response",
            "created_at": 0,
            "status": "completed",
            "model": body.get("model", MODEL) if isinstance(body, dict) else MODEL,
            "output": items,
            "usage": _usage(reply.usage or self.default_usage),
        }
        if isinstance(body, dict) and body.get("stream") is False:
            return HttpResponse.json(200, response)
        return HttpResponse(200, sse(_events(response)), "text/event-stream")

    def _output_items(self, body: JSON, reply: Reply) -> list[dict[str, JSON]]:
        items: list[dict[str, JSON]] = []
        if reply.text:
            items.append(
                {
                    "type": "message",
                    "id": self.next_id("msg_fake"),
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
                }
            )
        for call in reply.tool_calls:
            if call.name == SHELL and _code_mode(body):
                items.append(self._code_mode_call(call))
                continue
            name, arguments = _shell(body, call) if call.name == SHELL else (call.name, call.input)
            items.append(
                {
                    "type": "function_call",
                    "id": self.next_id("fc_fake"),
                    "call_id": call.id or self.next_id("call_fake"),
                    "name": name,
                    "arguments": json.dumps(arguments),
                    "status": "completed",
                }
            )
        return items

    def _code_mode_call(self, call: ToolCall) -> dict[str, JSON]:
        """A call of the JavaScript ``exec`` tool that runs the command through
        its nested ``exec_command`` and returns the output."""
        command = json.dumps(str(call.input["command"]))
        return {
            "type": "custom_tool_call",
            "id": self.next_id("ctc_fake"),
            "call_id": call.id or self.next_id("call_fake"),
            "name": "exec",
            "input": f"const r = await tools.exec_command({{cmd: {command}}});\ntext(r.output);\n",
            "status": "completed",
        }


def _code_mode(body: JSON) -> bool:
    """Whether Codex offers its tools only inside the JavaScript ``exec`` tool
    (its "code mode", the default for the built-in provider's default model)."""
    return "exec_command" not in _tool_names(body) and any(
        tool.get("name") == "exec"
        for item in body.get("input", [])
        if item.get("type") == "additional_tools"
        for namespace in item.get("tools", [])
        for tool in namespace.get("tools", [])
    )


def _offers_tools(body: JSON) -> bool:
    if not isinstance(body, dict):
        return False
    extra = [i for i in body.get("input", []) if i.get("type") == "additional_tools"]
    return bool(body.get("tools") or extra)


def _tool_names(body: JSON) -> set[str]:
    return {str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, dict)}


def _shell(body: JSON, call: ToolCall) -> tuple[str, dict[str, Any]]:
    """Translate a ``SHELL`` call into the shell tool this request offers."""
    command = str(call.input["command"])
    names = _tool_names(body)
    if "exec_command" in names:
        return "exec_command", {"cmd": command}
    if "shell_command" in names:
        return "shell_command", {"command": command}
    if "shell" in names:
        return "shell", {"command": ["bash", "-c", command]}
    raise ValueError(f"the request offers no shell tool, only {sorted(names)}")


def _usage(usage: Usage) -> dict[str, JSON]:
    input_tokens = (
        usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
    )
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_input_tokens,
            "cache_write_tokens": usage.cache_creation_input_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + usage.output_tokens,
    }


def _events(response: dict[str, JSON]) -> Iterator[tuple[str, JSON]]:
    in_progress = {**response, "status": "in_progress", "output": [], "usage": None}
    yield "response.created", {"type": "response.created", "response": in_progress}
    for index, item in enumerate(response["output"]):
        started = {**item, "status": "in_progress"}
        if item["type"] == "message":
            started["content"] = []
        yield (
            "response.output_item.added",
            {"type": "response.output_item.added", "output_index": index, "item": started},
        )
        if item["type"] == "message":
            yield (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "delta": item["content"][0]["text"],
                },
            )
        yield (
            "response.output_item.done",
            {"type": "response.output_item.done", "output_index": index, "item": item},
        )
    yield "response.completed", {"type": "response.completed", "response": response}
