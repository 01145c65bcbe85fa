"""Opening terminals: a detached PTY process or a tmux window, behind one
small ``Launcher`` protocol."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path
from typing import Protocol

from maestro.agents.runner.spawns import Spawn

log = logging.getLogger("maestro.runner")

TMUX_SESSION = "maestro"

PTY_ROWS, PTY_COLUMNS = 50, 200


class Terminal(Protocol):
    """One opened terminal, as far as the runner keeps track of it."""

    @property
    def description(self) -> str: ...

    def alive(self) -> bool: ...

    def exit_code(self) -> int | None:
        """The command's exit status once known, else ``None``."""
        ...


class Launcher(Protocol):
    """Opens terminals of one kind."""

    kind: str
    outlives_runner: bool
    """True when terminals go on without the runner (tmux); ``--once`` then does
    not wait for them to finish."""

    def open(self, spawn: Spawn, command: list[str], env: dict[str, str], cwd: Path) -> Terminal:
        """Start ``command`` in ``cwd`` with exactly ``env``; raise on failure."""
        ...


class PtyTerminal:
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    @property
    def description(self) -> str:
        return f"pty pid {self.process.pid}, log {self.log_path}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_code(self) -> int | None:
        return self.process.poll()


class PtyLauncher:
    """A detached process on a pseudo-terminal of its own.

    The runner reads the PTY's master side into
    ``MAESTRO_HOME/sessions/<id>/terminal.log`` for as long as anything writes to
    it, so the child never blocks on a full PTY buffer.
    """

    kind = "pty"
    outlives_runner = False

    def __init__(self, home: Path) -> None:
        self.home = home

    def open(self, spawn: Spawn, command: list[str], env: dict[str, str], cwd: Path) -> Terminal:
        folder = self.home / "sessions" / spawn.session_id
        folder.mkdir(parents=True, exist_ok=True)
        log_path = folder / "terminal.log"
        master, slave = os.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", PTY_ROWS, PTY_COLUMNS, 0, 0))
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env={"TERM": "xterm-256color", **env},
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
                close_fds=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        threading.Thread(
            target=_drain, args=(master, log_path), name=f"pty-{spawn.session_id}", daemon=True
        ).start()
        return PtyTerminal(process, log_path)


def _drain(master: int, log_path: Path) -> None:
    """Copy the PTY's output to the log until every writer has closed it (EIO)."""
    with log_path.open("ab") as out:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out.write(chunk)
            out.flush()
    os.close(master)


class TmuxWindow:
    def __init__(self, tmux: TmuxLauncher, window_id: str, pane_pid: str) -> None:
        self.tmux = tmux
        self.window_id = window_id
        self.pane_pid = pane_pid

    @property
    def description(self) -> str:
        return f"tmux window {self.window_id} of session {self.tmux.session}, pid {self.pane_pid}"

    def _state(self) -> tuple[bool, int | None]:
        """(alive, exit status); a window that is gone is dead."""
        windows = self.tmux.windows()
        if (self.window_id, self.pane_pid) not in windows:
            return False, None
        dead, status = windows[(self.window_id, self.pane_pid)]
        return not dead, status if dead else None

    def alive(self) -> bool:
        return self._state()[0]

    def exit_code(self) -> int | None:
        return self._state()[1]


class TmuxLauncher:
    """A window in tmux session ``maestro`` (created when missing); attach with
    ``tmux attach -t maestro`` to watch the agents."""

    kind = "tmux"
    outlives_runner = True

    WINDOWS_FRESH_SECONDS = 0.1

    def __init__(self, session: str = TMUX_SESSION, tmux: str = "tmux") -> None:
        self.session = session
        self.tmux = tmux
        self._windows: dict[tuple[str, str], tuple[bool, int | None]] = {}
        self._windows_at = -1.0

    def windows(self) -> dict[tuple[str, str], tuple[bool, int | None]]:
        """``{(window id, pane pid): (dead, exit status)}`` of every tmux window, read
        once for all the windows a check looks at."""
        if time.monotonic() - self._windows_at > self.WINDOWS_FRESH_SECONDS:
            result = self.run(
                "list-windows",
                "-a",
                "-F",
                "#{window_id} #{pane_pid} #{pane_dead} #{pane_dead_status}",
            )
            self._windows = {}
            # A failure means no tmux server any more: no windows.
            for line in result.stdout.splitlines() if result.returncode == 0 else []:
                window_id, pane_pid, dead, status = ([*line.split(" "), "", "", ""])[:4]
                self._windows[(window_id, pane_pid)] = (
                    dead == "1",
                    int(status) if status.isdigit() else None,
                )
            self._windows_at = time.monotonic()
        return self._windows

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.tmux, *args], capture_output=True, text=True, timeout=10, check=False
        )

    def _checked(self, *args: str) -> str:
        result = self.run(*args)
        if result.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {result.stderr.strip() or result.stdout}")
        return result.stdout.strip()

    def open(self, spawn: Spawn, command: list[str], env: dict[str, str], cwd: Path) -> Terminal:
        if self.run("has-session", "-t", f"={self.session}").returncode != 0:
            self._checked("new-session", "-d", "-s", self.session)
        args = ["new-window", "-d", "-P", "-F", "#{window_id} #{pane_pid}"]
        args += ["-t", f"={self.session}:", "-n", spawn.name[:40], "-c", str(cwd)]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        window_id, _, pane_pid = self._checked(*args, "--", *command).partition(" ")
        self._windows_at = -1.0  # the next check must see the new window
        return TmuxWindow(self, window_id, pane_pid)


def default_launcher_kind() -> str:
    return "tmux" if shutil.which("tmux") else "pty"
