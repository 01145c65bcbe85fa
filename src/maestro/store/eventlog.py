"""The JSON store's event log: an append-only file of the last events, so that
``seq`` keeps counting and ``?since=`` replay works across restarts.

Each line is ``{"seq", "projectId", "frame"}``. Events reach it with the
checkpoint that writes their group's entity files (until then the journal holds
them, ``store.journal``). The file is rewritten (atomically) down to the
retained tail when it has grown to twice the retention, so its size stays
bounded. A torn last line from a crash is skipped on load.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec

from maestro.domain.events import StoredEvent
from maestro.store.files import fsync_fd, write_all, write_atomically
from maestro.store.journal import EventLine

log = logging.getLogger("maestro.store")


class EventLog:
    """Bounded tail of the global event stream: in memory as committed (``tail``,
    ``record``), and in the file as checkpointed (``save``)."""

    def __init__(self, path: Path, retain: int, fsync: bool = False) -> None:
        self.path = path
        self.retain = retain
        self.fsync = fsync
        self.tail: deque[StoredEvent] = deque(maxlen=retain)
        self.last_seq = 0
        self.saved_seq = 0  # the last seq in the file
        # The lines the file holds (their last ``retain``), touched only by ``save``
        # (the checkpoint's thread): compaction joins them, it does not re-encode.
        self._saved: deque[bytes] = deque(maxlen=retain)
        self._lines_in_file = 0
        self._encoder = msgspec.json.Encoder()
        self._handle: int | None = None

    def load(self) -> None:
        """Read the retained tail; unparsable lines (a torn write) are skipped."""
        decoder = msgspec.json.Decoder(EventLine)
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
                        self._saved.append(raw if raw.endswith(b"\n") else raw + b"\n")
        self.saved_seq = self.last_seq
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

    def line(self, event: StoredEvent) -> bytes:
        """The event's line in the file (with its newline)."""
        return self._encoder.encode(EventLine(event.seq, event.project_id, event.frame)) + b"\n"

    def record(self, events: Sequence[StoredEvent]) -> None:
        """Keep a committed batch in the in-memory tail (the file follows at the
        next checkpoint)."""
        if events:
            self.tail.extend(events)
            self.last_seq = events[-1].seq

    def save(self, lines: Sequence[tuple[int, bytes]]) -> None:
        """Append the lines (``(seq, line)``, from ``line``) not yet in the file (a
        retried checkpoint may pass some again), then compact if the file has
        grown to twice the retention. With fsync, the file is synced before this
        returns."""
        assert self._handle is not None, "EventLog.load() must run first"
        fresh = [line for seq, line in lines if seq > self.saved_seq]
        if not fresh:
            return
        write_all(self._handle, b"".join(fresh))
        if self.fsync:
            fsync_fd(self._handle, str(self.path))
        self.saved_seq = lines[-1][0]
        self._saved.extend(fresh)
        self._lines_in_file += len(fresh)
        if self._lines_in_file >= 2 * self.retain:
            try:
                self._compact()
            except OSError as error:  # the file keeps growing; nothing is lost
                log.warning("could not compact the event log: %s", error)

    def append(self, events: Iterable[StoredEvent]) -> None:
        """Record and save a batch at once (imports)."""
        batch = list(events)
        self.record(batch)
        self.save([(event.seq, self.line(event)) for event in batch])

    def _compact(self) -> None:
        """Rewrite the file down to the retained tail (atomically)."""
        write_atomically(self.path, b"".join(self._saved), fsync=self.fsync)
        self.close()
        self._handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lines_in_file = len(self._saved)

    def close(self) -> None:
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None
