"""A scripted stand-in for an orchestrating agent (handed over by
``fake_agent.py`` when ``maestro whoami`` says the role is orchestrator).

With the real CLI, as the maestro-orchestrator skill describes: creates two
child tasks under its task, spawns a worker for each with
``maestro session spawn``, waits for both with ``maestro session wait``, and
completes the parent.

Usage: ``python fake_orchestrator.py PROMPT_FILE``
"""

from __future__ import annotations

import sys

from fake_agent import maestro  # the script's own folder is on sys.path

WAIT_SECONDS = "60"


def main() -> int:
    me = maestro("whoami")
    parent = me["tasks"][0]
    project_id = me["projectId"]
    print(f"fake orchestrator: session {me['sessionId']} splitting {parent['id']}")
    maestro("report", "progress", "Splitting the work in two")
    workers = []
    for title in ("Child A", "Child B"):
        child = maestro("task", "create", title, "--project", project_id, "--parent", parent["id"])
        maestro("subtask", "add", child["id"], f"Do {title}")
        spawned = maestro(
            "session", "spawn", "--project", project_id, "--task", child["id"], "--agent", "custom"
        )
        workers.append(spawned["sessionId"])
        print(f"fake orchestrator: spawned {spawned['sessionId']} for {child['id']}")
    maestro("session", "wait", *workers, "--timeout", WAIT_SECONDS, "--interval", "0.3")
    maestro("report", "complete", "Both child tasks are done")
    print("fake orchestrator: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
