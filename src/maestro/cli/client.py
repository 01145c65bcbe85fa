"""The one HTTP client every command and the runner use.

It knows the server's URL and token, retries what is safe to retry, and turns
every failure into a ``CliError`` whose message is one clear sentence and whose
``exit_code`` follows SPEC section 8: 1 general, 2 not found, 3 server
unreachable, 4 not allowed, 5 spawn failed.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

DEFAULT_SERVER_URL = "http://localhost:3000"
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
_SPAWN_CODES = frozenset(
    {"spawn_error", "missing_project_id", "invalid_task_ids", "task_not_found"}
)

EXIT_GENERAL = 1
EXIT_NOT_FOUND = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_ALLOWED = 4
EXIT_SPAWN_FAILED = 5


class CliError(Exception):
    """A failure to report to the user: one line, a code and an exit code."""

    def __init__(self, message: str, code: str = "ERROR", exit_code: int = EXIT_GENERAL) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.exit_code = exit_code


class ServerUnreachable(CliError):
    def __init__(self, url: str) -> None:
        super().__init__(
            f"cannot reach the Maestro server at {url}; is `maestro serve` running? "
            "(set MAESTRO_SERVER_URL or pass --server to point elsewhere)",
            code="SERVER_UNREACHABLE",
            exit_code=EXIT_UNREACHABLE,
        )


class ApiError(CliError):
    """The server answered with its documented error body."""

    def __init__(self, status: int, code: str, message: str, path: str = "") -> None:
        if status in (401, 403):
            exit_code = EXIT_NOT_ALLOWED
        elif code in _SPAWN_CODES or path.endswith("/spawn"):
            # Any refused spawn: the script's question is "did the worker start?"
            exit_code = EXIT_SPAWN_FAILED
        elif status == 404:
            exit_code = EXIT_NOT_FOUND
        else:
            exit_code = EXIT_GENERAL
        super().__init__(message, code=code, exit_code=exit_code)
        self.status = status


def server_url(explicit: str | None = None) -> str:
    return (explicit or os.environ.get("MAESTRO_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/")


class MaestroClient:
    """JSON over HTTP to one Maestro server.

    Retries with exponential backoff (``MAESTRO_RETRIES``, default 3): a refused
    connection for any method (nothing reached the server), and 5xx or other
    transport errors only for idempotent methods, so a retried POST can never
    create something twice.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        retries: int | None = None,
        timeout: float = 30.0,
        backoff: float = 0.2,
    ) -> None:
        self.url = server_url(url)
        token = token if token is not None else os.environ.get("MAESTRO_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if retries is None:
            raw = os.environ.get("MAESTRO_RETRIES", "3")
            retries = int(raw) if raw.isdigit() else 3
        self.retries = retries
        self.backoff = backoff
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MaestroClient:
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
        """Send one request; return the decoded JSON body or raise ``CliError``."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, path, json=body, params=query, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                if attempt < self.retries:
                    attempt = self._pause(attempt)
                    continue
                raise ServerUnreachable(self.url) from error
            except httpx.TransportError as error:
                if method in _IDEMPOTENT and attempt < self.retries:
                    attempt = self._pause(attempt)
                    continue
                raise CliError(
                    f"the request to {self.url}{path} failed: {error}", code="NETWORK_ERROR"
                ) from error
            if response.status_code >= 500 and method in _IDEMPOTENT and attempt < self.retries:
                attempt = self._pause(attempt)
                continue
            return self._decode(response, path)

    def _pause(self, attempt: int) -> int:
        time.sleep(self.backoff * (2**attempt))
        return attempt + 1

    @staticmethod
    def _decode(response: httpx.Response, path: str) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success:
            return body
        if isinstance(body, dict) and body.get("error") is True:
            raise ApiError(
                response.status_code, str(body.get("code")), str(body.get("message")), path
            )
        raise ApiError(
            response.status_code,
            f"HTTP_{response.status_code}",
            f"the server answered {response.status_code} to {path}",
            path,
        )

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
