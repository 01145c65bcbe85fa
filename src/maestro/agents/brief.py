"""A session's world as its agent sees it: the session, its project and tasks
(with their parents and dependencies) read from the server, its skills, its
permission policy, and the brief built from all of them.

``worker init`` hands the brief to the agent; ``maestro whoami`` prints it. It is
its own module so that ``whoami`` starts without what only ``worker init`` needs
(agent adapters, the plugin, transcript reading, subprocesses).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maestro.agents.permissions import Policy
from maestro.agents.prompt import BriefContext, build_brief
from maestro.client import ClientError, MaestroClient, api_path
from maestro.config import user_skills_dir
from maestro.skills import Skill, discover


@dataclass(frozen=True)
class SessionBrief:
    """A session with everything an agent is told about it."""

    session: dict[str, Any]
    project: dict[str, Any]
    tasks: list[dict[str, Any]]
    skills: list[Skill]
    missing_skills: list[str]
    brief: str
    policy: Policy

    def as_data(self) -> dict[str, Any]:
        """The structured context ``maestro whoami --json`` prints."""
        return {
            "sessionId": self.session["id"],
            "projectId": self.project["id"],
            "role": self.session.get("metadata", {}).get("role")
            or self.session["env"].get("MAESTRO_ROLE", "worker"),
            "status": self.session["status"],
            "taskIds": [t["id"] for t in self.tasks],
            "project": self.project,
            "tasks": self.tasks,
            "skills": [s.name for s in self.skills],
            "missingSkills": self.missing_skills,
            "brief": self.brief,
        }


def gather(
    client: MaestroClient,
    session_id: str,
    role: str,
    skill_names: list[str],
    env: Mapping[str, str],
) -> SessionBrief:
    """Read the session's world from the server and build its brief."""
    session = client.get(api_path("sessions", session_id))
    project = client.get(api_path("projects", session["projectId"]))
    tasks = [client.get(api_path("tasks", task_id)) for task_id in session["taskIds"]]
    related: dict[str, dict[str, Any]] = {t["id"]: t for t in tasks}
    for task in tasks:
        for other in [task.get("parentId"), *task.get("dependencies", [])]:
            if other and other not in related:
                # A missing one is shown as "(not found)" in the brief.
                with contextlib.suppress(ClientError):
                    related[other] = client.get(api_path("tasks", other))
    available, _ = discover(user_skills_dir(env))
    skills = [available[name] for name in skill_names if name in available]
    missing = [name for name in skill_names if name not in available]
    policy = Policy.of_project(project, env)
    brief = build_brief(
        BriefContext(session_id, role, project, tasks, related, skills, missing, policy)
    )
    return SessionBrief(session, project, tasks, skills, missing, brief, policy)
