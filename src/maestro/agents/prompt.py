"""The brief an agent starts with: a deterministic text built from the session's
tasks (title, description, initial prompt, subtasks, dependencies, parent,
recent timeline), its role, and its skills' instructions.

Deterministic means: the same stored state gives byte-for-byte the same brief
(times are printed in UTC, lists keep their stored order), so golden-file tests
can pin it and `maestro whoami` shows exactly what the agent was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from maestro.agents.permissions import Policy, brief_section
from maestro.skills import Skill

RECENT_TIMELINE = 10

_ROLE_INTRO = {
    "worker": (
        "You are a Maestro worker agent. Do the task(s) below in the working directory, "
        "reporting progress with the `maestro` CLI as the skills below explain."
    ),
    "orchestrator": (
        "You are a Maestro orchestrator agent. Split the task(s) below into child tasks "
        "and subtasks, spawn worker agents for them, watch them, and complete the "
        "task(s) when the work is done, using the `maestro` CLI as the skills below explain."
    ),
}


@dataclass(frozen=True)
class BriefContext:
    """Everything the brief is built from, as the API returns it."""

    session_id: str
    role: str
    project: dict[str, Any]
    tasks: list[dict[str, Any]]
    related: dict[str, dict[str, Any]] = field(default_factory=dict)  # parents, dependencies
    skills: list[Skill] = field(default_factory=list)
    missing_skills: list[str] = field(default_factory=list)
    policy: Policy | None = None


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ref(task_id: str, related: dict[str, dict[str, Any]]) -> str:
    other = related.get(task_id)
    if other is None:
        return f"{task_id} (not found)"
    return f"{other['title']} ({task_id}), status {other['status']}"


def _task_section(index: int, task: dict[str, Any], related: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"### Task {index}: {task['title']}",
        "",
        f"- id: {task['id']}",
        f"- status: {task['status']}",
        f"- priority: {task['priority']}",
    ]
    if task.get("parentId"):
        lines.append(f"- parent: {_ref(task['parentId'], related)}")
    for dependency in task.get("dependencies", []):
        lines.append(f"- depends on: {_ref(dependency, related)}")
    if task.get("description"):
        lines += ["", "Description:", "", task["description"].strip()]
    if task.get("initialPrompt"):
        lines += ["", "Instructions for the agent:", "", task["initialPrompt"].strip()]
    subtasks = task.get("subtasks", [])
    if subtasks:
        lines += ["", "Subtasks:", ""]
        lines += [
            f"- [{'x' if s['completed'] else ' '}] {s['title']} ({s['id']})" for s in subtasks
        ]
    timeline = task.get("timeline", [])[-RECENT_TIMELINE:]
    if timeline:
        lines += ["", "Recent timeline:", ""]
        for event in timeline:
            message = f": {event['message']}" if event.get("message") else ""
            lines.append(f"- {_utc(event['timestamp'])} [{event['type']}]{message}")
    return "\n".join(lines)


def build_brief(context: BriefContext) -> str:
    """The full brief, in Markdown."""
    project = context.project
    parts = [
        f"# Maestro session {context.session_id}",
        "",
        _ROLE_INTRO.get(context.role, _ROLE_INTRO["worker"]),
        "",
        f"- project: {project['name']} ({project['id']})",
        f"- working directory: {project.get('workingDir') or '(not set)'}",
        f"- role: {context.role}",
        f"- session: {context.session_id}",
        "",
        "## Your tasks" if len(context.tasks) > 1 else "## Your task",
    ]
    for index, task in enumerate(context.tasks, start=1):
        parts += ["", _task_section(index, task, context.related)]
    if context.project.get("description"):
        parts += ["", "## About the project", "", context.project["description"].strip()]
    if context.policy is not None:
        parts += ["", *brief_section(context.policy)]
    parts += ["", "## Skills"]
    if not context.skills:
        parts += ["", "No skills were given to this session."]
    for skill in context.skills:
        parts += ["", f"### Skill: {skill.name}", "", skill.instructions.strip()]
    if context.missing_skills:
        parts += ["", f"(Skills requested but not installed: {', '.join(context.missing_skills)})"]
    return "\n".join(parts) + "\n"


def build_follow_up(session_id: str, earlier_session_id: str, prompt: str) -> str:
    """What a follow-up session's agent is told: it resumes its earlier
    conversation (brief, work and all), so only what is new: the person's prompt,
    and that its reports now belong to a new Maestro session."""
    return "\n".join(
        [
            f"# Follow-up (Maestro session {session_id})",
            "",
            f"This continues your work in Maestro session {earlier_session_id}, which has "
            f"ended. You are now Maestro session {session_id}: report progress and "
            "completion with `maestro report` as before; the same tasks are yours.",
            "",
            "## What the person asks now",
            "",
            prompt.strip(),
            "",
        ]
    )
