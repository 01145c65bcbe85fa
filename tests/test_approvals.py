"""Approvals against real server processes, on both stores: the events over a real
WebSocket (in order, with ``seq``, replayed, filtered by project), long-polls
over real HTTP, expiry by the running server's sweep, and a stop that does not
wait for long-polls. The rules themselves are specified in process, in
``tests/server/test_approvals_inprocess.py``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from maestro.config import ConfigError, Settings
from tests.conftest import RunningServer
from tests.e2e.wsclient import EventStream
from tests.helpers import make_project, make_session, make_task, ok


def file_approval(http: httpx.Client, session_id: str, **fields: Any) -> dict[str, Any]:
    body = {"tool": "Bash", "input": {"command": "make deploy"}, **fields}
    response = http.post(f"/api/sessions/{session_id}/approvals", json=body)
    approval: dict[str, Any] = ok(response, 201)
    return approval


def new_session(http: httpx.Client) -> dict[str, Any]:
    project = make_project(http)
    task = make_task(http, project["id"])
    return make_session(http, project["id"], [task["id"]])


def in_background(call: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[Any]]:
    """Run ``call`` in a thread; the list gets its response (or error) and the time
    it took."""
    result: list[Any] = []

    def run() -> None:
        started = time.monotonic()
        try:
            result.append(call())
        except Exception as error:
            result.append(error)
        result.append(time.monotonic() - started)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_approval_events_come_in_order_with_seq_and_replay(
    api: httpx.Client, shared_server: RunningServer
) -> None:
    session = new_session(api)
    project_id = session["projectId"]
    other = new_session(api)  # another project's approvals are not in the filtered stream
    start = ok(api.get("/health"))["latestSeq"]
    with (
        EventStream(shared_server.ws_url) as everything,
        EventStream(f"{shared_server.ws_url}?projectId={project_id}") as mine,
    ):
        approval = file_approval(api, session["id"])
        file_approval(api, other["id"])
        decided = ok(
            api.post(
                f"/api/approvals/{approval['id']}/decision",
                json={"decision": "allow", "remember": True, "decidedBy": "test"},
            )
        )
        all_seen = everything.sync()
        seen = mine.sync()
    seqs = [m["seq"] for m in all_seen]
    assert seqs == list(range(start + 1, start + 1 + len(all_seen)))
    assert [m["type"] for m in seen] == [
        "approval:created",
        "session:updated",
        "approval:decided",
        "project:updated",
        "session:updated",
    ]
    assert all(m["event"] == m["type"] for m in seen)
    assert seen[0]["data"] == approval
    assert seen[2]["data"] == decided
    assert "Bash(make deploy)" in seen[3]["data"]["permissions"]["allow"]
    assert [m["data"]["attention"] for m in (seen[1], seen[4])] == ["approval", None]
    assert seqs == sorted(seqs) and {m["seq"] for m in seen} <= set(seqs)
    # The same events, replayed.
    with EventStream(f"{shared_server.ws_url}?since={start}&projectId={project_id}") as replay:
        assert replay.sync() == seen
    with EventStream(f"{shared_server.ws_url}?since={start}") as replay:
        assert replay.sync() == all_seen


def test_a_long_poll_over_http_is_woken_by_the_decision(
    api: httpx.Client, shared_server: RunningServer
) -> None:
    approval = file_approval(api, new_session(api)["id"])
    path = f"/api/approvals/{approval['id']}"
    with httpx.Client(base_url=shared_server.url, timeout=30) as waiter:
        thread, result = in_background(lambda: waiter.get(path, params={"wait": "20"}))
        time.sleep(0.3)
        assert thread.is_alive(), "the long-poll should be waiting"
        decided = ok(api.post(f"{path}/decision", json={"decision": "deny", "message": "no"}))
        thread.join(10)
    answer, elapsed = result
    assert ok(answer) == decided
    assert elapsed < 5, f"the decision took {elapsed:.1f}s to end the long-poll"


def test_the_running_server_expires_an_undecided_approval(server_factory: Any) -> None:
    server: RunningServer = server_factory(MAESTRO_APPROVAL_TIMEOUT="0.5")
    with (
        httpx.Client(base_url=server.url, timeout=30) as http,
        EventStream(server.ws_url) as events,
    ):
        session = new_session(http)
        approval = file_approval(http, session["id"])
        assert approval["expiresAt"] == approval["createdAt"] + 500
        expired = ok(http.get(f"/api/approvals/{approval['id']}", params={"wait": "10"}))
        seen = events.sync()
    assert (expired["status"], expired["decision"], expired["decidedBy"]) == (
        "expired",
        "deny",
        "maestro",
    )
    decided = [m for m in seen if m["type"] == "approval:decided"]
    assert [m["data"] for m in decided] == [expired]
    assert seen[-1]["type"] == "session:updated" and seen[-1]["data"]["attention"] is None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopping_server_answers_its_long_polls_at_once(server_factory: Any, signum: int) -> None:
    server: RunningServer = server_factory()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        approval = file_approval(http, new_session(http)["id"])
        path = f"/api/approvals/{approval['id']}"
        polls = [in_background(lambda: http.get(path, params={"wait": "60"})) for _ in range(3)]
        time.sleep(0.5)
        assert server.process is not None
        stopped = time.monotonic()
        server.process.send_signal(signum)
        for thread, _ in polls:
            thread.join(10)
        exit_code = server.process.wait(10)
        took = time.monotonic() - stopped
    for _, (answer, _) in polls:
        assert ok(answer) == approval, "answered with the approval as it was"
    assert exit_code == 0
    # The stop drains for half a second; uvicorn's grace for open requests is 10 s.
    assert took < 5, f"the stop took {took:.1f}s: it waited for the long-polls"


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "inf", "86401"])
def test_a_bad_approval_timeout_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="MAESTRO_APPROVAL_TIMEOUT must be a number of seconds"):
        Settings.load(env={"MAESTRO_APPROVAL_TIMEOUT": value})


def test_the_approval_timeout_is_read_in_seconds() -> None:
    assert Settings.load(env={}).approval_timeout == 600
    assert Settings.load(env={"MAESTRO_APPROVAL_TIMEOUT": "1.5"}).approval_timeout == 1.5
    assert Settings.load(env={"MAESTRO_APPROVAL_TIMEOUT": "86400"}).approval_timeout == 86400


@pytest.mark.slow  # starts a process (it stops at once)
def test_a_bad_approval_timeout_stops_the_server_with_the_reason(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    env["MAESTRO_APPROVAL_TIMEOUT"] = "soon"
    command = [sys.executable, "-m", "maestro", "serve", "--data-dir", str(tmp_path / "d")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "MAESTRO_APPROVAL_TIMEOUT must be a number of seconds, got 'soon'" in done.stderr
