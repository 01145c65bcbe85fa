"""A scripted stand-in for a coding agent, started by ``maestro worker init``
through the ``custom`` adapter (``MAESTRO_AGENT_COMMAND``).

It does what the maestro-worker skill asks of a real agent, with the real CLI:
reads ``maestro whoami --json``, checks the prompt file it was given is the
brief, reports progress, ticks the task's subtasks off and reports completion.

Lines in a task's description script it further: ``fake-agent: run COMMAND``
runs COMMAND (``sh -c``, in the directory the agent was started in, its
worktree if it has one) after reporting progress, each in order;
``fake-agent: sleep SECONDS`` waits before completing; ``fake-agent: exit N``
makes it fail with exit code N after the commands. An orchestrator session is handed over to
``fake_orchestrator.py``.

Usage: ``python fake_agent.py PROMPT_FILE``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CLI_TIMEOUT = 60


def maestro(*args: str) -> Any:
    """Run ``maestro ARGS --json`` with this interpreter; stop the agent on failure."""
    result = subprocess.run(
        [sys.executable, "-m", "maestro", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    try:
        envelope = json.loads(result.stdout)
    except ValueError:
        envelope = {"success": False}
    if result.returncode != 0 or not envelope.get("success"):
        print(f"fake agent: `maestro {' '.join(args)}` failed: {result.stdout}{result.stderr}")
        sys.exit(20)
    return envelope["data"]


def directives(tasks: list[dict[str, Any]], name: str) -> list[str]:
    """The values of the ``fake-agent: NAME VALUE`` lines of the tasks, in order."""
    found = []
    for task in tasks:
        for line in task.get("description", "").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "fake-agent" and value.strip().startswith(name):
                found.append(value.strip()[len(name) :].strip())
    return found


def directive(tasks: list[dict[str, Any]], name: str) -> str | None:
    found = directives(tasks, name)
    return found[0] if found else None


def main() -> int:
    prompt_file = Path(sys.argv[1])
    me = maestro("whoami")
    if me["role"] == "orchestrator":
        orchestrator = Path(__file__).with_name("fake_orchestrator.py")
        os.execv(sys.executable, [sys.executable, str(orchestrator), *sys.argv[1:]])
    if prompt_file.read_text(encoding="utf-8") != me["brief"]:
        print("fake agent: the prompt file is not the brief `maestro whoami` shows")
        return 10
    print(f"fake agent: session {me['sessionId']} working on {', '.join(me['taskIds'])}")
    maestro("report", "progress", "Fake agent started")
    for command in directives(me["tasks"], "run"):
        print(f"fake agent: running {command}")
        subprocess.run(["sh", "-c", command], check=True, timeout=CLI_TIMEOUT)
    for seconds in directives(me["tasks"], "sleep"):
        time.sleep(float(seconds))
    exit_code = directive(me["tasks"], "exit")
    if exit_code is not None:
        print(f"fake agent: failing with exit code {exit_code} as asked")
        return int(exit_code)
    for task in me["tasks"]:
        for subtask in task["subtasks"]:
            if not subtask["completed"]:
                maestro("subtask", "done", task["id"], subtask["id"])
                print(f"fake agent: ticked subtask {subtask['title']}")
    maestro("report", "complete", "Fake agent finished")
    print("fake agent: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
