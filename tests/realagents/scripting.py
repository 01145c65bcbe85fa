"""What the fake model servers share: the turn script, the request log and the
HTTP plumbing.

A test scripts the model's side of the main conversation as a list of turns,
answered in order, one per main request:

- ``Reply(text=..., tool_calls=[ToolCall(...)], usage=Usage(...))``: the model
  says ``text`` (may be empty) and then calls the tools (may be none);
- ``HttpError(status, message)``: the API answers an error, ``times`` requests in
  a row (CLIs retry: Claude Code retries a 400 with fewer beta features, five
  more times; a 5xx or 429 with back-off);
- a callable ``(request_body) -> Reply | HttpError`` decides when the request
  comes, e.g. from the tool results it carries.

When the script runs out, every main request is answered ``Reply("done")``.
Which requests are "main" is each fake's rule (see its module docstring);
auxiliary requests get a harmless default and never consume a turn.
"""

from __future__ import annotations

import collections
import gzip
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self

JSON = Any
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie"})
# Settings a developer's shell may carry that would point a CLI elsewhere.
FOREIGN_ENV_PREFIXES = ("ANTHROPIC_", "CLAUDE", "OPENAI_", "CODEX_", "XDG_")


def isolated_environment(home: os.PathLike[str] | str) -> dict[str, str]:
    """This process's environment without any agent CLI or XDG settings, and
    ``HOME`` set to ``home``: the developer's ``~/.claude*`` and ``~/.codex`` stay
    unread and untouched."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_ENV_PREFIXES)}
    return {**kept, "HOME": os.fspath(home)}


@dataclass(frozen=True)
class Usage:
    """Token counts one reply reports, in Anthropic's terms.

    ``input_tokens`` excludes cache reads and writes (as in the Messages API);
    the OpenAI fake converts (see ``fake_openai``).
    """

    input_tokens: int = 100
    output_tokens: int = 20
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
        )


@dataclass(frozen=True)
class ToolCall:
    """The model calls tool ``name`` with ``input`` (a JSON object)."""

    name: str
    input: dict[str, JSON]
    id: str | None = None  # generated when None


@dataclass(frozen=True)
class Reply:
    """One model turn: some text, then zero or more tool calls."""

    text: str = ""
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage | None = None  # the server's default when None
    delay: float = 0.0  # seconds to wait before answering (a slow model)


@dataclass(frozen=True)
class HttpError:
    """The API answers ``status`` with an error body, ``times`` requests in a row."""

    status: int
    message: str = "scripted error"
    error_type: str = "invalid_request_error"
    times: int = 1


Answer = Reply | HttpError
Turn = Answer | Callable[[JSON], Answer]
RequestKind = Literal["main", "auxiliary", "other"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request a fake received. Secret headers are redacted."""

    method: str
    path: str
    headers: dict[str, str]
    body: JSON  # parsed JSON, or None
    kind: RequestKind
    answer: Answer | None = None  # what a main request was answered


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: JSON, **headers: str) -> HttpResponse:
        return cls(status, json.dumps(payload).encode(), headers=headers)


def sse(events: Iterable[tuple[str, JSON]]) -> bytes:
    """Server-sent events: ``event: NAME`` and one ``data:`` line of JSON each."""
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


def content_text(content: JSON) -> str:
    """The text of a tool result's content: a string, or the ``text`` of each
    block in a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b["text"] for b in content if isinstance(b, dict) and "text" in b)
    return ""


def strings_in(value: JSON) -> Iterator[str]:
    """Every string anywhere in a JSON value, depth first."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


class Script:
    """The turns left, consumed in order; thread-safe."""

    def __init__(self, turns: Iterable[Turn] = ()) -> None:
        self._turns: collections.deque[Turn] = collections.deque(turns)
        self._lock = threading.Lock()

    def add(self, *turns: Turn) -> None:
        with self._lock:
            self._turns.extend(turns)

    def remaining(self) -> int:
        with self._lock:
            return len(self._turns)

    def next_answer(self, body: JSON) -> Answer:
        with self._lock:
            turn: Turn = self._turns.popleft() if self._turns else Reply("done")
            if isinstance(turn, HttpError) and turn.times > 1:
                self._turns.appendleft(replace(turn, times=turn.times - 1))
        return turn if isinstance(turn, Reply | HttpError) else turn(body)


class FakeModelServer:
    """A scripted model API on 127.0.0.1, served from a background thread.

    Subclasses say which requests are main (``classify``) and how to answer
    (``reply``, ``error``, ``answer_other``) and how to read tool results back.
    """

    default_usage = Usage()

    def __init__(self, turns: Iterable[Turn] = (), *, usage: Usage | None = None) -> None:
        self.script = Script(turns)
        if usage is not None:
            self.default_usage = usage
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        server = _QuietServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        return f"http://127.0.0.1:{self.port}"

    def add(self, *turns: Turn) -> None:
        """Append turns to the script (also while a CLI is running)."""
        self.script.add(*turns)

    # -- the log ---------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def main_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == "main"]

    def auxiliary_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == "auxiliary"]

    def last_main_body(self) -> JSON:
        """The body of the last main request (``{}`` before any): the whole
        conversation is resent each time, so it holds every turn so far."""
        main = self.main_requests()
        return main[-1].body if main else {}

    def tool_results(self) -> list[str]:
        """The text of every tool result in the last main request."""
        return self.tool_results_in(self.last_main_body())

    def all_text(self) -> str:
        """Every string of every request body, joined: what reached the model."""
        return "\n".join(s for r in self.requests for s in strings_in(r.body))

    def reported_usage(self) -> Usage:
        """The sum of the usage the main replies reported."""
        total = Usage(0, 0, 0, 0)
        for request in self.main_requests():
            if isinstance(request.answer, Reply):
                total += request.answer.usage or self.default_usage
        return total

    # -- for subclasses -------------------------------------------------------------

    def classify(self, method: str, path: str, body: JSON) -> RequestKind:
        raise NotImplementedError

    def reply(self, body: JSON, reply: Reply) -> HttpResponse:
        """The API's answer saying ``reply`` to the request ``body``."""
        raise NotImplementedError

    def error(self, status: int, error_type: str, message: str) -> HttpResponse:
        """The API's error body."""
        raise NotImplementedError

    def answer_other(self, method: str, path: str, body: JSON) -> HttpResponse:
        raise NotImplementedError

    def tool_results_in(self, body: JSON) -> list[str]:
        raise NotImplementedError

    def next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}{self._counter:04d}"

    # -- dispatch ------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: JSON) -> HttpResponse:
        kind = self.classify(method, path, body)
        answer = self.script.next_answer(body) if kind == "main" else None
        shown = {
            k: ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()
        }
        with self._lock:
            self._requests.append(RecordedRequest(method, path, shown, body, kind, answer))
        if answer is None:
            return self.answer_other(method, path, body)
        if isinstance(answer, HttpError):
            return self.error(answer.status, answer.error_type, answer.message)
        if answer.delay:
            time.sleep(answer.delay)
        return self.reply(body, answer)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """CLIs drop connections (a WebSocket retry, an exit): not worth a traceback."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake: FakeModelServer = self.server.fake  # type: ignore[attr-defined]
        try:
            response = fake.handle(
                self.command, self.path, dict(self.headers.items()), self._read_json()
            )
        except Exception as error:  # a bug in a fake must show up, not hang the CLI
            response = HttpResponse.json(
                500, {"type": "error", "error": {"type": "api_error", "message": repr(error)}}
            )
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _read_json(self) -> JSON:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the fake's own log is the record."""
