"""`maestro worker init` / `orchestrator init`, `whoami` and the plugin hooks, run
as real processes against a real server, with small scripted agents."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import heavy_modules_loaded
from tests.conftest import RunningServer
from tests.helpers import request_spawn

pytestmark = pytest.mark.slow  # runs worker init as a process


def spawn(api: httpx.Client, project: dict[str, Any], task: dict[str, Any], **fields: Any) -> str:
    """A session spawned on ``task``, for the ``custom`` agent unless ``fields`` say otherwise."""
    return request_spawn(api, project["id"], [task["id"]], **{"agent": "custom", **fields})


def session_env(api: httpx.Client, session_id: str, home: Path, agent: str) -> dict[str, str]:
    """The environment the runner would give the terminal."""
    session = api.get(f"/api/sessions/{session_id}").json()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    env.update(session["env"])
    env["MAESTRO_SERVER_URL"] = str(api.base_url).rstrip("/")
    env["MAESTRO_HOME"] = str(home)
    env["MAESTRO_AGENT_COMMAND"] = agent
    env["MAESTRO_RETRIES"] = "0"
    return env


def agent_script(tmp_path: Path, body: str) -> str:
    script = tmp_path / "agent.py"
    script.write_text("import os, sys, subprocess, json, signal, time\n" + body)
    return f"{sys.executable} {script} {{prompt_file}}"


def run(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maestro", *args],
        env=env, capture_output=True, text=True, timeout=60, **kwargs,
    )  # fmt: skip


def init_worker(
    api: httpx.Client, session_id: str, tmp_path: Path, agent_code: str
) -> subprocess.CompletedProcess[str]:
    """``maestro worker init`` in the session's terminal, the agent running ``agent_code``."""
    agent = agent_script(tmp_path, agent_code)
    return run(["worker", "init"], session_env(api, session_id, tmp_path, agent))


def events(api: httpx.Client, session_id: str) -> list[str]:
    return [e["type"] for e in api.get(f"/api/sessions/{session_id}").json()["events"]]


def test_init_runs_the_agent_and_marks_the_session_completed(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    agent_code = "print('agent read', open(sys.argv[1]).readline().strip())\n"
    result = init_worker(api, session_id, tmp_path, agent_code)
    assert result.returncode == 0, result.stderr
    assert f"agent read # Maestro session {session_id}" in result.stdout
    session = api.get(f"/api/sessions/{session_id}").json()
    assert session["status"] == "completed"
    assert events(api, session_id) == ["agent_started", "agent_exited", "no_reports"]
    assert "finished without reporting" in result.stderr
    files = tmp_path / "sessions" / session_id
    assert "agent read" in (files / "output.log").read_text()
    assert (files / "brief.md").read_text().startswith(f"# Maestro session {session_id}")


def test_the_session_is_running_while_the_agent_works(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    url = str(api.base_url).rstrip("/")
    result = init_worker(
        api,
        session_id,
        tmp_path,
        "import urllib.request\n"
        f"s = json.load(urllib.request.urlopen('{url}/api/sessions/{session_id}'))\n"
        "print('status-seen', s['status'])\n",
    )
    assert "status-seen running" in result.stdout


def test_an_agent_exiting_non_zero_fails_the_session_with_its_exit_code(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    result = init_worker(api, session_id, tmp_path, "sys.exit(7)\n")
    assert result.returncode == 7
    session = api.get(f"/api/sessions/{session_id}").json()
    assert session["status"] == "failed"
    assert session["events"][-1]["data"] == {
        "exitCode": 7,
        "reason": "the agent exited with code 7",
    }


def test_the_agent_finds_this_maestro_first_on_its_path_without_an_activated_venv(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    agent = agent_script(
        tmp_path,
        "import shutil\n"
        "print('maestro-at', shutil.which('maestro'))\n"
        "r = subprocess.run(['maestro', 'report', 'progress', 'from the agent'])\n"
        "sys.exit(r.returncode)\n",
    )
    env = session_env(api, session_id, tmp_path, agent)
    env["PATH"] = "/usr/bin:/bin"  # nothing activated: no virtualenv on PATH
    result = run(["worker", "init"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"maestro-at {Path(sys.executable).parent / 'maestro'}" in result.stdout
    session = api.get(f"/api/sessions/{session_id}").json()
    assert session["status"] == "completed"
    assert "report:progress" in [e["type"] for e in session["events"]]
    timeline = api.get(f"/api/tasks/{task['id']}").json()["timeline"]
    assert timeline[-1]["message"] == "from the agent"


def test_the_brief_reaches_the_agent_on_stdin_even_when_huge(
    api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    description = "".join(f"line {i} of a long task description\n" for i in range(4000))
    assert len(description) > 140_000
    created = api.post(
        "/api/tasks",
        json={"projectId": project["id"], "title": "Huge", "description": description},
    ).json()
    session_id = spawn(api, project, created, agent="claude")
    fake_claude = tmp_path / "bin" / "claude"
    fake_claude.parent.mkdir()
    # Stands in for Claude Code's stream-json output (the real CLI is driven in
    # tests/realagents); here only what init passes matters.
    fake_claude.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "brief = sys.stdin.read()\n"
        "print(json.dumps({'type': 'result', 'subtype': 'success', 'is_error': False,\n"
        "    'result': f'{len(brief)} {max(map(len, sys.argv))}',\n"
        "    'session_id': 'c1', 'num_turns': 1, 'usage': {}}))\n"
    )
    fake_claude.chmod(0o755)
    env = session_env(api, session_id, tmp_path, "unused")
    env["PATH"] = f"{fake_claude.parent}:{env['PATH']}"
    result = run(["worker", "init"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    session = api.get(f"/api/sessions/{session_id}").json()
    answer = next(e for e in session["events"] if e["type"] == "agent_result")["data"]["text"]
    read, longest_arg = (int(number) for number in answer.split())
    assert read > 140_000
    assert longest_arg < 4096
    assert session["agentSessionId"] == "c1"


def test_init_with_a_bad_environment_explains_and_marks_the_session_failed(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    env = session_env(api, session_id, tmp_path, "unused")
    del env["MAESTRO_TASK_IDS"]
    result = run(["worker", "init"], env)
    assert result.returncode == 1
    assert "MAESTRO_TASK_IDS is missing" in result.stderr
    assert "Traceback" not in result.stderr
    session = api.get(f"/api/sessions/{session_id}").json()
    assert session["status"] == "failed"
    assert session["events"][-1]["type"] == "init_failed"
    assert "MAESTRO_TASK_IDS" in session["events"][-1]["data"]["reason"]


def test_init_with_the_wrong_role_is_refused(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    result = run(["orchestrator", "init"], session_env(api, session_id, tmp_path, "unused"))
    assert result.returncode == 1
    assert "this is `maestro orchestrator init`" in result.stderr


def test_init_on_a_finished_session_refuses_and_changes_nothing(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    api.patch(f"/api/sessions/{session_id}", json={"status": "completed"})
    result = run(["worker", "init", "--json"], session_env(api, session_id, tmp_path, "unused"))
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "SESSION_FINISHED"
    assert api.get(f"/api/sessions/{session_id}").json()["status"] == "completed"


def test_an_unknown_skill_is_a_warning_and_a_session_event_not_a_crash(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task, skills=["maestro-worker", "no-such-skill"])
    result = init_worker(api, session_id, tmp_path, "pass\n")
    assert result.returncode == 0
    assert "skill 'no-such-skill' is not installed" in result.stderr
    assert "skill_missing" in events(api, session_id)


def test_an_agent_that_cannot_start_fails_the_session(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    env = session_env(api, session_id, tmp_path, "/no/such/agent-binary {prompt_file}")
    result = run(["worker", "init"], env)
    assert result.returncode == 1
    assert "could not start the agent" in result.stderr
    assert api.get(f"/api/sessions/{session_id}").json()["status"] == "failed"


def test_sigterm_is_forwarded_to_the_agent(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    marker = tmp_path / "got-sigterm"
    agent = agent_script(
        tmp_path,
        f"signal.signal(signal.SIGTERM, lambda *a: (open({str(marker)!r}, 'w').close(), "
        "sys.exit(0)))\nprint('ready', flush=True)\ntime.sleep(30)\n",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "maestro", "worker", "init"],
        env=session_env(api, session_id, tmp_path, agent),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    assert "ready" in process.stdout.readline()
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert marker.exists()
    assert api.get(f"/api/sessions/{session_id}").json()["status"] == "completed"


def test_whoami_gives_the_structured_context_and_the_same_brief(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    env = session_env(api, session_id, tmp_path, "unused")
    result = run(["whoami", "--json"], env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)["data"]
    assert data["sessionId"] == session_id
    assert data["role"] == "worker"
    assert data["taskIds"] == [task["id"]]
    assert data["tasks"][0]["title"] == task["title"]
    assert data["skills"] == ["maestro-worker"]
    assert data["brief"].startswith(f"# Maestro session {session_id}")
    plain = run(["whoami"], env)
    assert data["brief"].strip() in plain.stdout


def test_whoami_outside_a_session_says_so(shared_server: RunningServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    env["MAESTRO_SERVER_URL"] = shared_server.url
    result = run(["whoami"], env)
    assert result.returncode == 1
    assert "not a valid Maestro session" in result.stderr


@pytest.mark.parametrize(
    ("hook", "stdin", "status", "event"),
    [
        ("session-start", {"source": "startup"}, "spawning", "agent_session_start"),
        ("session-end", {"reason": "exit"}, "spawning", "agent_session_end"),
        ("file-modified", {"tool_name": "Edit", "tool_input": {"file_path": "/src/a.py"}},
         "spawning", "file_modified"),
    ],
)  # fmt: skip
def test_plugin_hooks_report_to_the_session(
    api: httpx.Client,
    project: dict[str, Any],
    task: dict[str, Any],
    tmp_path: Path,
    hook: str,
    stdin: dict[str, Any],
    status: str,
    event: str,
) -> None:
    session_id = spawn(api, project, task)
    env = session_env(api, session_id, tmp_path, "unused")
    result = run(["hook", hook], env, input=json.dumps(stdin))
    assert result.returncode == 0, result.stderr
    session = api.get(f"/api/sessions/{session_id}").json()
    assert session["status"] == status
    assert session["events"][-1]["type"] == event
    if hook == "file-modified":
        assert session["events"][-1]["data"] == {"path": "/src/a.py", "tool": "Edit"}


def test_the_session_start_hook_records_claudes_session_id(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    env = session_env(api, session_id, tmp_path, "unused")
    payload = {"source": "startup", "session_id": "c-123", "transcript_path": "/t/c-123.jsonl"}
    assert run(["hook", "session-start"], env, input=json.dumps(payload)).returncode == 0
    session = api.get(f"/api/sessions/{session_id}").json()
    assert session["agentSessionId"] == "c-123"
    assert session["events"][-1]["data"] == {
        "source": "startup",
        "agentSessionId": "c-123",
        "transcriptPath": "/t/c-123.jsonl",
    }


def test_a_hook_never_fails_the_agent_even_when_the_server_is_down(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    env.update(MAESTRO_SESSION_ID="sess_x", MAESTRO_SERVER_URL="http://127.0.0.1:9",
               MAESTRO_RETRIES="0")  # fmt: skip
    started = time.monotonic()
    result = run(["hook", "session-start"], env, input="{}")
    assert result.returncode == 0
    assert "cannot reach the Maestro server" in result.stderr
    assert time.monotonic() - started < 30


def test_whoami_in_a_session_imports_only_yaml_of_the_heavy_modules(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    env = session_env(api, session_id, tmp_path, "unused")
    assert heavy_modules_loaded("whoami", "--json", env=env) == {"yaml"}  # the skills


def test_a_hook_in_a_session_imports_no_heavy_module(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    env = session_env(api, session_id, tmp_path, "unused")
    stdin = json.dumps({"tool_name": "Edit", "tool_input": {"file_path": "/src/a.py"}})
    assert heavy_modules_loaded("hook", "file-modified", env=env, stdin=stdin) == set()
    assert events(api, session_id)[-1] == "file_modified"


def test_a_hook_with_unexpected_input_still_records_the_event(
    api: httpx.Client, project: dict[str, Any], task: dict[str, Any], tmp_path: Path
) -> None:
    session_id = spawn(api, project, task)
    env = session_env(api, session_id, tmp_path, "unused")
    result = run(["hook", "file-modified"], env, input='{"tool_input": "not an object"}')
    assert result.returncode == 0, result.stderr
    event = api.get(f"/api/sessions/{session_id}").json()["events"][-1]
    assert (event["type"], event["data"]) == ("file_modified", {"path": None, "tool": None})
