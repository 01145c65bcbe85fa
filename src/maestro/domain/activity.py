"""A session's live activity: what its agent is doing, one entry per assistant
message line or tool call, as the agent's side forwards it
(``POST /api/sessions/{id}/activity``) and clients read it (``GET`` and the
``session:activity`` frames of a WebSocket subscribed with ``?sessionId=``).

Activity is a view, not an entity: the server keeps the last entries of each
session in memory (``server.activity``), never in the store, and its frames are
outside the event stream's global order (no ``seq``, no replay).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from maestro.domain.clock import now_ms
from maestro.domain.events import SESSION_ACTIVITY

ActivityKind = Literal["assistant", "tool", "status"]

TEXT_LIMIT = 2000
"""Characters of one entry's text."""
LINES_PER_POST = 200
"""Entries one ``POST`` may carry."""


class ActivityLine(msgspec.Struct, kw_only=True):
    """One line the agent's side sends."""

    kind: ActivityKind
    text: Annotated[str, msgspec.Meta(max_length=TEXT_LIMIT)]


class ActivityPost(msgspec.Struct, kw_only=True):
    """``POST /api/sessions/{id}/activity``: lines in the order they were shown,
    and how many lines before them the agent's side could not send."""

    entries: Annotated[list[ActivityLine], msgspec.Meta(min_length=1, max_length=LINES_PER_POST)]
    dropped: Annotated[int, msgspec.Meta(ge=0)] = 0


class ActivityEntry(msgspec.Struct, frozen=True, gc=False):
    """A line as the server keeps it: its place in the session's log (from 1) and
    when the server received it (ms). Thousands are kept and never form a cycle,
    hence ``gc=False``."""

    index: int
    at: int
    kind: ActivityKind
    text: str


class ActivityAccepted(msgspec.Struct):
    """The answer to a ``POST``: the index the next entry will get."""

    next: int


class ActivityPage(msgspec.Struct, rename="camel"):
    """``GET /api/sessions/{id}/activity?since=N``: the kept entries after N,
    oldest first, and the index the next entry will get (the next ``since`` is
    ``next - 1``)."""

    session_id: str
    entries: list[ActivityEntry]
    next: int


class ActivityBatch(msgspec.Struct, rename="camel"):
    """A ``session:activity`` frame's data: the entries one ``POST`` added."""

    session_id: str
    entries: list[ActivityEntry]


class ActivityMessage(msgspec.Struct):
    """A ``session:activity`` frame: an event's shape without ``seq``, since it has
    no place in the global order."""

    type: str
    event: str
    data: ActivityBatch
    timestamp: int


_encoder = msgspec.json.Encoder()


def activity_frame(session_id: str, entries: list[ActivityEntry]) -> str:
    """The WebSocket text frame announcing ``entries`` of the session."""
    message = ActivityMessage(
        SESSION_ACTIVITY, SESSION_ACTIVITY, ActivityBatch(session_id, entries), now_ms()
    )
    return _encoder.encode(message).decode()


def dropped_line(count: int) -> ActivityLine:
    """The entry standing for lines the agent's side could not send."""
    return ActivityLine(
        kind="status", text=f"({count} {'line' if count == 1 else 'lines'} not forwarded)"
    )
