"""What the end-to-end spawning tests share: ``maestro runner --pty`` as a
process, and the scripted fake agent it starts (``fake_agent.py`` through the
``custom`` adapter's ``MAESTRO_AGENT_COMMAND``)."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer
from tests.helpers import stop_process, wait_until

FAKE_AGENT = Path(__file__).with_name("fake_agent.py")
AGENT_COMMAND = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_AGENT))} {{prompt_file}}"
SESSION_SECONDS = 30  # one fake worker takes a few seconds: each CLI call is a new process
_OPENED = re.compile(r"opened session (\S+) in .*?\((?:pty pid (\d+))?")


class RunnerProcess:
    """``maestro runner --pty`` following one server, its log in a file."""

    def __init__(self, server: RunningServer, home: Path, log_path: Path, **env: str) -> None:
        self.server = server
        self.home = home
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> RunnerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
        env.update(MAESTRO_HOME=str(self.home), MAESTRO_AGENT_COMMAND=AGENT_COMMAND)
        env.update(self.env)
        command = [sys.executable, "-m", "maestro", "runner", "--pty", "--server", self.server.url]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_for_log(f"connected to {self.server.url}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout: float = 15, count: int = 1) -> None:
        wait_until(lambda: self.log().count(text) >= count, timeout, f"runner log line {text!r}")

    def stop(self) -> None:
        stop_process(self.process)

    def opened(self) -> list[str]:
        """The sessions this runner opened, in order, as its log says."""
        return [m[1] for m in _OPENED.finditer(self.log())]

    def kill(self) -> None:
        """``kill -9`` of the runner and of the agents it started, as when its
        machine dies: each PTY terminal leads a process group of its own
        (``maestro worker init`` and the agent under it), killed whole."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        for match in _OPENED.finditer(self.log()):
            if match[2]:
                with contextlib.suppress(ProcessLookupError):  # that one had finished
                    os.killpg(int(match[2]), signal.SIGKILL)


@pytest.fixture
def start_runner(home: Path, tmp_path: Path) -> Iterator[Callable[..., RunnerProcess]]:
    """Start runners (``maestro runner --pty ARGS``) on demand; all stop at the end.
    Several on one server each need their own ``home`` (``MAESTRO_HOME``) and
    ``--name``."""
    started: list[RunnerProcess] = []

    def start(
        server: RunningServer, *args: str, home_dir: Path | None = None, **env: str
    ) -> RunnerProcess:
        log = tmp_path / f"runner{len(started)}.log"
        made = RunnerProcess(server, home_dir or home, log, **env)
        started.append(made)
        return made.start(*args)

    yield start
    for made in started:
        made.stop()
        print(made.log())  # shown by pytest when the test failed
