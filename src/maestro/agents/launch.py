"""``maestro worker init`` / ``maestro orchestrator init``: what runs inside a
terminal the runner opened.

1. Validate the ``MAESTRO_*`` environment. If it is wrong, say exactly what is
   wrong and, when the session id is known, mark the session ``failed`` with the
   reason as a session event.
2. Refuse a session that already finished.
3. Gather the session's tasks (with their parents and dependencies), resolve
   its skills, build the brief and write it to ``MAESTRO_HOME/sessions/<id>/``.
4. Mark the session ``running``, start the agent in the project's working
   directory, tee its output to the terminal and to ``output.log``, and forward
   SIGINT/SIGTERM to it.
5. When it exits, mark the session ``completed`` (exit 0) or ``failed`` (with the
   exit code in an ``agent_exited`` event).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from maestro.agents.adapters import LaunchRequest, agent_command
from maestro.agents.context import SessionEnv, current_session_id
from maestro.agents.plugin import write_plugin
from maestro.agents.prompt import BriefContext, build_brief
from maestro.agents.skills import Skill, discover
from maestro.cli.client import CliError, MaestroClient
from maestro.config import maestro_home

FINISHED = ("completed", "failed")


@dataclass(frozen=True)
class SessionBrief:
    """A session with everything an agent is told about it."""

    session: dict[str, Any]
    project: dict[str, Any]
    tasks: list[dict[str, Any]]
    skills: list[Skill]
    missing_skills: list[str]
    brief: str

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


def skills_dir(env: Mapping[str, str]) -> Path:
    raw = env.get("MAESTRO_SKILLS_DIR")
    return Path(raw).expanduser() if raw else maestro_home(env) / "skills"


def gather(
    client: MaestroClient,
    session_id: str,
    role: str,
    skill_names: list[str],
    env: Mapping[str, str],
) -> SessionBrief:
    """Read the session's world from the server and build its brief."""
    session = client.get(f"/api/sessions/{session_id}")
    project = client.get(f"/api/projects/{session['projectId']}")
    tasks = [client.get(f"/api/tasks/{task_id}") for task_id in session["taskIds"]]
    related: dict[str, dict[str, Any]] = {t["id"]: t for t in tasks}
    for task in tasks:
        for other in [task.get("parentId"), *task.get("dependencies", [])]:
            if other and other not in related:
                # A missing one is shown as "(not found)" in the brief.
                with contextlib.suppress(CliError):
                    related[other] = client.get(f"/api/tasks/{other}")
    available, _ = discover(skills_dir(env))
    skills = [available[name] for name in skill_names if name in available]
    missing = [name for name in skill_names if name not in available]
    brief = build_brief(BriefContext(session_id, role, project, tasks, related, skills, missing))
    return SessionBrief(session, project, tasks, skills, missing, brief)


def _mark_failed(client: MaestroClient, session_id: str, event: str, data: dict[str, Any]) -> None:
    """Mark an unfinished session failed, with the reason as a session event."""
    try:
        if client.get(f"/api/sessions/{session_id}")["status"] in FINISHED:
            return
        client.patch(
            f"/api/sessions/{session_id}",
            {"status": "failed", "events": [{"type": event, "data": data}]},
        )
    except CliError as error:
        print(
            f"maestro: could not mark session {session_id} failed: {error.message}", file=sys.stderr
        )


def session_files(session_id: str, env: Mapping[str, str]) -> Path:
    folder = maestro_home(env) / "sessions" / session_id
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_init(role: str, env: Mapping[str, str], client: MaestroClient | None = None) -> int:
    """The whole init flow; returns the agent's exit code (``CliError`` on refusal)."""
    try:
        context = SessionEnv.read(env, expected_role=role)
    except CliError as error:
        # Tell the board why this session will never start, if we know which it is.
        session_id = current_session_id(env)
        if session_id is not None:
            with MaestroClient(env.get("MAESTRO_SERVER_URL"), retries=0) as fallback:
                _mark_failed(fallback, session_id, "init_failed", {"reason": error.message})
        raise
    own_client = client is None
    client = client or MaestroClient(context.server_url)
    try:
        return _run(role, context, env, client)
    finally:
        if own_client:
            client.close()


def _run(role: str, context: SessionEnv, env: Mapping[str, str], client: MaestroClient) -> int:
    session = client.get(f"/api/sessions/{context.session_id}")
    if session["status"] in FINISHED:
        raise CliError(
            f"session {context.session_id} already {session['status']}; spawn a new session "
            "to run the task again",
            code="SESSION_FINISHED",
        )
    world = gather(client, context.session_id, role, list(context.skills), env)
    for name in world.missing_skills:
        print(
            f"maestro: warning: skill {name!r} is not installed; continuing without it",
            file=sys.stderr,
        )
    files = session_files(context.session_id, env)
    brief_path = files / "brief.md"
    brief_path.write_text(world.brief, encoding="utf-8")
    metadata = session.get("metadata", {})
    agent = metadata.get("agent") or "claude"
    cwd = working_dir(world.project)
    try:
        command = agent_command(
            agent,
            LaunchRequest(
                session_id=context.session_id,
                role=role,
                brief=world.brief,
                brief_path=brief_path,
                cwd=cwd,
                model=metadata.get("model"),
                skills=tuple(world.skills),
                plugin_dir=write_plugin(files / "plugin", world.skills)
                if agent == "claude"
                else None,
                env=dict(env),
            ),
        )
    except CliError as error:
        _mark_failed(client, context.session_id, "init_failed", {"reason": error.message})
        raise
    started = [
        {"type": "agent_started", "data": {"agent": agent, "cwd": cwd, "program": command.argv[0]}}
    ]
    started += [{"type": "skill_missing", "data": {"skill": name}} for name in world.missing_skills]
    client.patch(f"/api/sessions/{context.session_id}", {"status": "running", "events": started})
    try:
        exit_code = _run_agent(command.argv, command.cwd, command.env, files / "output.log")
    except OSError as error:
        _mark_failed(
            client,
            context.session_id,
            "agent_exited",
            {"exitCode": None, "reason": f"could not start {command.argv[0]}: {error}"},
        )
        raise CliError(
            f"could not start the agent {command.argv[0]!r}: {error}", code="AGENT_START_FAILED"
        ) from None
    finish: dict[str, Any] = {
        "status": "completed" if exit_code == 0 else "failed",
        "events": [{"type": "agent_exited", "data": {"exitCode": exit_code}}],
    }
    client.patch(f"/api/sessions/{context.session_id}", finish)
    return exit_code


def working_dir(project: dict[str, Any]) -> str:
    """The project's working directory when it is an existing absolute path (``~``
    expanded); otherwise the current one, which the runner has already resolved
    (it treats an empty or relative ``workingDir`` as relative to the home folder)."""
    configured = Path(project.get("workingDir") or "").expanduser()
    if configured.is_absolute() and configured.is_dir():
        return str(configured)
    return os.getcwd()


def _copy_to_terminal(chunk: bytes, terminal: list[bool]) -> None:
    """Echo agent output; a terminal that went away (window closed) must not stop
    the agent or the log, so after the first failure only the log is written."""
    if not terminal[0]:
        return
    try:
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    except OSError:
        terminal[0] = False


def _run_agent(argv: list[str], cwd: str, env: Mapping[str, str], log_path: Path) -> int:
    """Start the agent, tee its output, forward signals, return its exit code."""
    process = subprocess.Popen(
        argv, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )

    def forward(signum: int, _frame: FrameType | None) -> None:
        process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert process.stdout is not None
        output = process.stdout.fileno()
        terminal = [True]
        with log_path.open("ab") as log:
            while chunk := os.read(output, 65536):
                _copy_to_terminal(chunk, terminal)
                log.write(chunk)
                log.flush()
        return process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
