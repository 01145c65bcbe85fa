"""The session an agent runs in, as the runner handed it over: ``MAESTRO_*``
environment variables (SPEC section 6).

``maestro hook`` and ``maestro report`` import this on every call, so it stays
light: a ``NamedTuple``, not a dataclass (``dataclasses`` pulls in ``inspect``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from maestro.agents.errors import AgentError
from maestro.client import server_url
from maestro.domain.ids import is_valid_id
from maestro.domain.vocabulary import SPAWN_ROLES


class SessionEnv(NamedTuple):
    session_id: str
    project_id: str
    task_ids: tuple[str, ...]
    skills: tuple[str, ...]
    role: str
    server_url: str

    @classmethod
    def read(cls, env: Mapping[str, str], expected_role: str | None = None) -> SessionEnv:
        """Validate the environment; a missing or wrong variable is a ``AgentError``
        naming it and saying how to fix it."""
        problems = []
        session_id = env.get("MAESTRO_SESSION_ID", "")
        project_id = env.get("MAESTRO_PROJECT_ID", "")
        task_ids = tuple(t for t in env.get("MAESTRO_TASK_IDS", "").split(",") if t)
        skills = tuple(s for s in env.get("MAESTRO_SKILLS", "").split(",") if s)
        role = env.get("MAESTRO_ROLE", expected_role or "worker")
        if not is_valid_id(session_id):
            problems.append("MAESTRO_SESSION_ID is missing or not a valid id")
        if not is_valid_id(project_id):
            problems.append("MAESTRO_PROJECT_ID is missing or not a valid id")
        if not task_ids:
            problems.append("MAESTRO_TASK_IDS is missing (comma-separated task ids)")
        elif not all(is_valid_id(t) for t in task_ids):
            problems.append("MAESTRO_TASK_IDS must be comma-separated valid task ids")
        if role not in SPAWN_ROLES:
            problems.append(f"MAESTRO_ROLE must be one of {', '.join(SPAWN_ROLES)}, got {role!r}")
        elif expected_role is not None and role != expected_role:
            problems.append(f"MAESTRO_ROLE is {role!r} but this is `maestro {expected_role} init`")
        if problems:
            raise AgentError(
                "this terminal is not a valid Maestro session: "
                + "; ".join(problems)
                + ". Spawn sessions with `maestro session spawn` or the UI; the runner "
                "sets these variables.",
                code="INVALID_SESSION_ENV",
            )
        return cls(
            session_id=session_id,
            project_id=project_id,
            task_ids=task_ids,
            skills=skills,
            role=role,
            server_url=server_url(env.get("MAESTRO_SERVER_URL")),
        )


def current_session_id(env: Mapping[str, str]) -> str | None:
    """The session this process runs in, if any (agents' report commands use it)."""
    value = env.get("MAESTRO_SESSION_ID", "")
    return value if is_valid_id(value) else None


def current_task_ids(env: Mapping[str, str]) -> list[str]:
    return [t for t in env.get("MAESTRO_TASK_IDS", "").split(",") if is_valid_id(t)]
