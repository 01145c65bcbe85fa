"""The agent's side of live activity (``agents.activity.ActivityForwarder``)
against a real server: which transcript lines go, in batches, what happens while
the server is away, and that ``worker init`` forwards what the agent shows."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from maestro.agents.activity import INTERVAL_SECONDS, ActivityForwarder, kind_of
from maestro.client import HttpClient
from tests.agents.test_init import run, session_env, spawn
from tests.conftest import RunningServer
from tests.helpers import make_project, make_session, make_task, ok, wait_until


def activity(api: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = ok(api.get(f"/api/sessions/{session_id}/activity"))["entries"]
    return entries


def forwarder(url: str, session_id: str) -> ActivityForwarder:
    return ActivityForwarder(HttpClient(url, retries=0, timeout=3), session_id)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("I will read the failing test first.", "assistant"),
        ("→ Bash: pytest -q", "tool"),
        ("→ edit: src/a.py", "tool"),
        ("● Claude Code session c1 (claude-sonnet-4-5)", "status"),
        ("● done: fixed", "status"),
        ("  7 turns, 1200 in / 340 out tokens, $0.0421", "status"),
        ("  ← 3 passed (+2 lines)", None),
        ("  ✗ exit status 1", None),
        ("   ", None),
    ],
)
def test_each_transcript_line_has_its_kind_and_results_stay_in_the_log(
    line: str, kind: str | None
) -> None:
    assert kind_of(line) == kind


def test_lines_reach_the_session_in_order_in_a_few_batches(
    api: httpx.Client, shared_server: RunningServer, project: dict[str, Any]
) -> None:
    session_id = make_session(api, project["id"], [])["id"]
    started = time.monotonic()
    with forwarder(shared_server.url, session_id) as sending:
        for k in range(20):  # an agent showing 20 lines a second
            sending.add([f"→ Bash: step {k}"])
            time.sleep(0.05)
    elapsed = time.monotonic() - started
    assert [e["text"] for e in activity(api, session_id)] == [
        f"→ Bash: step {k}" for k in range(20)
    ]
    assert sending.sent == 20
    # At most one request per interval (plus the first line and the last flush).
    assert sending.batches <= elapsed / INTERVAL_SECONDS + 2
    assert sending.batches < 20


def test_only_the_lines_worth_showing_are_sent_with_their_kind(
    api: httpx.Client, shared_server: RunningServer, project: dict[str, Any]
) -> None:
    session_id = make_session(api, project["id"], [])["id"]
    shown = ["Looking at it", "→ Read: a.py", "  ← 10 lines", "  ✗ boom", "● done: ok"]
    with forwarder(shared_server.url, session_id) as sending:
        sending.add(shown)
    assert [(e["kind"], e["text"]) for e in activity(api, session_id)] == [
        ("assistant", "Looking at it"),
        ("tool", "→ Read: a.py"),
        ("status", "● done: ok"),
    ]


def test_close_sends_everything_still_queued(
    api: httpx.Client, shared_server: RunningServer, project: dict[str, Any]
) -> None:
    session_id = make_session(api, project["id"], [])["id"]
    sending = forwarder(shared_server.url, session_id).__enter__()
    sending.add([f"line {k}" for k in range(250)])  # more than one request takes
    sending.close()
    assert len(activity(api, session_id)) == 250


def test_lines_lost_while_the_server_is_away_are_counted_in_the_next_batch(
    server: RunningServer, http: httpx.Client
) -> None:
    project = make_project(http)
    session_id = make_session(http, project["id"], [make_task(http, project["id"])["id"]])["id"]
    with forwarder(server.url, session_id) as sending:
        sending.add(["before"])
        wait_until(lambda: sending.sent == 1, 5, "the first line to be sent")
        server.stop()
        sending.add(["lost 1", "lost 2", "lost 3"])
        wait_until(lambda: sending.dropped == 3, 5, "the lines to be counted as dropped")
        server.start()
        sending.add(["after"])
    # The log is the server's memory: what came before the restart is gone.
    assert [(e["kind"], e["text"]) for e in activity(http, session_id)] == [
        ("status", "(3 lines not forwarded)"),
        ("assistant", "after"),
    ]


def test_a_server_out_of_reach_never_holds_the_agent_up() -> None:
    sending = forwarder("http://127.0.0.1:9", "sess_1").__enter__()
    started = time.monotonic()
    sending.add(["→ Bash: ls"] * 5)
    sending.add(["→ Bash: ls"] * 2000)  # over the queue's bound: the oldest go
    assert time.monotonic() - started < 0.5
    sending.close()
    assert sending.sent == 0
    assert sending.dropped + len(sending.pending) == 2005


def test_worker_init_forwards_what_the_agent_shows(
    api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    task = make_task(api, project["id"])
    session_id = spawn(api, project, task, agent="claude")
    fake_claude = tmp_path / "bin" / "claude"
    fake_claude.parent.mkdir()
    # Claude Code's stream-json, cut to what the transcript shows.
    fake_claude.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "sys.stdin.read()\n"
        "def say(event): print(json.dumps(event), flush=True)\n"
        "say({'type': 'system', 'subtype': 'init', 'session_id': 'c1', 'model': 'm'})\n"
        "say({'type': 'assistant', 'message': {'content': [\n"
        "    {'type': 'text', 'text': 'Listing the files.'},\n"
        "    {'type': 'tool_use', 'id': 't1', 'name': 'Bash', 'input': {'command': 'ls'}}]}})\n"
        "say({'type': 'user', 'message': {'content': [\n"
        "    {'type': 'tool_result', 'tool_use_id': 't1', 'content': 'a.py'}]}})\n"
        "say({'type': 'result', 'subtype': 'success', 'is_error': False, 'result': 'ok',\n"
        "    'session_id': 'c1', 'num_turns': 1, 'usage': {}})\n"
    )
    fake_claude.chmod(0o755)
    env = session_env(api, session_id, tmp_path, "unused")
    env["PATH"] = f"{fake_claude.parent}:{env['PATH']}"
    result = run(["worker", "init"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    entries = activity(api, session_id)
    assert [(e["kind"], e["text"]) for e in entries[:4]] == [
        ("status", "● Claude Code session c1 (m)"),
        ("assistant", "Listing the files."),
        ("tool", "→ Bash: ls"),
        ("status", "● done: ok"),
    ]
    assert [e["kind"] for e in entries[4:]] == ["status"]  # the usage line
