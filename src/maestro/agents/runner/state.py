"""The runner's state file: per server, the last ``seq`` seen, the sessions
already opened and the runner's id on that server, so a restarted runner neither
misses nor double-opens a spawn, and takes its registration back."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from maestro.agents.errors import AgentError

log = logging.getLogger("maestro.runner")

OPENED_LIMIT = 1000
"""How many opened session ids the state file remembers per server. Older ones
are safe to forget: a replayed spawn request is checked against the session's
current status before anything is opened."""


class RunnerBusy(AgentError):
    def __init__(self, server: str, lock: Path) -> None:
        super().__init__(
            f"another `maestro runner` is already serving {server} from this MAESTRO_HOME "
            f"(lock {lock}); stop it first, or give this one its own MAESTRO_HOME",
            code="RUNNER_BUSY",
        )


class RunnerState:
    """``MAESTRO_HOME/runner/state.json``: ``{server: {"lastSeq", "opened",
    "runnerId"}}`` (``runnerId`` once the runner has registered).

    Written atomically (temp file in the same folder, then ``os.replace``), under
    an ``flock`` so runners of different servers sharing one MAESTRO_HOME keep
    each other's entries. ``lastSeq`` is ``null`` until the first event is seen.
    Safe to use from the event loop and the worker thread at once.
    """

    def __init__(self, home: Path, server: str) -> None:
        self.folder = home / "runner"
        self.path = self.folder / "state.json"
        self.server = server
        self.last_seq: int | None = None
        self.runner_id: str | None = None
        self.opened: deque[str] = deque(maxlen=OPENED_LIMIT)
        self._opened_set: set[str] = set()
        self._saved_seq: int | None = None
        self._instance_lock: IO[bytes] | None = None
        self._mutex = threading.RLock()

    def load(self) -> RunnerState:
        entry = self._read_all().get(self.server)
        if isinstance(entry, dict):
            seq = entry.get("lastSeq")
            self.last_seq = seq if isinstance(seq, int) and seq >= 0 else None
            runner_id = entry.get("runnerId")
            self.runner_id = runner_id if isinstance(runner_id, str) else None
            for session_id in entry.get("opened") or []:
                if isinstance(session_id, str):
                    self._remember(session_id)
        self._saved_seq = self.last_seq
        return self

    def has_opened(self, session_id: str) -> bool:
        return session_id in self._opened_set

    def mark_opened(self, session_id: str) -> None:
        """Remember an opened session and save at once: a crash right after a
        launch must not lead a restarted runner to open it again."""
        self._remember(session_id)
        self.save()

    def _remember(self, session_id: str) -> None:
        with self._mutex:
            if session_id in self._opened_set:
                return
            if len(self.opened) == self.opened.maxlen:
                self._opened_set.discard(self.opened[0])
            self.opened.append(session_id)
            self._opened_set.add(session_id)

    @property
    def unsaved(self) -> bool:
        return self.last_seq != self._saved_seq

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._mutex, self._file_lock():
            seq = self.last_seq
            everything = self._read_all()
            entry: dict[str, Any] = {"lastSeq": seq, "opened": list(self.opened)}
            if self.runner_id is not None:
                entry["runnerId"] = self.runner_id
            everything[self.server] = entry
            fd, temp = tempfile.mkstemp(prefix=".state.", suffix=".tmp", dir=self.folder)
            try:
                with os.fdopen(fd, "w") as out:
                    json.dump(everything, out, indent=2)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
            self._saved_seq = seq

    def _read_all(self) -> dict[str, Any]:
        try:
            decoded = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            log.warning("ignoring unreadable runner state %s: %s", self.path, error)
            return {}
        return decoded if isinstance(decoded, dict) else {}

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        with (self.folder / "state.lock").open("wb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def claim(self) -> None:
        """Hold this server's runner lock for the life of the process; two runners
        of one server with one state file would open every spawn twice."""
        self.folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(self.server.encode()).hexdigest()[:16]
        path = self.folder / f"runner-{digest}.lock"
        lock = path.open("wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise RunnerBusy(self.server, path) from None
        self._instance_lock = lock

    def release(self) -> None:
        if self._instance_lock is not None:
            self._instance_lock.close()
            self._instance_lock = None
