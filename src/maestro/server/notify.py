"""Outbound notifications for people away from the board: ``MAESTRO_NOTIFY_URL``.

A webhook: one JSON ``POST`` when an approval is filed and when a session
completes or fails. The body carries a one-line ``text`` (what chat webhooks,
Slack's and others', show), the ``event`` name, and the approval or session.

Never in a request's way: the store's event listener only queues (a bounded
queue; when it is full the oldest notification is dropped and logged), and one
background task sends, with a timeout per attempt and a few retries with
backoff on network errors and 5xx answers (a 4xx is not retried: the receiver
refused it). Sending uses the standard library in a worker thread: a few lines
do not justify an HTTP client dependency in the server.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from maestro.domain.events import APPROVAL_CREATED, SESSION_UPDATED, StoredEvent
from maestro.domain.vocabulary import FINISHED_SESSION_STATUSES

log = logging.getLogger("maestro.notify")

QUEUE_LIMIT = 1000
ATTEMPTS = 4
TIMEOUT_SECONDS = 5.0
FIRST_BACKOFF_SECONDS = 0.5
_MARKERS = (f'"{APPROVAL_CREATED}"', f'"{SESSION_UPDATED}"')
REMEMBERED_SESSIONS = 10_000
"""Finished sessions already notified (a finished session is updated again when
its usage lands; it is told once)."""


@dataclass(frozen=True)
class Notification:
    event: str
    text: str
    data: dict[str, Any]

    def body(self) -> bytes:
        key = "approval" if self.event.startswith("approval") else "session"
        return json.dumps({"event": self.event, "text": self.text, key: self.data}).encode()


def notification_of(event_type: str, data: dict[str, Any]) -> Notification | None:
    """What to tell about one committed event, if anything (finished sessions are
    filtered further by ``Notifier``)."""
    if event_type == APPROVAL_CREATED:
        target = _target(data.get("input"))
        return Notification(
            "approval.created",
            f"Maestro: session {data.get('sessionId')} asks to use {data.get('tool')}"
            f"{': ' + target if target else ''} (approval {data.get('id')})",
            data,
        )
    if event_type == SESSION_UPDATED and data.get("status") in FINISHED_SESSION_STATUSES:
        status = str(data["status"])
        return Notification(
            f"session.{status}",
            f"Maestro: session {data.get('id')} ({data.get('name') or 'unnamed'}) {status}",
            data,
        )
    return None


def _target(tool_input: Any) -> str:
    if isinstance(tool_input, dict):
        for key in ("command", "file_path", "url"):
            if isinstance(tool_input.get(key), str):
                return str(tool_input[key])[:300]
    return ""


class Notifier:
    """Queues notifications from committed events and sends them, in order."""

    def __init__(self, url: str, started_at_ms: int | None = None) -> None:
        self.url = url
        self.started_at_ms = int(time.time() * 1000) if started_at_ms is None else started_at_ms
        self.queue: collections.deque[Notification] = collections.deque()
        self.sent = 0
        self.failed = 0
        self._wake = asyncio.Event()
        self._told: collections.OrderedDict[str, None] = collections.OrderedDict()

    def listener(self, events: Sequence[StoredEvent]) -> None:
        """The store's event listener: picks what to tell and queues it; no I/O."""
        for event in events:
            # A cheap look first: most events are neither (the match may also be
            # in the data, so the parsed name decides).
            if not any(marker in event.frame for marker in _MARKERS):
                continue
            message = json.loads(event.frame)
            notification = notification_of(message["event"], message["data"])
            if notification is None or not self._first_time(notification):
                continue
            if len(self.queue) >= QUEUE_LIMIT:
                dropped = self.queue.popleft()
                log.warning("notification queue full; dropped %s", dropped.event)
            self.queue.append(notification)
            self._wake.set()

    def _first_time(self, notification: Notification) -> bool:
        """A session is told about once, and only if it finished while this server
        ran (not when an old finished session is touched again)."""
        if not notification.event.startswith("session."):
            return True
        session_id = str(notification.data.get("id"))
        completed = notification.data.get("completedAt") or 0
        if session_id in self._told or completed < self.started_at_ms:
            return False
        self._told[session_id] = None
        if len(self._told) > REMEMBERED_SESSIONS:
            self._told.popitem(last=False)
        return True

    async def run(self) -> None:
        """Send queued notifications until cancelled."""
        while True:
            while not self.queue:
                self._wake.clear()
                await self._wake.wait()
            notification = self.queue.popleft()
            if await self._send(notification):
                self.sent += 1
            else:
                self.failed += 1

    async def _send(self, notification: Notification) -> bool:
        backoff = FIRST_BACKOFF_SECONDS
        for attempt in range(1, ATTEMPTS + 1):
            try:
                status = await asyncio.to_thread(_post, self.url, notification.body())
            except (OSError, ValueError) as error:
                reason = str(error)
            else:
                if status < 500:
                    if status >= 400:
                        log.warning(
                            "notify: the webhook refused %s (%d)", notification.event, status
                        )
                    return status < 400
                reason = f"HTTP {status}"
            if attempt < ATTEMPTS:
                await asyncio.sleep(backoff)
                backoff *= 2
        log.warning(
            "notify: could not deliver %s after %d attempts (%s)",
            notification.event,
            ATTEMPTS,
            reason,
        )
        return False


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "maestro-notify"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
