"""The brief is deterministic: pinned by golden files (regenerate with
UPDATE_GOLDEN=1 after an intended change, and review the diff)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from maestro.agents.prompt import RECENT_TIMELINE, BriefContext, build_brief
from maestro.skills import Skill

GOLDEN = Path(__file__).parent / "golden"
T0 = 1_706_790_000_000


def task(task_id: str, title: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": task_id,
        "projectId": "proj_1",
        "parentId": None,
        "title": title,
        "description": "",
        "initialPrompt": "",
        "status": "pending",
        "priority": "medium",
        "dependencies": [],
        "subtasks": [],
        "timeline": [
            {"id": "evt_0", "type": "created", "timestamp": T0, "message": "Task created"}
        ],
    }
    return {**base, **fields}


PROJECT = {"id": "proj_1", "name": "Shop", "workingDir": "/src/shop", "description": "A web shop."}
WORKER_SKILL = Skill(
    "maestro-worker", "Report progress", "builtin", Path("/skills/w"), "Run `maestro report`.\n"
)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_worker_brief_matches_golden() -> None:
    parent = task("task_parent", "Checkout", status="in_progress")
    dependency = task("task_dep", "Payment API", status="completed")
    main = task(
        "task_main",
        "Add a cart page",
        parentId="task_parent",
        dependencies=["task_dep", "task_gone"],
        description="Show the cart with totals.",
        initialPrompt="Use the existing layout component.",
        priority="high",
        subtasks=[
            {"id": "sub_1", "title": "Route", "completed": True},
            {"id": "sub_2", "title": "Totals", "completed": False},
        ],
        timeline=[
            {"id": "evt_0", "type": "created", "timestamp": T0, "message": "Task created"},
            {"id": "evt_1", "type": "update", "timestamp": T0 + 60_000, "message": "Route done"},
        ],
    )
    context = BriefContext(
        session_id="sess_1",
        role="worker",
        project=PROJECT,
        tasks=[main],
        related={"task_parent": parent, "task_dep": dependency},
        skills=[WORKER_SKILL],
    )
    check_golden("worker_brief.md", build_brief(context))


def test_orchestrator_brief_with_two_tasks_and_a_missing_skill_matches_golden() -> None:
    context = BriefContext(
        session_id="sess_2",
        role="orchestrator",
        project={**PROJECT, "description": ""},
        tasks=[task("task_a", "Search"), task("task_b", "Filters")],
        missing_skills=["not-installed"],
    )
    check_golden("orchestrator_brief.md", build_brief(context))


def test_the_same_context_gives_the_same_brief() -> None:
    context = BriefContext("sess_3", "worker", PROJECT, [task("task_a", "A")])
    assert build_brief(context) == build_brief(context)


@pytest.mark.parametrize("extra", [0, 5])
def test_only_the_most_recent_timeline_entries_are_included(extra: int) -> None:
    count = RECENT_TIMELINE + extra
    timeline = [
        {"id": f"evt_{i}", "type": "update", "timestamp": T0, "message": f"entry {i}"}
        for i in range(count)
    ]
    brief = build_brief(BriefContext("s", "worker", PROJECT, [task("t", "T", timeline=timeline)]))
    assert f"entry {count - 1}" in brief
    assert ("entry 0\n" in brief) == (extra == 0)
