"""``ActivityLog``: each session's live activity, kept in this server's memory.

Per session, a ring of its last entries (1,000), numbered from 1 in the order
they arrived. Activity is a view of the agent's transcript (the transcript
itself stays in the session's ``output.log`` on the agent's machine), so it is
never written to the store: it does not survive a restart, and each server
instance on one PostgreSQL database keeps the entries that were posted to it.

Memory is bounded three ways: entries per session, sessions (the log written to
least recently goes first), and the size of all logs together (again the least
recently written logs go first). A session's log goes when the session is
deleted (``on_events`` is a store subscriber).

Each batch recorded is also sent, as one ``session:activity`` frame, to the
WebSocket clients watching the session (``EventHub.publish_activity``).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from itertools import islice

import msgspec

from maestro.domain import events as ev
from maestro.domain.activity import (
    ActivityEntry,
    ActivityPage,
    ActivityPost,
    activity_frame,
    dropped_line,
)
from maestro.domain.clock import now_ms
from maestro.domain.events import StoredEvent
from maestro.server.hub import EventHub

ENTRIES_PER_SESSION = 1000
SESSIONS = 1000
MEMORY = 64 * 1024 * 1024
"""Bytes all logs may take together, roughly (``_size``): 1,000 full logs would
take 2 GiB with 2,000-character entries, 200 MiB with short ones."""
ENTRY_OVERHEAD = 150
"""Bytes an entry takes besides its text's characters (measured: about 140)."""


def _size(entry: ActivityEntry) -> int:
    return ENTRY_OVERHEAD + len(entry.text)


class _Log:
    """One session's ring."""

    __slots__ = ("entries", "next", "size")

    def __init__(self) -> None:
        self.entries: deque[ActivityEntry] = deque()
        self.next = 1
        self.size = 0


class _Deleted(msgspec.Struct):
    id: str


class _DeletedFrame(msgspec.Struct):
    data: _Deleted


_deleted = msgspec.json.Decoder(_DeletedFrame)
# What a session:deleted frame starts with (``WireMessage`` encodes ``type`` first).
_SESSION_DELETED = f'{{"type":"{ev.SESSION_DELETED}"'


class ActivityLog:
    """The sessions' rings, least recently written first, within their bounds."""

    def __init__(
        self,
        hub: EventHub,
        entries_per_session: int = ENTRIES_PER_SESSION,
        sessions: int = SESSIONS,
        memory: int = MEMORY,
    ) -> None:
        self.hub = hub
        self.entries_per_session = entries_per_session
        self.sessions = sessions
        self.memory = memory
        self.size = 0
        # Least recently written first.
        self._logs: OrderedDict[str, _Log] = OrderedDict()

    def has(self, session_id: str) -> bool:
        """Whether the session has a log here. It then exists: its log would have
        gone with it (so a known session costs no store read)."""
        return session_id in self._logs

    def record(self, session_id: str, post: ActivityPost) -> int:
        """Add a batch (led by a line standing for what the agent's side dropped,
        if it did), tell the session's watchers; return the next index."""
        log = self._logs.get(session_id)
        if log is None:
            log = self._logs[session_id] = _Log()
        else:
            self._logs.move_to_end(session_id)
        lines = [dropped_line(post.dropped), *post.entries] if post.dropped else post.entries
        at = now_ms()
        added = [
            ActivityEntry(index, at, line.kind, line.text)
            for index, line in enumerate(lines, start=log.next)
        ]
        log.next += len(added)
        log.entries.extend(added)
        size = sum(map(_size, added))
        log.size += size
        self.size += size
        while len(log.entries) > self.entries_per_session:
            size = _size(log.entries.popleft())
            log.size -= size
            self.size -= size
        self._evict()
        if self.hub.watching(session_id):
            self.hub.publish_activity(session_id, activity_frame(session_id, added))
        return log.next

    def page(self, session_id: str, since: int) -> ActivityPage:
        """The kept entries with an index above ``since``, oldest first."""
        log = self._logs.get(session_id)
        if log is None:
            return ActivityPage(session_id, [], 1)
        first = log.next - len(log.entries)  # the index of the oldest kept entry
        start = max(0, since - first + 1)
        return ActivityPage(session_id, list(islice(log.entries, start, None)), log.next)

    def forget(self, session_id: str) -> None:
        log = self._logs.pop(session_id, None)
        if log is not None:
            self.size -= log.size

    def on_events(self, events: Sequence[StoredEvent]) -> None:
        """Store subscriber: a deleted session's log goes with it."""
        if not self._logs:
            return
        for event in events:
            if event.frame.startswith(_SESSION_DELETED):
                self.forget(_deleted.decode(event.frame).data.id)

    def __len__(self) -> int:
        return len(self._logs)

    def _evict(self) -> None:
        """Drop the least recently written logs while over the session or the
        memory budget; never the one just written (it is the last, and one log
        alone cannot reach the memory budget)."""
        while len(self._logs) > self.sessions or (self.size > self.memory and len(self._logs) > 1):
            self.forget(next(iter(self._logs)))
