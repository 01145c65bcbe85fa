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
from collections.abc import Iterable
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

    def append(self, events: Iterable[StoredEvent]) -> None:
        """Persist a committed batch, then keep it in the in-memory tail."""
        batch = list(events)
        if not batch:
            return
        data = b"".join(
            self._encoder.encode(_LogLine(e.seq, e.project_id, e.frame)) + b"\n" for e in batch
        )
        assert self._handle is not None, "EventLog.load() must run first"
        write_all(self._handle, data)
        if self.fsync:
            os.fsync(self._handle)
        self.tail.extend(batch)
        self.last_seq = batch[-1].seq
        self._lines_in_file += len(batch)
        if self._lines_in_file >= 2 * self.retain:
            self._compact()

    def _compact(self) -> None:
        data = b"".join(
            self._encoder.encode(_LogLine(e.seq, e.project_id, e.frame)) + b"\n" for e in self.tail
        )
        write_atomically(self.path, data, fsync=self.fsync)
        self.close()
        self._handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lines_in_file = len(self.tail)

    def close(self) -> None:
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None
