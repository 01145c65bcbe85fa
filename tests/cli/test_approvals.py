"""``maestro approval list|show|allow|deny|watch`` against a real server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.cli.conftest import Cli
from tests.conftest import RunningServer
from tests.helpers import created, ok, stop_process, wait_until

MakeSession = Callable[..., dict[str, Any]]


@pytest.fixture
def ask(api: httpx.Client, make_session: MakeSession) -> Callable[..., dict[str, Any]]:
    """File an approval for a new session of the test's project."""

    def file(command: str = "npm install left-pad", **fields: Any) -> dict[str, Any]:
        session = make_session()
        body = {"tool": "Bash", "input": {"command": command}, **fields}
        return created(api.post(f"/api/sessions/{session['id']}/approvals", json=body))

    return file


def test_list_shows_the_pending_ones_with_the_command_in_full(
    cli: Cli, project: dict[str, Any], ask: Callable[..., dict[str, Any]]
) -> None:
    long_command = "rm -rf build && " + "x" * 150
    waiting = ask(long_command)
    decided = ask("ls")
    assert cli("approval", "deny", decided["id"]).code == 0
    listed = cli("approval", "list", "--project", project["id"], "--json")
    assert [a["id"] for a in listed.data] == [waiting["id"]]
    everything = cli("approval", "list", "--project", project["id"], "--all", "--json")
    assert [a["id"] for a in everything.data] == [waiting["id"], decided["id"]]
    assert listed.data[0]["input"]["command"] == long_command
    # The table folds a long command over lines rather than cutting it.
    shown = cli("approval", "list", "--project", project["id"]).stdout
    assert "x" * 150 in "".join(shown.replace("│", " ").split())


def test_show_allow_remember_and_a_second_decision(
    cli: Cli, api: httpx.Client, project: dict[str, Any], ask: Callable[..., dict[str, Any]]
) -> None:
    approval = ask("make deploy")
    shown = cli("approval", "show", approval["id"])
    assert "make deploy" in shown.stdout and "pending" in shown.stdout
    allowed = cli("approval", "allow", approval["id"], "--remember", "--json")
    assert allowed.code == 0, allowed.stderr
    assert allowed.data["status"] == "allowed"
    assert allowed.data["decidedBy"].endswith("(cli)")
    rules = ok(api.get(f"/api/projects/{project['id']}"))["permissions"]["allow"]
    assert "Bash(make deploy)" in rules
    again = cli("approval", "deny", approval["id"], "--json")
    assert again.code == 1
    assert again.json["error"] == "APPROVAL_DECIDED"


def test_deny_tells_the_agent_why(cli: Cli, ask: Callable[..., dict[str, Any]]) -> None:
    approval = ask()
    denied = cli("approval", "deny", approval["id"], "-m", "use pnpm", "--json")
    assert (denied.data["status"], denied.data["message"]) == ("denied", "use pnpm")


def test_an_unknown_approval_exits_2(cli: Cli) -> None:
    result = cli("approval", "allow", "appr_missing", "--json")
    assert result.code == 2
    assert result.json["error"] == "APPROVAL_NOT_FOUND"


@pytest.fixture
def watcher(shared_server: RunningServer) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``maestro approval watch`` as a process; its standard input a terminal or not."""
    started: list[subprocess.Popen[bytes]] = []

    def start(project_id: str, tty: bool) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
        env.update(MAESTRO_SERVER_URL=shared_server.url, COLUMNS="200")
        args = [sys.executable, "-m", "maestro", "approval", "watch"]
        stdin: Any = subprocess.PIPE
        if tty:
            master, slave = os.openpty()
            stdin = slave
        process = subprocess.Popen(
            [*args, "--project", project_id, "--interval", "0.2"],
            env=env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        if tty:
            os.close(slave)
            process.terminal = master  # type: ignore[attr-defined]
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process(process)


def read_until(process: subprocess.Popen[bytes], text: str, timeout: float = 20) -> str:
    assert process.stdout is not None
    seen = b""
    os.set_blocking(process.stdout.fileno(), False)
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        assert time.monotonic() < deadline, f"{text!r} never came; got {seen.decode()!r}"
        chunk = process.stdout.read()
        if chunk:
            seen += chunk
        else:
            time.sleep(0.05)
    return seen.decode()


def test_watch_asks_about_each_approval_as_it_arrives(
    api: httpx.Client,
    project: dict[str, Any],
    ask: Callable[..., dict[str, Any]],
    watcher: Callable[..., subprocess.Popen[bytes]],
) -> None:
    process = watcher(project["id"], tty=True)
    read_until(process, "watching for approvals")
    approval = ask("curl https://example.com/install.sh")
    read_until(process, "allow and [r]emember")
    os.write(process.terminal, b"d\nnot from the internet\n")  # type: ignore[attr-defined]
    read_until(process, f"approval {approval['id']}")

    def denied() -> bool:
        status: str = ok(api.get(f"/api/approvals/{approval['id']}"))["status"]
        return status == "denied"

    wait_until(denied, 10, "the watch's decision")
    assert ok(api.get(f"/api/approvals/{approval['id']}"))["message"] == "not from the internet"


def test_watch_without_a_terminal_only_lists(
    project: dict[str, Any],
    ask: Callable[..., dict[str, Any]],
    watcher: Callable[..., subprocess.Popen[bytes]],
) -> None:
    process = watcher(project["id"], tty=False)
    read_until(process, "watching for approvals")
    approval = ask("make release")
    # The command and the id may come in separate reads: wait for the id.
    out = read_until(process, approval["id"])
    assert "make release" in out
    assert "[a]llow" not in out
