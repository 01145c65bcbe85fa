"""``EventFollower``: the WebSocket subscription with replay, reconnects and
backoff, feeding spawn requests to the queue, and keeping the runner's lease
(heartbeats) while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from maestro.agents.errors import AgentError
from maestro.agents.runner.dispatch import Dispatcher
from maestro.agents.runner.queue import SpawnQueue
from maestro.agents.runner.spawns import BadSpawn, Spawn
from maestro.client import ClientError, ClientSettings

log = logging.getLogger("maestro.runner")

T = TypeVar("T")


def websocket_url(server: str, since: int | None) -> str:
    base = "wss" + server[5:] if server.startswith("https") else "ws" + server[4:]
    query = urlencode({"since": since}) if since is not None else ""
    return f"{base}/ws" + (f"?{query}" if query else "")


class EventFollower:
    """Follows the event stream (with ``?since=`` replay) and feeds ``SpawnQueue``.

    On every connect it first subscribes, then lists the ``spawning`` sessions, so
    no spawn can fall between the two; duplicates are dropped by the queue. When
    the server goes away it reconnects with backoff and replays what it missed.
    """

    TICK_SECONDS = 0.25
    SAVE_EVERY_SECONDS = 1.0
    MIN_BACKOFF, MAX_BACKOFF = 0.25, 5.0

    DISPATCH_EVERY_SECONDS = 10.0
    """A dispatch pass this often even when no event asked for one."""
    CATCH_UP_EVERY_SECONDS = 10.0
    """A fresh look at the spawning sessions this often: a spawn this runner left
    (no free slot) may have been released by a runner that was lost."""
    DISPATCH_EVENTS = frozenset(
        {"task:created", "task:updated", "session:updated", "session:deleted", "task:deleted"}
    )
    """Events after which a task may have become due."""

    def __init__(
        self, queue: SpawnQueue, token: str | None = None, dispatcher: Dispatcher | None = None
    ) -> None:
        self.queue = queue
        self.dispatcher = dispatcher
        self._dispatch_due = True
        self._last_dispatch = 0.0
        self._catch_up_due = False
        self._last_catch_up = time.monotonic()
        self.state = queue.state
        self.server = queue.client.url
        self.token = token if token is not None else ClientSettings.from_env().token
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._last_save = 0.0
        self.connected = False
        self.stop_signal: int | None = None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a ``SpawnQueue`` step (it may block on HTTP) off the event loop,
        one at a time."""
        async with self._lock:
            return await asyncio.to_thread(fn, *args)

    def stop(self, signum: int | None = None) -> None:
        self.stop_signal = signum
        self._stop.set()

    async def run(self) -> None:
        """Follow the server until ``stop()`` (SIGINT/SIGTERM)."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.stop, signum)
        log.info(
            "runner following %s with %s terminals (max %d at once) as %s",
            self.server,
            self.queue.launcher.kind,
            self.queue.max_concurrent,
            self.queue.lease.describe(),
        )
        tasks = [
            asyncio.create_task(self._connect_forever()),
            asyncio.create_task(self._tick_forever()),
        ]
        try:
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)
            async with self._lock:
                self.state.save()

    async def _connect_forever(self) -> None:
        delay = self.MIN_BACKOFF
        last_problem = ""
        while True:
            self.connected = False
            try:
                await self._follow()
                problem = "the server closed the event stream"
            except ConnectionClosed as error:
                problem = f"lost the event stream ({error})"
            except (OSError, TimeoutError, InvalidHandshake) as error:
                problem = f"cannot connect ({str(error) or type(error).__name__})"
            except (AgentError, ClientError) as error:
                problem = error.message
            except Exception as error:  # a bug must not end the runner's watch silently
                log.exception("unexpected error while following %s", self.server)
                problem = f"unexpected error ({error})"
            if self.connected:
                delay = self.MIN_BACKOFF  # it worked for a while: start the backoff afresh
                last_problem = ""
            if problem != last_problem:  # one line per outage, not one per retry
                log.warning("%s: %s; reconnecting with backoff", self.server, problem)
                last_problem = problem
            else:
                log.debug("%s: %s; retrying in %.2fs", self.server, problem, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.MAX_BACKOFF)

    async def _follow(self) -> None:
        """One connection's life: subscribe, catch up, then handle events as they come."""
        since = self.state.last_seq
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        try:
            connection = connect(
                websocket_url(self.server, since),
                additional_headers=headers,
                open_timeout=10,
                ping_interval=10,
                ping_timeout=10,
                max_size=64 * 2**20,
                proxy=None,
            )
        except InvalidURI as error:
            raise AgentError(f"bad server URL {self.server}: {error}") from error
        async with connection as websocket:
            self.connected = True
            log.info(
                "connected to %s (%s)",
                self.server,
                "live events" if since is None else f"replaying events after seq {since}",
            )
            await self._call(self.queue.keep_lease)
            await self._call(self.queue.catch_up)
            self._last_catch_up = time.monotonic()
            await self._call(self.queue.pump)
            async for frame in websocket:
                await self._handle(frame)

    async def _handle(self, frame: str | bytes) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind, data = message.get("type"), message.get("data")
        if kind == "resync_required":
            latest = data.get("latestSeq") if isinstance(data, dict) else None
            log.warning(
                "the server no longer holds events after seq %s; re-listing spawns",
                self.state.last_seq,
            )
            self.state.last_seq = latest if isinstance(latest, int) else None
            await self._call(self.queue.catch_up)
            await self._call(self.queue.pump)
        elif kind == "session:spawn_request":
            try:
                spawn = Spawn.from_event(data)
            except BadSpawn as error:
                log.warning("ignoring spawn request: %s", error)
            else:
                if await self._call(self.queue.offer, spawn):
                    log.info("spawn requested: session %s (%s)", spawn.session_id, spawn.name)
                    await self._call(self.queue.pump)
        elif kind == "session:updated" and isinstance(data, dict):
            await self._session_updated(data)
        elif kind == "session:deleted" and isinstance(data, dict):
            await self._call(self.queue.forget, data.get("id"))
        if kind in self.DISPATCH_EVENTS:
            self._dispatch_due = True
        seq = message.get("seq")
        if isinstance(seq, int):
            self.state.last_seq = seq
            async with self._lock:
                self._save_if_due()

    async def _session_updated(self, session: dict[str, Any]) -> None:
        """Drop a waiting spawn that is no longer this runner's to claim; look again
        for spawns when one became claimable (a lost runner's, released)."""
        session_id = session.get("id")
        metadata = session.get("metadata")
        holder = metadata.get("runnerId") if isinstance(metadata, dict) else None
        if session.get("status") != "spawning":
            await self._call(self.queue.forget, session_id)
        elif holder is not None and holder != self.queue.lease.runner_id:
            await self._call(self.queue.forget, session_id, "was claimed by another runner")
        elif holder is None and isinstance(session_id, str):
            known = self.state.has_opened(session_id) or self.queue.is_waiting(session_id)
            self._catch_up_due = self._catch_up_due or not known

    async def _catch_up_if_due(self) -> None:
        """List the spawning sessions again when a released one may be claimable
        (or every ``CATCH_UP_EVERY_SECONDS``), while connected."""
        if not self.connected:
            return
        now = time.monotonic()
        if not self._catch_up_due and now - self._last_catch_up < self.CATCH_UP_EVERY_SECONDS:
            return
        self._catch_up_due = False
        self._last_catch_up = now
        await self._call(self.queue.catch_up)

    async def _dispatch_if_due(self) -> None:
        """Run a dispatch pass when an event may have made a task due (or every
        ``DISPATCH_EVERY_SECONDS``), while connected."""
        if self.dispatcher is None or not self.connected:
            return
        now = time.monotonic()
        if not self._dispatch_due and now - self._last_dispatch < self.DISPATCH_EVERY_SECONDS:
            return
        self._dispatch_due = False
        self._last_dispatch = now
        await self._call(self.dispatcher.run_once)

    def _save_if_due(self) -> None:
        now = time.monotonic()
        if self.state.unsaved and now - self._last_save >= self.SAVE_EVERY_SECONDS:
            self.state.save()
            self._last_save = now

    async def _tick_forever(self) -> None:
        """Keep the lease, free slots of finished terminals, open what waits, save
        the seq."""
        while True:
            await asyncio.sleep(self.TICK_SECONDS)
            try:
                await self._call(self.queue.keep_lease)
                await self._dispatch_if_due()
                await self._catch_up_if_due()
                await self._call(self.queue.pump)
            except ClientError:
                pass  # the server is away; the connection loop says so
            except Exception:
                log.exception("runner tick failed")
            async with self._lock:
                self._save_if_due()
