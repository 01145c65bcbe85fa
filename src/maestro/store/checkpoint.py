"""Bringing the JSON files up to date with the journal (``store.journal``).

A checkpoint takes every entity changed since the last one, in its latest
version, and writes it once: a temp file beside it renamed over it (a deleted
entity's file is unlinked), then the events to ``events.jsonl``; with
``MAESTRO_FSYNC=1`` the temp files, the event log and every touched folder are
fsynced. Only then are the journal segments it covers removed. It runs in a
worker thread, off the event loop and off the path of any request: a request was
answered when its journal line was written.

A checkpoint that fails (a full disk, say) changes nothing that matters: the
journal segments stay, so the same versions are written by the next attempt,
or replayed at start-up. A failed fsync is different (``FsyncFailed``): the
kernel may have dropped data it could not write, so the process stops.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from maestro.store.eventlog import EventLog
from maestro.store.files import replace_or_remove, sync_directory, write_temp


class FileChange(msgspec.Struct, frozen=True, gc=False):
    """One entity file's new content, encoded compactly (the file gets it
    indented, as the seed wrote it); ``None`` deletes the file.

    Thousands of these wait while a checkpoint runs: a string path and
    ``gc=False`` keep them out of the cycle collector's walks (as dataclasses
    with ``Path``s, they made each of its full passes take 50 ms).
    """

    path: str
    data: bytes | None


@dataclass
class Checkpoint:
    """Everything one checkpoint writes, prepared on the event loop."""

    files: list[FileChange] = field(default_factory=list)
    events: Sequence[tuple[int, bytes]] = ()
    """``(seq, line)`` of the events to append to ``events.jsonl``."""
    removed_dirs: list[Path] = field(default_factory=list)
    segments: list[Path] = field(default_factory=list)
    """The journal segments it covers, removed once the rest is on disk."""


def write_checkpoint(checkpoint: Checkpoint, events: EventLog, fsync: bool) -> None:
    """Write ``checkpoint`` (in a worker thread). Raises on the first failure,
    leaving no temp file behind; the journal segments are then left in place."""
    for change in checkpoint.files:
        if change.data is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(change.path)
            continue
        readable = msgspec.json.format(change.data, indent=2) + b"\n"
        temp = write_temp(change.path, readable, fsync=fsync)
        replace_or_remove(temp, change.path)
    events.save(checkpoint.events)
    for folder in checkpoint.removed_dirs:
        # Not empty or already gone: either way nothing of ours is left in it.
        with contextlib.suppress(OSError):
            folder.rmdir()
    if fsync:
        for folder_name in {os.path.dirname(change.path) for change in checkpoint.files}:
            _sync_folder(Path(folder_name))
    for segment in checkpoint.segments:
        segment.unlink(missing_ok=True)
    if fsync and checkpoint.segments:
        _sync_folder(checkpoint.segments[0].parent)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(FileNotFoundError):  # a task folder, gone with its project
        sync_directory(folder)
