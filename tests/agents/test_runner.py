"""The runner on its own: its state file, which spawns it opens (once, in order,
at most N at a time) and how it fails a spawn it cannot open.

The rules are exercised in-process against a real ``maestro serve`` with a
launcher that only records what it was asked to open; the PTY and tmux
launchers and ``maestro runner --once`` run for real.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from maestro.agents.runner import (
    OPENED_LIMIT,
    BadSpawn,
    PtyLauncher,
    RunnerBusy,
    RunnerState,
    Spawn,
    SpawnQueue,
    TmuxLauncher,
    websocket_url,
)
from maestro.client import MaestroClient
from tests.conftest import RunningServer
from tests.helpers import make_project, make_task, ok, request_spawn, wait_until

pytestmark = pytest.mark.slow  # runs the runner and terminals as processes

SERVER = "http://127.0.0.1:1234"


# -- helpers ------------------------------------------------------------------


class FakeTerminal:
    description = "fake terminal"

    def __init__(self) -> None:
        self.running = True
        self.code: int | None = None

    def alive(self) -> bool:
        return self.running

    def exit_code(self) -> int | None:
        return self.code

    def finish(self, code: int = 0) -> None:
        self.running, self.code = False, code


class FakeLauncher:
    """Records what it is asked to open; the terminals end when the test says so."""

    kind = "fake"
    outlives_runner = False

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.opened: list[tuple[Spawn, list[str], dict[str, str], Path]] = []
        self.terminals: dict[str, FakeTerminal] = {}

    def open(
        self, spawn: Spawn, command: list[str], env: dict[str, str], cwd: Path
    ) -> FakeTerminal:
        if self.error is not None:
            raise self.error
        self.opened.append((spawn, command, env, cwd))
        terminal = self.terminals[spawn.session_id] = FakeTerminal()
        return terminal

    @property
    def session_ids(self) -> list[str]:
        return [spawn.session_id for spawn, *_ in self.opened]


@pytest.fixture
def client(server: RunningServer) -> Iterator[MaestroClient]:
    with MaestroClient(server.url, retries=0) as made:
        yield made


Spawner = Callable[..., str]


@pytest.fixture
def spawn_session(http: httpx.Client, workdir: Path) -> Spawner:
    """Spawn a session on a fresh task of a project working in ``working_dir``."""
    projects: dict[str, str] = {}

    def spawn(working_dir: str | None = None, **body: Any) -> str:
        where = str(workdir) if working_dir is None else working_dir
        if where not in projects:
            projects[where] = make_project(http, workingDir=where)["id"]
        task = make_task(http, projects[where])
        return request_spawn(http, projects[where], [task["id"]], **{"agent": "custom", **body})

    return spawn


def session(http: httpx.Client, session_id: str) -> Any:
    return ok(http.get(f"/api/sessions/{session_id}"))


def spawn_failure(record: Any) -> str:
    [event] = [e for e in record["events"] if e["type"] == "spawn_failed"]
    reason: str = event["data"]["reason"]
    return reason


def make_queue(
    client: MaestroClient, home: Path, launcher: Any, max_concurrent: int = 4
) -> SpawnQueue:
    state = RunnerState(home, client.url).load()
    return SpawnQueue(client, state, launcher, max_concurrent, runner_env={})


def start_queue(
    client: MaestroClient, home: Path, launcher: Any, max_concurrent: int = 4
) -> SpawnQueue:
    """A runner's queue as the runner starts: caught up with the server's pending
    spawns, and as many of them opened as ``max_concurrent`` allows."""
    queue = make_queue(client, home, launcher, max_concurrent)
    queue.catch_up()
    queue.pump()
    return queue


def runner_env(home: Path, agent: str) -> dict[str, str]:
    """The runner's environment: none of the developer's Maestro settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_") and k != "TMUX"}
    return {**env, "MAESTRO_HOME": str(home), "MAESTRO_AGENT_COMMAND": agent}


def python_agent(code: str) -> str:
    """A ``MAESTRO_AGENT_COMMAND`` running a line of Python."""
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def run_runner(
    server: RunningServer, home: Path, agent: str, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maestro", "runner", "--server", server.url, "--json", *args],
        env=runner_env(home, agent),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# -- the state file ----------------------------------------------------------------


def test_state_file_round_trips_last_seq_and_opened_sessions(home: Path) -> None:
    state = RunnerState(home, SERVER).load()
    assert state.last_seq is None
    state.last_seq = 42
    state.mark_opened("sess_1")
    state.mark_opened("sess_2")

    again = RunnerState(home, SERVER).load()

    assert again.last_seq == 42
    assert list(again.opened) == ["sess_1", "sess_2"]
    assert again.has_opened("sess_1") and not again.has_opened("sess_3")
    on_disk = json.loads((home / "runner" / "state.json").read_text())
    assert on_disk == {SERVER: {"lastSeq": 42, "opened": ["sess_1", "sess_2"]}}


def test_state_file_keeps_the_entries_of_other_servers(home: Path) -> None:
    first = RunnerState(home, SERVER).load()
    second = RunnerState(home, "http://127.0.0.1:5678").load()
    first.last_seq = 1
    first.save()
    second.last_seq = 2
    second.save()

    assert RunnerState(home, SERVER).load().last_seq == 1
    assert RunnerState(home, "http://127.0.0.1:5678").load().last_seq == 2


def test_state_file_remembers_a_bounded_number_of_opened_sessions(home: Path) -> None:
    state = RunnerState(home, SERVER).load()
    for n in range(OPENED_LIMIT + 5):
        state._remember(f"sess_{n}")
    state.save()

    again = RunnerState(home, SERVER).load()

    assert len(again.opened) == OPENED_LIMIT
    assert not again.has_opened("sess_0")
    assert again.has_opened(f"sess_{OPENED_LIMIT + 4}")


def test_state_file_is_replaced_whole_and_leaves_no_temp_files(home: Path) -> None:
    state = RunnerState(home, SERVER).load()
    for seq in range(20):
        state.last_seq = seq
        state.save()

    names = sorted(p.name for p in (home / "runner").iterdir())
    assert names == ["state.json", "state.lock"]


def test_an_unreadable_state_file_is_ignored(home: Path) -> None:
    (home / "runner").mkdir(parents=True)
    (home / "runner" / "state.json").write_text("{not json")

    state = RunnerState(home, SERVER).load()

    assert state.last_seq is None and not state.opened


def test_a_second_runner_for_the_same_server_is_refused(home: Path) -> None:
    first = RunnerState(home, SERVER)
    first.claim()
    try:
        with pytest.raises(RunnerBusy, match="already serving"):
            RunnerState(home, SERVER).claim()
        RunnerState(home, "http://127.0.0.1:5678").claim()  # another server is fine
    finally:
        first.release()
    RunnerState(home, SERVER).claim()


# -- what a spawn request asks for ----------------------------------------------------


SPAWN_REQUEST = {
    "session": {"id": "sess_1_abc", "status": "spawning"},
    "projectId": "proj_1",
    "taskIds": ["task_1"],
    "skillIds": ["maestro-worker"],
    "name": "Fix the bug",
    "role": "worker",
    "command": "maestro worker init",
    "cwd": "/srv/project",
    "env": {"MAESTRO_SESSION_ID": "sess_1_abc", "MAESTRO_ROLE": "worker"},
}


def test_a_spawn_request_event_gives_everything_to_open_the_terminal() -> None:
    spawn = Spawn.from_event(SPAWN_REQUEST)

    assert spawn == Spawn(
        session_id="sess_1_abc",
        name="Fix the bug",
        role="worker",
        cwd="/srv/project",
        env={"MAESTRO_SESSION_ID": "sess_1_abc", "MAESTRO_ROLE": "worker"},
    )
    assert spawn.working_directory() == Path("/srv/project")


@pytest.mark.parametrize(
    "broken",
    [
        {"session": {}},
        {"session": {"id": "../etc"}},
        {"env": {"A": 1}},
        {"env": None},
    ],
)
def test_a_malformed_spawn_request_is_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(BadSpawn):
        Spawn.from_event({**SPAWN_REQUEST, **broken})


def test_the_command_is_maestro_init_of_this_installation() -> None:
    worker = Spawn.from_event(SPAWN_REQUEST)
    orchestrator = Spawn.from_event({**SPAWN_REQUEST, "role": "orchestrator"})

    assert worker.command() == [sys.executable, "-m", "maestro", "worker", "init"]
    assert orchestrator.command() == [sys.executable, "-m", "maestro", "orchestrator", "init"]
    with pytest.raises(BadSpawn, match="unknown role"):
        Spawn.from_event({**SPAWN_REQUEST, "role": "boss"}).command()


def test_an_empty_working_dir_means_the_home_directory() -> None:
    assert Spawn.from_event({**SPAWN_REQUEST, "cwd": ""}).working_directory() == Path.home()
    relative = Spawn.from_event({**SPAWN_REQUEST, "cwd": "code/app"})
    assert relative.working_directory() == Path.home() / "code" / "app"


def test_the_terminal_gets_the_session_env_plus_the_runners_own_settings() -> None:
    spawn = Spawn.from_event(
        {**SPAWN_REQUEST, "env": {"MAESTRO_SESSION_ID": "sess_1_abc", "MAESTRO_HOME": "/session"}}
    )
    runner = {
        "MAESTRO_TOKEN": "secret",
        "MAESTRO_AGENT_COMMAND": "agent {prompt_file}",
        "MAESTRO_HOME": "/runner",
        "PATH": "/bin",
        "UNRELATED": "x",
        "MAESTRO_RETRIES": "",
    }

    assert spawn.terminal_env(runner, "http://127.0.0.1:3000") == {
        "MAESTRO_AGENT_COMMAND": "agent {prompt_file}",
        "MAESTRO_HOME": "/session",
        "PATH": "/bin",
        "MAESTRO_SESSION_ID": "sess_1_abc",
        "MAESTRO_SERVER_URL": "http://127.0.0.1:3000",
    }


def test_the_agents_credentials_and_settings_reach_the_terminal() -> None:
    spawn = Spawn.from_event(SPAWN_REQUEST)
    runner = {
        "ANTHROPIC_API_KEY": "sk-ant",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9999",
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "AWS_PROFILE": "work",
        "GOOGLE_APPLICATION_CREDENTIALS": "/creds.json",
        "OPENAI_API_KEY": "sk-oa",
        "CODEX_HOME": "/codex",
        "MAESTRO_CLAUDE_PERMISSION_MODE": "default",
        "IS_SANDBOX": "1",
        "HTTPS_PROXY": "http://proxy:3128",
        "no_proxy": "localhost",
        "LC_CTYPE": "C.UTF-8",
    }
    env = spawn.terminal_env(runner, "http://127.0.0.1:3000")
    assert {k: env[k] for k in runner} == runner


def test_server_only_settings_and_unrelated_variables_stay_out() -> None:
    spawn = Spawn.from_event(SPAWN_REQUEST)
    runner = {
        "MAESTRO_DATABASE_URL": "postgresql://u:password@db/maestro",
        "MAESTRO_CORS_ORIGINS": "https://x",
        "DATA_DIR": "/data",
        "PORT": "3000",
        "GITHUB_TOKEN": "ghp_x",
        "PS1": "$ ",
    }
    env = spawn.terminal_env(runner, "http://127.0.0.1:3000")
    assert not set(runner) & set(env)


def test_the_token_only_goes_with_the_server_the_runner_talks_to() -> None:
    """The spawn names a server URL; the session's token belongs to the server the
    runner reached, so the terminal talks to that one."""
    spawn = Spawn.from_event(
        {**SPAWN_REQUEST, "env": {"MAESTRO_SERVER_URL": "https://elsewhere.example"}}
    )
    claimed = replace(spawn, token="tok_1_abc.session-secret")
    env = claimed.terminal_env({"MAESTRO_TOKEN": "secret"}, "http://127.0.0.1:3000")
    assert env["MAESTRO_SERVER_URL"] == "http://127.0.0.1:3000"
    assert env["MAESTRO_TOKEN"] == "tok_1_abc.session-secret"


def test_the_runners_own_token_never_reaches_a_terminal() -> None:
    """Not the admin token, not a runner token, and not a session's either: a
    spawn's env cannot carry one in."""
    spawn = Spawn.from_event({**SPAWN_REQUEST, "env": {"MAESTRO_TOKEN": "smuggled"}})
    env = spawn.terminal_env({"MAESTRO_TOKEN": "runner-secret"}, "http://127.0.0.1:3000")
    assert "MAESTRO_TOKEN" not in env


def test_the_websocket_url_asks_for_replay_after_the_last_seq() -> None:
    assert websocket_url("http://127.0.0.1:3000", None) == "ws://127.0.0.1:3000/ws"
    assert websocket_url("http://127.0.0.1:3000", 7) == "ws://127.0.0.1:3000/ws?since=7"
    assert websocket_url("https://maestro.example", 0) == "wss://maestro.example/ws?since=0"


# -- which spawns are opened -------------------------------------------------------------


def test_pending_spawns_are_opened_in_their_working_directory(
    client: MaestroClient, home: Path, workdir: Path, spawn_session: Spawner
) -> None:
    first, second = spawn_session(), spawn_session()
    launcher = FakeLauncher()

    start_queue(client, home, launcher)

    assert launcher.session_ids == [first, second]
    _, command, env, cwd = launcher.opened[0]
    assert cwd == workdir
    assert command == [sys.executable, "-m", "maestro", "worker", "init"]
    assert env["MAESTRO_SESSION_ID"] == first


def test_pending_spawns_are_opened_once_across_runner_restarts(
    client: MaestroClient, http: httpx.Client, home: Path, spawn_session: Spawner
) -> None:
    first = spawn_session()
    launcher = FakeLauncher()
    start_queue(client, home, launcher)
    second = spawn_session()  # requested while "the runner was down"

    after = start_queue(client, home, launcher)  # a new runner, same state file
    replayed = {**SPAWN_REQUEST, "session": session(http, first), "env": {}}
    assert not after.offer(Spawn.from_event(replayed))  # a replayed request, too
    after.pump()

    assert launcher.session_ids == [first, second]


def test_a_session_no_longer_spawning_is_not_opened(
    client: MaestroClient, http: httpx.Client, home: Path, spawn_session: Spawner
) -> None:
    session_id = spawn_session()
    launcher = FakeLauncher()
    queue = make_queue(client, home, launcher)
    queue.offer(Spawn.from_event({**SPAWN_REQUEST, "session": session(http, session_id)}))
    ok(http.patch(f"/api/sessions/{session_id}", json={"status": "running"}))

    queue.pump()

    assert launcher.opened == []


def test_spawns_beyond_max_concurrent_wait_their_turn_in_order(
    client: MaestroClient, home: Path, spawn_session: Spawner
) -> None:
    ids = [spawn_session() for _ in range(4)]
    launcher = FakeLauncher()

    queue = start_queue(client, home, launcher, max_concurrent=2)
    assert launcher.session_ids == ids[:2]

    launcher.terminals[ids[1]].finish()
    queue.pump()
    assert launcher.session_ids == ids[:3]

    queue.pump()  # nothing freed, nothing more opened
    assert launcher.session_ids == ids[:3]

    launcher.terminals[ids[0]].finish()
    queue.pump()
    assert launcher.session_ids == ids


# -- spawns that cannot be opened ------------------------------------------------------------


def test_a_missing_working_directory_fails_the_session_with_the_reason(
    client: MaestroClient, http: httpx.Client, home: Path, tmp_path: Path, spawn_session: Spawner
) -> None:
    missing = tmp_path / "gone"
    session_id = spawn_session(working_dir=str(missing))
    launcher = FakeLauncher()

    queue = start_queue(client, home, launcher)

    record = session(http, session_id)
    assert record["status"] == "failed"
    assert spawn_failure(record) == f"working directory {missing} does not exist"
    assert launcher.opened == [] and queue.failed_ids == [session_id]


def test_a_working_directory_that_is_a_file_fails_the_session(
    client: MaestroClient, http: httpx.Client, home: Path, tmp_path: Path, spawn_session: Spawner
) -> None:
    a_file = tmp_path / "README"
    a_file.write_text("not a folder")
    session_id = spawn_session(working_dir=str(a_file))

    start_queue(client, home, FakeLauncher())

    assert (
        spawn_failure(session(http, session_id)) == f"working directory {a_file} is not a directory"
    )


def test_a_failed_launch_fails_the_session_with_the_error(
    client: MaestroClient, http: httpx.Client, home: Path, spawn_session: Spawner
) -> None:
    session_id = spawn_session()

    queue = start_queue(client, home, FakeLauncher(error=OSError("no terminal for you")))

    record = session(http, session_id)
    assert record["status"] == "failed"
    assert spawn_failure(record) == "could not open a fake terminal: no terminal for you"
    assert not queue.state.has_opened(session_id)


def test_a_terminal_that_closes_before_init_started_fails_the_session(
    client: MaestroClient, http: httpx.Client, home: Path, spawn_session: Spawner
) -> None:
    session_id = spawn_session()
    launcher = FakeLauncher()
    queue = start_queue(client, home, launcher)

    launcher.terminals[session_id].finish(127)
    queue.reap()

    assert spawn_failure(session(http, session_id)) == (
        "the terminal closed with exit code 127 before `maestro worker init` started the session"
    )


# -- real terminals -------------------------------------------------------------------------------


def test_the_pty_launcher_records_the_terminal_output(home: Path, workdir: Path) -> None:
    spawn = Spawn("sess_pty", "pty", "worker", str(workdir), {})
    script = (
        "import os, sys; "
        "print('hello from', os.getcwd(), os.environ['GREETING'], sys.stdout.isatty())"
    )
    terminal = PtyLauncher(home).open(
        spawn, [sys.executable, "-c", script], {"GREETING": "hi"}, workdir
    )

    wait_until(lambda: not terminal.alive(), 10, "the PTY process to exit")
    log = home / "sessions" / "sess_pty" / "terminal.log"
    wait_until(lambda: b"True" in log.read_bytes(), 5, "the output to be drained")

    assert terminal.exit_code() == 0
    assert f"hello from {workdir} hi True" in log.read_text()


@pytest.fixture
def tmux() -> Iterator[TmuxLauncher]:
    """A tmux launcher on a private tmux server, killed afterwards."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    folder = tempfile.mkdtemp(prefix="mtmux")  # short: tmux sockets have a path limit
    previous = {k: os.environ.get(k) for k in ("TMUX_TMPDIR", "TMUX")}
    os.environ["TMUX_TMPDIR"] = folder
    os.environ.pop("TMUX", None)
    launcher = TmuxLauncher()
    yield launcher
    launcher.run("kill-server")
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(folder, ignore_errors=True)


def test_the_tmux_launcher_opens_a_window_in_session_maestro(
    tmux: TmuxLauncher, tmp_path: Path, workdir: Path
) -> None:
    out, release = tmp_path / "out.txt", tmp_path / "release"
    spawn = Spawn("sess_tmux", "Fix the bug", "worker", str(workdir), {})
    # The window's program lives until the test has looked at it, however slow tmux is.
    script = (
        f"import os, time; open({str(out)!r}, 'w').write(os.getcwd() + ' ' + "
        f"os.environ['GREETING'])\nwhile not os.path.exists({str(release)!r}): time.sleep(0.05)"
    )
    terminal = tmux.open(spawn, [sys.executable, "-c", script], {"GREETING": "hi"}, workdir)

    names = tmux.run("list-windows", "-t", "maestro", "-F", "#{window_name}").stdout.split("\n")
    assert "Fix the bug" in names
    assert terminal.alive()
    release.touch()
    wait_until(lambda: not terminal.alive(), 10, "the tmux window to close")
    assert out.read_text() == f"{workdir} hi"


# -- maestro runner --once ----------------------------------------------------------------------


def test_runner_once_opens_pending_spawns_waits_for_them_and_opens_nothing_twice(
    server: RunningServer, http: httpx.Client, home: Path, spawn_session: Spawner
) -> None:
    ids = [spawn_session(), spawn_session()]
    agent = python_agent("print('agent ran')")

    first = run_runner(server, home, agent, "--pty", "--once")
    second = run_runner(server, home, agent, "--pty", "--once")

    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["data"] == {"opened": ids, "failed": []}
    assert json.loads(second.stdout)["data"] == {"opened": [], "failed": []}
    for session_id in ids:
        assert session(http, session_id)["status"] == "completed"  # --pty waited for them
        assert "agent ran" in (home / "sessions" / session_id / "terminal.log").read_text()
        assert f"opened session {session_id}" in first.stderr
    state = json.loads((home / "runner" / "state.json").read_text())
    assert state[server.url]["opened"] == ids


def test_runner_once_with_max_concurrent_one_runs_sessions_one_after_another(
    server: RunningServer, http: httpx.Client, home: Path, spawn_session: Spawner
) -> None:
    ids = [spawn_session() for _ in range(3)]
    agent = python_agent("import time; time.sleep(0.3)")

    result = run_runner(server, home, agent, "--pty", "--once", "--max-concurrent", "1")

    assert result.returncode == 0, result.stderr
    sessions = [session(http, session_id) for session_id in ids]
    assert [s["status"] for s in sessions] == ["completed"] * 3
    started = [
        next(e["timestamp"] for e in s["events"] if e["type"] == "agent_started") for s in sessions
    ]
    # Each started only after the one before it had finished, in spawn order.
    for before, start in zip(sessions, started[1:], strict=False):
        assert start >= before["completedAt"]
    assert f"session {ids[1]} waits for a free slot" in result.stderr


def test_runner_once_fails_a_session_whose_working_directory_is_missing(
    server: RunningServer, http: httpx.Client, home: Path, tmp_path: Path, spawn_session: Spawner
) -> None:
    session_id = spawn_session(working_dir=str(tmp_path / "nowhere"))

    result = run_runner(server, home, python_agent("pass"), "--pty", "--once")

    assert json.loads(result.stdout)["data"] == {"opened": [], "failed": [session_id]}
    assert "does not exist" in spawn_failure(session(http, session_id))
    assert f"session {session_id} failed: working directory" in result.stderr


def test_runner_with_tmux_and_pty_together_is_refused(home: Path) -> None:
    never_started = RunningServer(home / "unused")
    result = run_runner(never_started, home, "", "--tmux", "--pty", "--once")

    assert result.returncode == 1
    assert json.loads(result.stdout)["message"] == "choose one of --tmux and --pty"


def test_runner_says_so_when_the_server_is_down(home: Path) -> None:
    down = RunningServer(home / "unused")  # never started: nothing listens on its port
    env = {**runner_env(home, ""), "MAESTRO_RETRIES": "0"}

    result = subprocess.run(
        [sys.executable, "-m", "maestro", "runner", "--server", down.url, "--pty", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 3
    assert "cannot reach the Maestro server" in result.stderr
    assert "Traceback" not in result.stderr


def test_runner_once_with_tmux_opens_windows_and_does_not_wait_for_them(
    tmux: TmuxLauncher,
    server: RunningServer,
    http: httpx.Client,
    home: Path,
    spawn_session: Spawner,
) -> None:
    session_id = spawn_session()
    agent = python_agent("import time; time.sleep(3)")

    result = run_runner(server, home, agent, "--tmux", "--once")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["data"] == {"opened": [session_id], "failed": []}
    assert "tmux window" in result.stderr
    assert session(http, session_id)["status"] != "completed"  # still at work in its window
    wait_until(lambda: session(http, session_id)["status"] == "completed", 20, "the session")
