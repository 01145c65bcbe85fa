"""The JSON store's journal: the write-ahead record of every committed group.

A group of transactions is committed by one append of one line to the journal:
the group's events and the new version of every entity it changed (or the
reference of one it deleted). Once that line is written (and, with
``MAESTRO_FSYNC=1``, fsynced) the group is durable and is answered. The entity
files and ``events.jsonl`` are brought up to date afterwards, in the
background, by a checkpoint (``store.checkpoint``); then the journal segments
the checkpoint covered are removed.

The journal is a folder of numbered segments (``journal/00000001.jsonl``, ...).
Appends go to the newest; a checkpoint starts by opening the next one, so it
covers exactly the segments before it. At start-up, the segments left by a
crash are replayed over the files in order: the lines are whole versions, so
replaying a line a checkpoint had already written changes nothing.

A line is written by a single ``write``: a crash can leave at most the last line
of the newest segment torn (no newline), and that group was never answered.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import msgspec

from maestro.domain.models import Approval, Project, Runner, Session, Task, Token
from maestro.store.files import fsync_fd, sync_directory, write_all

log = logging.getLogger("maestro.store")

SEGMENT_SUFFIX = ".jsonl"
EntityKind = Literal["project", "task", "session", "approval", "runner", "token"]


class EventLine(msgspec.Struct, rename="camel"):
    """One event as the journal and ``events.jsonl`` keep it."""

    seq: int
    project_id: str
    frame: str


class Removed(msgspec.Struct, rename="camel"):
    """An entity a group deleted: enough to find its file."""

    kind: EntityKind
    id: str
    project_id: str


class Entry(msgspec.Struct, omit_defaults=True):
    """One journal line, as read back: one committed group."""

    events: list[EventLine] = []
    projects: list[Project] = []
    tasks: list[Task] = []
    sessions: list[Session] = []
    approvals: list[Approval] = []
    runners: list[Runner] = []
    tokens: list[Token] = []
    removed: list[Removed] = []


class EncodedEntry(msgspec.Struct, omit_defaults=True):
    """One journal line, as written: the entities are already encoded (the same
    bytes then serve the checkpoint), so the line is spliced, not re-encoded."""

    events: list[msgspec.Raw] = []
    projects: list[msgspec.Raw] = []
    tasks: list[msgspec.Raw] = []
    sessions: list[msgspec.Raw] = []
    approvals: list[msgspec.Raw] = []
    runners: list[msgspec.Raw] = []
    tokens: list[msgspec.Raw] = []
    removed: list[Removed] = []


class Journal:
    """The segments on disk and the open newest one."""

    def __init__(self, folder: Path, fsync: bool = False) -> None:
        self.folder = folder
        self.fsync = fsync
        self._encoder = msgspec.json.Encoder()
        self._handle: int | None = None
        self._current: Path | None = None
        self.size = 0  # bytes in the open segment

    def segments(self) -> list[Path]:
        """The segments on disk, oldest first (the open one included)."""
        if not self.folder.is_dir():
            return []
        found = [p for p in self.folder.iterdir() if p.name.endswith(SEGMENT_SUFFIX)]
        return sorted(found, key=lambda p: p.name)

    def start(self) -> None:
        """Open a new newest segment for appends."""
        self.folder.mkdir(parents=True, exist_ok=True)
        existing = self.segments()
        number = int(existing[-1].name.removesuffix(SEGMENT_SUFFIX)) + 1 if existing else 1
        path = self.folder / f"{number:08d}{SEGMENT_SUFFIX}"
        handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        if self.fsync:
            sync_directory(self.folder)
        self.close()
        self._handle, self._current, self.size = handle, path, 0

    def rotate(self) -> list[Path]:
        """Start the next segment (unless the open one is still empty); return the
        ones before it, for a checkpoint to cover."""
        if self.size or self._handle is None:
            self.start()
        return [p for p in self.segments() if p != self._current]

    def line(self, entry: EncodedEntry) -> bytes:
        return self._encoder.encode(entry) + b"\n"

    def append(self, data: bytes) -> None:
        """Append one whole line, or nothing: a failed write is cut back."""
        if self._handle is None:  # the last segment could not be cut back
            self.start()
        assert self._handle is not None
        before = self.size
        try:
            write_all(self._handle, data)
        except OSError:
            self._cut(before)
            raise
        self.size = before + len(data)

    def _cut(self, length: int) -> None:
        assert self._handle is not None
        try:
            os.ftruncate(self._handle, length)
        except OSError as error:
            # Appending after a torn line would glue the next group onto it: the
            # next append opens a new segment instead (replay skips a torn end).
            log.critical("could not cut the journal back after a failed append: %s", error)
            self.close()
            return
        self.size = length

    def sync(self) -> None:
        assert self._handle is not None, "Journal.start() must run first"
        fsync_fd(self._handle, str(self._current))

    def close(self) -> None:
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None

    @staticmethod
    def read(segment: Path) -> Iterator[Entry]:
        """The groups of a segment, in order. A torn last line (a crash mid-append;
        never answered) is skipped; an unreadable whole line is an error."""
        decoder = msgspec.json.Decoder(Entry)
        data = segment.read_bytes()
        lines = data.split(b"\n")
        if lines and lines[-1]:
            log.warning("skipping a torn last line (%d bytes) of %s", len(lines[-1]), segment)
        for number, raw in enumerate(lines[:-1], start=1):
            try:
                yield decoder.decode(raw)
            except msgspec.MsgspecError as error:
                raise JournalCorrupt(f"{segment} line {number}: {error}") from None


class JournalCorrupt(ValueError):
    """A whole journal line that does not parse: the disk, or a hand, changed it."""
