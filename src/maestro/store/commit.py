"""Writing committed transactions to disk, all or nothing, in groups.

Transactions are prepared one at a time (under the store's write lock) and
queued here. One committer takes every transaction waiting at that moment as a
group and writes it off the event loop, in this order:

1. the new version of each dirty entity file to a temp file beside it (a file
   changed by several transactions of the group is written once, in its last
   version);
2. the group's events to the event log, in one append: the record of what was
   committed;
3. the temp files renamed over their targets, deleted entities unlinked;
4. with ``MAESTRO_FSYNC=1``, fsyncs: the temp files before their rename, the
   event log after its append, and every touched folder at the end.

Only then does the store publish the group to memory and to subscribers, and
every transaction in it gets its answer. If any step fails, what was written is
undone (temp files removed, the event log cut back to its length before, renamed
files put back to their previous version) and every transaction of the group,
and those queued behind it (they were prepared on top of it), fail with the
error: nothing of them reaches memory, subscribers or, after a restart, the
disk. A failed fsync is different: the kernel may have dropped the data it could
not write, so nothing the disk promised can be trusted any more, and the process
stops (``FsyncFailed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from maestro.store.files import sync_directory, write_atomically, write_temp

log = logging.getLogger("maestro.store")

T = TypeVar("T")


class FsyncFailed(OSError):
    """An fsync failed: what was written may be lost without a trace."""


@dataclass
class FileChange:
    """One file's new content (``None``: delete it), and how to make its content
    before (``None``: it did not exist), to put it back if the group fails."""

    path: Path
    data: bytes | None
    before: Callable[[], bytes | None]


@dataclass
class WriteGroup:
    """Everything one flush writes."""

    files: list[FileChange] = field(default_factory=list)
    log_lines: bytes = b""
    removed_dirs: list[Path] = field(default_factory=list)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync(action: Callable[[], None], what: str) -> None:
    try:
        action()
    except OSError as error:
        raise FsyncFailed(error.errno, f"fsync of {what} failed: {error.strerror}") from error


@dataclass
class DiskWriter:
    """Writes one ``WriteGroup`` all or nothing (runs in a worker thread)."""

    append_log: Callable[[bytes], int]
    """Appends to the event log; returns its length before, for ``cut_log``."""
    cut_log: Callable[[int], None]
    sync_log: Callable[[], None]
    fsync: bool = False

    def write(self, group: WriteGroup) -> None:
        temps: list[tuple[Path, FileChange]] = []
        log_length: int | None = None
        renamed: list[FileChange] = []
        try:
            for change in group.files:
                if change.data is not None:
                    temps.append((write_temp(change.path, change.data), change))
            if self.fsync:
                for temp, _ in temps:
                    _fsync(lambda t=temp: _fsync_file(t), str(temp))  # type: ignore[misc]
            if group.log_lines:
                log_length = self.append_log(group.log_lines)
                if self.fsync:
                    _fsync(self.sync_log, "the event log")
            for change in group.files:
                if change.data is None:
                    change.path.unlink(missing_ok=True)
                    renamed.append(change)
            for temp, change in temps:
                os.replace(temp, change.path)
                renamed.append(change)
        except FsyncFailed:
            raise
        except BaseException:
            self._undo(temps, log_length, renamed)
            raise
        for folder in group.removed_dirs:
            # Not empty or already gone: either way nothing of ours is left in it.
            with contextlib.suppress(OSError):
                folder.rmdir()
        if self.fsync:
            for folder in {c.path.parent for c in group.files}:
                _fsync(lambda f=folder: sync_directory(f), str(folder))  # type: ignore[misc]

    def _undo(
        self,
        temps: list[tuple[Path, FileChange]],
        log_length: int | None,
        renamed: list[FileChange],
    ) -> None:
        """Put the disk back as it was before the group. A step of the undo that
        fails too is logged; the error that started it is what the caller sees."""
        for temp, _ in temps:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
        if log_length is not None:
            try:
                self.cut_log(log_length)
            except OSError as error:
                log.critical("could not cut the event log back after a failed write: %s", error)
        for change in renamed:
            try:
                before = change.before()
                if before is None:
                    change.path.unlink(missing_ok=True)
                else:
                    write_atomically(change.path, before, fsync=self.fsync)
            except OSError as error:
                log.critical("could not put %s back after a failed write: %s", change.path, error)


@dataclass
class _Queued(Generic[T]):
    item: T
    done: asyncio.Future[None]


class GroupCommitter(Generic[T]):
    """Takes the prepared transactions waiting at each moment as one group, has
    ``flush`` write it (off the event loop), and answers all of them together.

    ``flush(items)`` writes and publishes a group, raising on failure;
    ``discard(error)`` forgets everything prepared but not written (called after
    a failure, with the queue emptied: those transactions fail too).
    """

    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[None]],
        discard: Callable[[BaseException], None],
    ) -> None:
        self._flush = flush
        self._discard = discard
        self._queue: list[_Queued[T]] = []
        self._in_flight: list[_Queued[T]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def submit(self, item: T) -> asyncio.Future[None]:
        """Queue a prepared transaction; the future resolves once it is on disk
        and published, or fails with the error that stopped its group."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="maestro-committer")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(item, done))
        self._wake.set()
        return done

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            group, self._queue = self._queue, []
            if not group:
                continue
            self._in_flight = group
            try:
                await self._flush([queued.item for queued in group])
            except asyncio.CancelledError:
                self._fail(group, ConnectionAbortedError("the store is closing"))
                raise
            except BaseException as error:
                # Those queued meanwhile were prepared on top of the failed group.
                failed, self._queue = group + self._queue, []
                self._discard(error)
                self._fail(failed, error)
                self._in_flight = []
                continue
            for queued in group:
                if not queued.done.done():
                    queued.done.set_result(None)
            self._in_flight = []

    @staticmethod
    def _fail(group: list[_Queued[T]], error: BaseException) -> None:
        for queued in group:
            if not queued.done.done():
                queued.done.set_exception(error)

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        while waiting := [q.done for q in (*self._in_flight, *self._queue)]:
            await asyncio.gather(*waiting, return_exceptions=True)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
