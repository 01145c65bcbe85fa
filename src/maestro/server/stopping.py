"""Hearing that the server is asked to stop before it waits for open requests.

On SIGTERM or SIGINT uvicorn stops accepting, then waits (up to its graceful
timeout) for the requests in progress to finish, and only then runs the app's
lifespan shutdown. A request that is waiting on purpose (a long-poll for an
approval's decision, up to a minute) would hold the stop for that long, and be
cut off at the timeout. So the app hears the signal itself: ``StopSignals``
chains a handler in front of the one in place (uvicorn's), which runs
``on_stop`` on the event loop and then hands the signal on unchanged.

Only from the main thread (where Python delivers signals), and only in front of
a Python handler: a process whose signals nobody handles has no graceful stop to
come early for.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    def __init__(self, on_stop: Callable[[], None]) -> None:
        self._on_stop = on_stop
        self._installed: dict[int, tuple[Any, Any]] = {}  # signal -> (ours, previous)

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for number in STOP_SIGNALS:
            previous = signal.getsignal(number)
            if not callable(previous):
                continue
            ours = self._handler(loop, previous)
            signal.signal(number, ours)
            self._installed[number] = (ours, previous)

    def _handler(
        self, loop: asyncio.AbstractEventLoop, previous: Callable[[int, FrameType | None], Any]
    ) -> Callable[[int, FrameType | None], Any]:
        def handle(number: int, frame: FrameType | None) -> Any:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing waits
                loop.call_soon_threadsafe(self._on_stop)
            return previous(number, frame)

        return handle

    def uninstall(self) -> None:
        """Put the previous handlers back, where ours are still the ones in place."""
        for number, (ours, previous) in self._installed.items():
            if signal.getsignal(number) is ours:
                signal.signal(number, previous)
        self._installed.clear()
