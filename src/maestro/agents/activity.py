"""What the agent is doing, live on the board: its transcript lines (one per
assistant message line or tool call) forwarded to the session's activity log
(``POST /api/sessions/{id}/activity``).

Forwarding never slows the agent: lines are queued (bounded: when the server is
slow or away, the oldest are dropped, and the count of dropped lines is sent
with the next batch) and a thread sends them in batches, at most one request
every ``INTERVAL_SECONDS`` unless a full batch waits, so a chatty agent costs
the server a few requests a second. The activity log is a view; the full
transcript stays in the session's ``output.log``.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

from maestro.client import HttpClient, api_path

BATCH_LIMIT = 100
"""Entries per request (the server takes at most 200)."""
PENDING_LIMIT = 1000
INTERVAL_SECONDS = 0.25
TEXT_LIMIT = 1000
"""Characters per entry (the server keeps up to 2,000)."""
CLOSE_SECONDS = 5.0


def kind_of(line: str) -> str | None:
    """What a transcript line is (``agents.transcript`` draws them): a tool call
    (``→``), the agent's status (``●``, and the indented details under it, such
    as the usage after the result), or assistant text; tool results (``←``, and
    ``✗`` for a failed one) are left to ``output.log``."""
    stripped = line.lstrip()
    if not stripped or stripped.startswith(("←", "✗")):
        return None
    if stripped.startswith("→"):
        return "tool"
    if stripped.startswith("●") or line.startswith("  "):
        return "status"
    return "assistant"


class ActivityForwarder:
    """Batches transcript lines to the server from a thread of its own."""

    def __init__(self, client: HttpClient, session_id: str) -> None:
        self.client = client
        self.path = api_path("sessions", session_id, "activity")
        self.pending: collections.deque[dict[str, str]] = collections.deque()
        self.dropped = 0
        self.sent = 0
        self.batches = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="activity", daemon=True)

    def __enter__(self) -> ActivityForwarder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, lines: list[str]) -> None:
        """Queue transcript lines; never blocks on the network."""
        entries = [
            {"kind": kind, "text": line.strip()[:TEXT_LIMIT]}
            for line in lines
            if (kind := kind_of(line)) is not None
        ]
        if not entries:
            return
        with self._lock:
            self.pending.extend(entries)
            while len(self.pending) > PENDING_LIMIT:
                self.pending.popleft()
                self.dropped += 1
        self._wake.set()

    def close(self) -> None:
        """Send what is queued (for a few seconds at most), then stop."""
        self._closing.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=CLOSE_SECONDS)
        self.client.close()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            closing = self._closing.is_set()
            # One request per interval, unless a full batch waits; when closing,
            # everything (while the server takes it).
            while self._send_batch() and (closing or len(self.pending) >= BATCH_LIMIT):
                pass
            if closing:
                return
            # Let the next lines gather into one batch; closing cuts this short.
            self._closing.wait(INTERVAL_SECONDS)

    def _send_batch(self) -> bool:
        """Send up to one batch; True if one was sent."""
        with self._lock:
            if not self.pending:
                return False
            batch = [self.pending.popleft() for _ in range(min(BATCH_LIMIT, len(self.pending)))]
            dropped, self.dropped = self.dropped, 0
        body: dict[str, Any] = {"entries": batch}
        if dropped:
            body["dropped"] = dropped
        try:
            self.client.request("POST", self.path, body=body)
        except Exception:  # ClientError, or anything else: never the agent's problem
            # The board misses these lines (output.log has them); the agent goes on.
            with self._lock:
                self.dropped += len(batch) + dropped
            return False
        self.sent += len(batch)
        self.batches += 1
        return True
