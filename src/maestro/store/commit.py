"""Committing prepared transactions in groups.

Transactions are prepared one at a time (under the store's write lock) and
queued here. One committer takes every transaction waiting at that moment as a
group and has the store write it in one go (for the JSON store: one journal
line, ``store.journal``); every transaction of the group is answered together,
once that write is done. If it fails, every transaction of the group, and those
queued behind it (they were prepared on top of it), fail with the error: nothing
of them reaches memory, subscribers or, after a restart, the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


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
