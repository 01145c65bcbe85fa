"""The transport under the client: JSON over HTTP to one server.

It knows the server's URL and token, retries what is safe to retry, and turns
every failure into a ``ClientError`` whose message is one clear sentence:
``ServerUnreachable`` when nothing reached the server, ``ApiError`` with the
server's documented error body (status, code, message, details) when it said
no. What a failure means to a shell (an exit code) is the CLI's business
(``cli/errors.py``).

It is built on the standard library's ``http.client`` (one kept-alive
connection), not on an HTTP library: ``maestro hook`` and ``maestro report`` run
on every file an agent writes, and importing httpx alone took longer than the
request they make.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import threading
import time
from collections.abc import Mapping
from typing import Any, NamedTuple, Self
from urllib.parse import quote, urlencode, urlsplit

DEFAULT_SERVER_URL = "http://localhost:3000"
DEFAULT_RETRIES = 3
USER_AGENT = "maestro-cli"
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
# Characters a path may carry as they are (RFC 3986 pchar and "/"); anything else
# in an id typed by a user, a space say, is percent-encoded rather than refused.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_CONNECTIONS: dict[str, type[http.client.HTTPConnection]] = {
    "http": http.client.HTTPConnection,
    "https": http.client.HTTPSConnection,
}


class ClientError(Exception):
    """A request that did not get its answer: one sentence for a person, and a
    code for a program."""

    def __init__(self, message: str, code: str = "ERROR") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ServerUnreachable(ClientError):
    """Nothing reached the server (refused, timed out, unknown host)."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"cannot reach the Maestro server at {url}; is `maestro serve` running? "
            "(set MAESTRO_SERVER_URL or pass --server to point elsewhere)",
            code="SERVER_UNREACHABLE",
        )


class ApiError(ClientError):
    """The server answered with an error: its status and documented body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        path: str = "",
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.details = details
        self.path = path


def api_path(*segments: str) -> str:
    """``/api/`` and the segments, each percent-encoded whole: an id typed by a
    user (``a/../b``, ``x?cascade=true``) stays one segment of the path and can
    never change the route or add a query."""
    return "/api/" + "/".join(quote(segment, safe="") for segment in segments)


def server_url(configured: str | None) -> str:
    """A ``MAESTRO_SERVER_URL`` value as the client uses it: the default when unset,
    without a trailing slash."""
    return (configured or DEFAULT_SERVER_URL).rstrip("/")


class ClientSettings(NamedTuple):
    """The client's side of the environment, read and checked once: a bad value
    is an error naming the variable, never a silent default. (The server's are
    ``config.Settings``.)"""

    server_url: str
    token: str | None
    retries: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClientSettings:
        env = os.environ if env is None else env
        raw_retries = env.get("MAESTRO_RETRIES", "").strip()
        if raw_retries and not raw_retries.isdigit():
            raise ClientError(
                f"MAESTRO_RETRIES must be a whole number of retries (0 or more), "
                f"got {raw_retries!r}",
                code="INVALID_SETTING",
            )
        return cls(
            server_url=server_url(env.get("MAESTRO_SERVER_URL")),
            token=env.get("MAESTRO_TOKEN") or None,
            retries=int(raw_retries) if raw_retries else DEFAULT_RETRIES,
        )


class _ConnectFailed(Exception):
    """Nothing reached the server: the connection itself could not be opened."""


class HttpClient:
    """JSON over HTTP to one Maestro server, as plain decoded JSON (the typed
    methods are ``MaestroClient``'s).

    Retries with exponential backoff (``MAESTRO_RETRIES``, default 3): a refused
    connection for any method (nothing reached the server), and 5xx or other
    transport errors only for idempotent methods, so a retried POST can never
    create something twice.

    Requests share one kept-alive connection; a lock makes them take turns, so
    threads (the runner's) may share a client.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        retries: int | None = None,
        timeout: float = 30.0,
        backoff: float = 0.2,
    ) -> None:
        settings = ClientSettings.from_env()
        self.url = url.rstrip("/") if url else settings.server_url
        token = token if token is not None else settings.token
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.retries = settings.retries if retries is None else retries
        self.backoff = backoff
        self.timeout = timeout
        parts = urlsplit(self.url)
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._prefix = parts.path.rstrip("/")
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON body or raise ``ClientError``."""
        return decode_json(path, *self.send(method, path, body, params, headers))

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one request, retrying what is safe to retry; return the answer's
        status and body, or raise ``ClientError`` when none came."""
        target = self._target(path, params)
        payload = None
        sent = {**self._headers, **(headers or {})}
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            sent["Content-Type"] = "application/json"
        attempt = 0
        while True:
            try:
                with self._lock:
                    status, raw = self._exchange(method, target, payload, sent)
            except _ConnectFailed as error:
                if attempt < self.retries:
                    attempt = self._pause(attempt)
                    continue
                raise ServerUnreachable(self.url) from error.__cause__
            except (OSError, http.client.HTTPException) as error:
                if method in _IDEMPOTENT and attempt < self.retries:
                    attempt = self._pause(attempt)
                    continue
                reason = str(error) or type(error).__name__
                raise ClientError(
                    f"the request to {self.url}{path} failed: {reason}", code="NETWORK_ERROR"
                ) from error
            if status >= 500 and method in _IDEMPOTENT and attempt < self.retries:
                attempt = self._pause(attempt)
                continue
            return status, raw

    def _target(self, path: str, params: dict[str, Any] | None) -> str:
        target = self._prefix + quote(path, safe=_PATH_SAFE + "%")
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        return f"{target}?{urlencode(query, doseq=True)}" if query else target

    def _exchange(
        self, method: str, target: str, payload: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """One request and its whole answer on the kept-alive connection (opened
        here when there is none, or when the server closed the idle one)."""
        connection = self._connect()
        try:
            connection.request(method, target, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except BaseException:
            self._drop()
            raise
        if response.will_close:
            self._drop()
        return response.status, raw

    def _connect(self) -> http.client.HTTPConnection:
        connection = self._connection
        if connection is not None and connection.sock is not None:
            # Readable while idle means the server closed it (or sent junk): a
            # request sent there would be lost, so start afresh, as httpx does.
            readable, _, _ = select.select([connection.sock], [], [], 0)
            if not readable:
                return connection
            self._drop()
        if self._scheme not in _CONNECTIONS:
            raise ClientError(
                f"the server URL {self.url!r} must start with http:// or https://",
                code="INVALID_SERVER_URL",
            )
        try:
            connection = _CONNECTIONS[self._scheme](self._netloc, timeout=self.timeout)
        except http.client.InvalidURL as error:  # a port that is not a number
            raise _ConnectFailed() from error
        try:
            connection.connect()
        except (OSError, http.client.HTTPException) as error:
            # Refused, timed out, unknown host: nothing reached the server.
            connection.close()
            raise _ConnectFailed() from error
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _pause(self, attempt: int) -> int:
        time.sleep(self.backoff * (2**attempt))
        return attempt + 1

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.request("POST", path, body=body, headers=headers)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params)


def raise_for_error(path: str, status: int, body: Any) -> None:
    """Raise the ``ApiError`` of an answer that is not a success."""
    if 200 <= status < 300:
        return
    if isinstance(body, dict) and body.get("error") is True:
        raise ApiError(
            status, str(body.get("code")), str(body.get("message")), body.get("details"), path
        )
    raise ApiError(status, f"HTTP_{status}", f"the server answered {status} to {path}", None, path)


def decode_json(path: str, status: int, raw: bytes) -> Any:
    """An answer's JSON body, or its ``ApiError``."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    raise_for_error(path, status, body)
    return body


def _query_value(value: Any) -> Any:
    """Query values as the server reads them: booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return [_query_value(v) for v in value]
    return value
