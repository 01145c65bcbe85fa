"""Making a transaction's files and events durable, in order.

A transaction's changes become a ``CommitBatch``: temp files already written
next to their targets, renames and unlinks still to do, and the events with their
``seq``. ``apply`` does the renames/unlinks and hands the events on.

With ``MAESTRO_FSYNC=1`` the ``GroupCommitter`` does that in the background,
after fsyncing every temp file, then every touched folder and the event log, so
that a 2xx survives a power loss. Transactions committing while an fsync runs
queue up and share the next one: concurrent writers pay for one round of fsyncs
together instead of one each (group commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from maestro.domain.events import StoredEvent
from maestro.store.files import sync_directory


@dataclass
class CommitBatch:
    renames: list[tuple[Path, Path]] = field(default_factory=list)  # temp -> target
    unlinks: list[Path] = field(default_factory=list)
    removed_dirs: list[Path] = field(default_factory=list)
    events: list[StoredEvent] = field(default_factory=list)

    def apply(self) -> None:
        """Put the files in place (each rename is atomic)."""
        for temp, target in self.renames:
            os.replace(temp, target)
        for path in self.unlinks:
            path.unlink(missing_ok=True)
        for folder in self.removed_dirs:
            # Not empty or already gone: either way nothing of ours is left in it.
            with contextlib.suppress(OSError):
                folder.rmdir()

    def sync_files(self) -> None:
        for temp, _ in self.renames:
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def folders(self) -> set[Path]:
        return {target.parent for _, target in self.renames} | {p.parent for p in self.unlinks}


class GroupCommitter:
    """Background fsync of committed batches, in commit order."""

    def __init__(
        self,
        append_events: Callable[[Sequence[StoredEvent]], None],
        publish: Callable[[Sequence[StoredEvent]], None],
    ) -> None:
        self._append_events = append_events  # writes and fsyncs the event log
        self._publish = publish
        self._pending: list[tuple[CommitBatch, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def submit(self, batch: CommitBatch) -> asyncio.Future[None]:
        """Queue a batch; the future resolves once it is durable and published."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((batch, done))
        self._wake.set()
        return done

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            group, self._pending = self._pending, []
            if not group:
                continue
            try:
                await asyncio.to_thread(self._flush, [batch for batch, _ in group])
            except BaseException as error:
                for _, done in group:
                    if not done.done():
                        done.set_exception(error)
                if isinstance(error, asyncio.CancelledError):
                    raise
                continue
            for batch, done in group:
                self._publish(batch.events)
                done.set_result(None)

    def _flush(self, group: list[CommitBatch]) -> None:
        for batch in group:
            batch.sync_files()
        folders: set[Path] = set()
        for batch in group:
            batch.apply()
            folders |= batch.folders()
        for folder in folders:
            sync_directory(folder)
        self._append_events([event for batch in group for event in batch.events])

    async def close(self) -> None:
        """Finish what is queued (an empty batch resolves after all before it), then stop."""
        if self._task is not None:
            await self.submit(CommitBatch())
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
