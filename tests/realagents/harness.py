"""Maestro around a real agent CLI, set up the way the README tells a user to:
``maestro serve``, then ``.venv/bin/maestro runner`` started by its path with
nothing activated (the virtualenv's ``bin`` is not on ``PATH``), the agent CLI
on ``PATH``, and the agent's credentials in the runner's environment only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import RunningServer
from tests.helpers import make_project, make_task, ok, request_spawn, stop_process, wait_until

MAESTRO = Path(sys.executable).parent / "maestro"
"""The installed ``maestro`` script, as the README runs it (``.venv/bin/maestro``)."""

SESSION_SECONDS = 120.0
"""A real agent run against a fake model takes seconds; a loaded CI machine more."""

HUGE_DESCRIPTION = "".join(f"Requirement {i}: keep the API stable.\n" for i in range(4000))
"""A task description of over 140 KB: more than fits on a command line."""


def bare_path(*extra: Path) -> str:
    """A ``PATH`` with the system's programs and ``extra`` folders only."""
    return ":".join([*(str(p) for p in extra), "/usr/local/bin", "/usr/bin", "/bin"])


RUNNER_NAME = "test-runner"
"""The name the test runners register as (their runner token is for it)."""


@dataclass
class Runner:
    """``maestro runner`` (``--pty`` or ``--tmux``) following one server."""

    server: RunningServer
    launcher: str
    home: Path
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    tmux_dir: str | None = field(default=None)

    def start(self) -> Runner:
        env = dict(self.env)
        env["MAESTRO_HOME"] = str(self.home)
        if self.launcher == "tmux":
            # A private tmux server (short path: tmux sockets have a length limit).
            self.tmux_dir = tempfile.mkdtemp(prefix="mtmux")
            env["TMUX_TMPDIR"] = self.tmux_dir
            env.pop("TMUX", None)
        command = [str(MAESTRO), "runner", f"--{self.launcher}", "--name", RUNNER_NAME]
        command += ["--server", self.server.url]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: f"connected to {self.server.url}" in self.log(), 30, "the runner")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process, timeout=15)
        if self.tmux_dir is not None:
            subprocess.run(
                ["tmux", "kill-server"],
                env={**os.environ, "TMUX_TMPDIR": self.tmux_dir},
                capture_output=True,
                check=False,
            )
            shutil.rmtree(self.tmux_dir, ignore_errors=True)


@contextmanager
def running(runner: Runner) -> Iterator[Runner]:
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()


def wait_for_session(http: httpx.Client, session_id: str, runner: Runner) -> dict[str, Any]:
    """The session once it finished; on a time-out, the runner's log says why."""

    def finished() -> bool:
        return ok(http.get(f"/api/sessions/{session_id}"))["status"] in ("completed", "failed")

    try:
        wait_until(finished, SESSION_SECONDS, f"session {session_id} to finish")
    except AssertionError:
        raise AssertionError(f"{session_id} did not finish; runner log:\n{runner.log()}") from None
    session: dict[str, Any] = ok(http.get(f"/api/sessions/{session_id}"))
    return session


@dataclass
class AgentSetup:
    """Maestro around one agent CLI for one test: a client of the server, the
    project's working directory, and runners as a user starts them (``runner_env``:
    the agent CLI on ``PATH`` and its credentials, which the server never has)."""

    server: RunningServer
    http: httpx.Client
    workdir: Path
    home: Path  # the runner's MAESTRO_HOME, where the session files land
    runner_env: dict[str, str]
    log_path: Path
    agent: str | None = None  # what spawns ask for; None: the server's default (Claude)

    def runner(self, launcher: str = "pty") -> Runner:
        """A runner (``--pty`` or ``--tmux``), not started yet: see ``running``."""
        return Runner(self.server, launcher, self.home, self.runner_env, self.log_path)

    def project(self, **fields: Any) -> dict[str, Any]:
        """A project working in ``workdir``; ``fields`` add to the body."""
        return make_project(self.http, workingDir=str(self.workdir), **fields)

    def task(self, project: dict[str, Any], title: str, **fields: Any) -> dict[str, Any]:
        return make_task(self.http, project["id"], title=title, **fields)

    def spawn(self, project: dict[str, Any], task: dict[str, Any]) -> str:
        """Ask for a session of the agent on ``task``; its id."""
        agent = {} if self.agent is None else {"agent": self.agent}
        return request_spawn(self.http, project["id"], [task["id"]], **agent)

    def run(
        self, project: dict[str, Any], task: dict[str, Any], launcher: str = "pty"
    ) -> tuple[dict[str, Any], Runner]:
        """Start a runner, spawn a session on ``task`` and wait for it to finish:
        the finished session, and the (stopped) runner for its log."""
        runner = self.runner(launcher)
        with running(runner):
            session = wait_for_session(self.http, self.spawn(project, task), runner)
        return session, runner


def session_files(home: Path, session_id: str) -> Path:
    return home / "sessions" / session_id


def event_types(session: dict[str, Any]) -> list[str]:
    return [e["type"] for e in session["events"]]


def events_of(session: dict[str, Any], kind: str) -> list[Any]:
    return [e["data"] for e in session["events"] if e["type"] == kind]


def maestro_cli(
    server: RunningServer, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``maestro`` by its path, as a user would, against ``server``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    base.update(env or {})
    base["MAESTRO_SERVER_URL"] = server.url
    if "MAESTRO_TOKEN" in server.env:  # the admin's, as a person at the CLI
        base.setdefault("MAESTRO_TOKEN", server.env["MAESTRO_TOKEN"])
    return subprocess.run(
        [str(MAESTRO), *args], env=base, capture_output=True, text=True, timeout=120, check=False
    )
