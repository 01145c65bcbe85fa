"""What a spawn hands the runner and the agent (SPEC section 6): the session's
environment, its metadata, and the ``session:spawn_request`` payload. The
checks and the transaction are ``Workspace.spawn``'s; this is the contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from maestro.domain.models import Project, Session
from maestro.domain.requests import SpawnRequest
from maestro.domain.vocabulary import DEFAULT_AGENT, AgentName


def session_env(
    session_id: str,
    project_id: str,
    task_ids: Sequence[str],
    server_url: str,
    skills: Sequence[str],
    role: str,
) -> dict[str, str]:
    """The ``MAESTRO_*`` variables the agent's terminal starts with."""
    return {
        "MAESTRO_SESSION_ID": session_id,
        "MAESTRO_PROJECT_ID": project_id,
        "MAESTRO_TASK_IDS": ",".join(task_ids),
        "MAESTRO_SERVER_URL": server_url,
        "MAESTRO_SKILLS": ",".join(skills),
        "MAESTRO_ROLE": role,
    }


def agent_and_model(body: SpawnRequest, project: Project) -> tuple[AgentName, str | None]:
    """The agent a spawn runs and its model. A spawn that names no agent gets the
    project's (else claude); one that names no model gets the project's model
    when it runs the project's agent: a model is one agent's word (``o3`` means
    nothing to claude)."""
    project_agent = project.agent or DEFAULT_AGENT
    agent = body.agent or project_agent
    if body.model is not None:
        return agent, body.model
    return agent, project.model if agent == project_agent else None


def spawn_metadata(
    body: SpawnRequest,
    skills: Sequence[str],
    agent: AgentName,
    model: str | None,
    idempotency_key: str | None,
) -> dict[str, Any]:
    """What the spawned session records about how it was asked for; the runner
    and ``worker init`` read ``agent``, ``model`` and ``skills`` from it, and
    runners ``runnerLabels`` (only a runner having them all may claim it)."""
    return {
        "skills": list(skills),
        "role": body.role,
        "agent": agent,
        "model": model,
        "spawnSource": body.spawn_source,
        "spawnedBy": body.spawned_by,
        "spawnReason": body.spawn_reason,
        "context": body.context,
        **({"idempotencyKey": idempotency_key} if idempotency_key else {}),
        **({"runnerLabels": list(dict.fromkeys(body.runner_labels))} if body.runner_labels else {}),
        **(
            {"followUpOf": body.follow_up_of, "followUpPrompt": body.follow_up_prompt}
            if body.follow_up_of
            else {}
        ),
    }


def spawn_request(
    session: Session, project: Project, skills: Sequence[str], role: str
) -> dict[str, Any]:
    """The ``session:spawn_request`` payload: what a runner needs to open the
    terminal (the command to run in it, where, and with what environment)."""
    return {
        "session": session,
        "projectId": project.id,
        "taskIds": session.task_ids,
        "skillIds": skills,
        "name": session.name,
        "role": role,
        "command": f"maestro {role} init",
        "cwd": project.working_dir,
        "env": session.env,
    }
