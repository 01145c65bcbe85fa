"""``maestro session wait``: how an orchestrator waits for its workers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.cli.conftest import Cli
from tests.conftest import RunningServer

MakeSession = Callable[..., dict[str, Any]]


def test_all_completed_exits_0_with_the_sessions(cli: Cli, make_session: MakeSession) -> None:
    first = make_session(status="completed")
    second = make_session(status="completed")
    result = cli("session", "wait", first["id"], second["id"], "--json")
    assert result.code == 0, result.stderr
    assert [s["id"] for s in result.data] == [first["id"], second["id"]]
    assert {s["status"] for s in result.data} == {"completed"}


def test_any_failed_exits_1_and_names_it(cli: Cli, make_session: MakeSession) -> None:
    ok = make_session(status="completed")
    bad = make_session(status="failed", name="Broken worker")
    machine = cli("session", "wait", ok["id"], bad["id"], "--json")
    assert machine.code == 1
    assert machine.json["success"] is False
    assert machine.json["error"] == "SESSION_FAILED"
    assert bad["id"] in machine.json["message"]
    assert [s["status"] for s in machine.json["data"]] == ["completed", "failed"]
    human = cli("session", "wait", ok["id"], bad["id"])
    assert human.code == 1
    assert human.stderr.strip() == f"error: 1 of 2 sessions failed: {bad['id']} (Broken worker)"


def test_timeout_exits_1_with_a_clear_error(cli: Cli, make_session: MakeSession) -> None:
    running = make_session()
    started = time.monotonic()
    result = cli(
        "session", "wait", running["id"], "--timeout", "0.3", "--interval", "0.1", "--json"
    )
    assert time.monotonic() - started < 10
    assert result.code == 1
    assert result.json["error"] == "TIMEOUT"
    assert result.json["message"] == (
        f"timed out after 0.3s; still waiting for {running['id']} (running)"
    )
    assert result.json["data"][0]["status"] == "running"


@pytest.fixture
def finish_later(api: httpx.Client) -> Iterator[Callable[[str, str, float], None]]:
    """Mark a session finished from another thread after a delay, as a worker would."""
    threads: list[threading.Thread] = []

    def schedule(session_id: str, status: str, delay: float) -> None:
        def run() -> None:
            time.sleep(delay)
            api.patch(f"/api/sessions/{session_id}", json={"status": status})

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)

    yield schedule
    for thread in threads:
        thread.join()


def test_waits_until_running_sessions_finish(
    cli: Cli, make_session: MakeSession, finish_later: Callable[[str, str, float], None]
) -> None:
    first = make_session(status="spawning")
    second = make_session()
    started = time.monotonic()
    finish_later(first["id"], "completed", 0.5)
    finish_later(second["id"], "completed", 1.0)
    result = cli(
        "session", "wait", first["id"], second["id"], "--interval", "0.1", "--timeout", "20"
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert time.monotonic() - started >= 1.0
    assert "All sessions completed" in result.stdout
    assert result.stdout.count("completed") >= 2


def test_unknown_session_is_not_found(cli: Cli) -> None:
    result = cli("session", "wait", "sess_missing", "--json")
    assert result.code == 2
    assert result.json["error"] == "SESSION_NOT_FOUND"


def test_a_negative_timeout_is_refused(cli: Cli) -> None:
    result = cli("session", "wait", "sess_x", "--timeout", "-1", "--json")
    assert result.code == 1
    assert result.json["error"] == "VALIDATION_ERROR"


def test_inside_an_agent_session_a_wait_is_bounded_by_default(
    shared_server: RunningServer, make_session: MakeSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Agents' shell tools background a command after ~2 minutes and later kill
    it: inside a session, ``wait`` gives up on its own (shortened here) so the
    agent can repeat it."""
    from typer.testing import CliRunner

    from maestro.cli import sessions

    running = make_session(status="running")
    monkeypatch.setattr(sessions, "AGENT_WAIT_SECONDS", 0.3)
    monkeypatch.setenv("MAESTRO_SERVER_URL", shared_server.url)
    monkeypatch.setenv("MAESTRO_SESSION_ID", "sess_1_orchestrator")
    result = CliRunner().invoke(
        sessions.app, ["wait", running["id"], "--interval", "0.05", "--json"]
    )
    assert result.exit_code == 1
    answer = json.loads(result.stdout)
    assert answer["error"] == "TIMEOUT"
    assert "timed out after 0.3s" in answer["message"]
    monkeypatch.undo()
    assert sessions.AGENT_WAIT_SECONDS < 120  # below Claude Code's 120 s foreground limit
