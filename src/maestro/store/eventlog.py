"""The JSON store's event log: an append-only file of the last events, so that
``seq`` keeps counting and ``?since=`` replay works across restarts.

Each line is ``{"seq", "projectId", "frame"}``. The file is rewritten (atomically)
down to the retained tail when it has grown to twice the retention, so its size
stays bounded. A torn last line from a crash is skipped on load.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec

from maestro.domain.events import StoredEvent
from maestro.store.files import write_all, write_atomically

log = logging.getLogger("maestro.store")


class _LogLine(msgspec.Struct, rename="camel"):
    seq: int
    project_id: str
    frame: str


class EventLog:
    """Bounded, persisted tail of the global event stream."""

    def __init__(self, path: Path, retain: int, fsync: bool = False) -> None:
        self.path = path
        self.retain = retain
        self.fsync = fsync
        self.tail: deque[StoredEvent] = deque(maxlen=retain)
        self.last_seq = 0
        self._lines_in_file = 0
        self._encoder = msgspec.json.Encoder()
        self._handle: int | None = None

    def load(self) -> None:
        """Read the retained tail; unparsable lines (a torn write) are skipped."""
        decoder = msgspec.json.Decoder(_LogLine)
        self._cut_torn_tail()
        if self.path.exists():
            with self.path.open("rb") as lines:
                for raw in lines:
                    self._lines_in_file += 1
                    try:
                        line = decoder.decode(raw)
                    except msgspec.MsgspecError:
                        log.warning("skipping an unreadable line in %s", self.path)
                        continue
                    if line.seq > self.last_seq:
                        self.last_seq = line.seq
                        self.tail.append(StoredEvent(line.seq, line.project_id, line.frame))
        self._handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _cut_torn_tail(self) -> None:
        """A crash mid-append can leave a last line without its newline; appending
        after it would glue the next event onto the torn one and lose both. Cut
        the file back to its last complete line (that event was never acknowledged)."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            log.warning("cutting a torn last line (%d bytes) from %s", len(data) - keep, self.path)
            with self.path.open("r+b") as file:
                file.truncate(keep)

    def lines(self, events: Iterable[StoredEvent]) -> bytes:
        """The log lines of ``events``, ready for ``write``."""
        return b"".join(
            self._encoder.encode(_LogLine(e.seq, e.project_id, e.frame)) + b"\n" for e in events
        )

    def write(self, data: bytes) -> int:
        """Append ``data`` (whole lines); return the file's length before, for ``cut``.
        May run in a worker thread: it touches the file only."""
        assert self._handle is not None, "EventLog.load() must run first"
        before = os.lseek(self._handle, 0, os.SEEK_END)
        write_all(self._handle, data)
        return before

    def cut(self, length: int) -> None:
        """Undo a ``write``: cut the file back to ``length`` bytes."""
        assert self._handle is not None, "EventLog.load() must run first"
        os.ftruncate(self._handle, length)

    def sync(self) -> None:
        assert self._handle is not None, "EventLog.load() must run first"
        os.fsync(self._handle)

    def record(self, events: Sequence[StoredEvent]) -> None:
        """Keep a batch that is on disk in the in-memory tail."""
        if not events:
            return
        self.tail.extend(events)
        self.last_seq = events[-1].seq
        self._lines_in_file += len(events)

    @property
    def needs_compaction(self) -> bool:
        return self._lines_in_file >= 2 * self.retain

    def append(self, events: Iterable[StoredEvent]) -> None:
        """Write and record a batch at once (start-up repairs, imports)."""
        batch = list(events)
        if not batch:
            return
        self.write(self.lines(batch))
        if self.fsync:
            self.sync()
        self.record(batch)
        if self.needs_compaction:
            self.compact()

    def compact(self) -> None:
        """Rewrite the file down to the retained tail (atomically)."""
        data = self.lines(self.tail)
        write_atomically(self.path, data, fsync=self.fsync)
        self.close()
        self._handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lines_in_file = len(self.tail)

    def close(self) -> None:
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None
