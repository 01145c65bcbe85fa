"""``Spawn``: what a terminal needs, read from a spawn event or a listed session."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from maestro.agents.environment import terminal_env
from maestro.domain.ids import is_valid_id
from maestro.domain.models import Project, Session, spawn_role
from maestro.domain.vocabulary import SPAWN_ROLES


class BadSpawn(ValueError):
    """A spawn request the runner cannot act on (malformed data)."""


@dataclass(frozen=True)
class Spawn:
    """Everything needed to open one session's terminal."""

    session_id: str
    name: str
    role: str
    cwd: str
    env: dict[str, str] = field(default_factory=dict)
    # Only a runner having all of these may claim it (the spawn's ``runnerLabels``).
    runner_labels: tuple[str, ...] = ()
    # The runner that had claimed it when this was read, if any.
    claimed_by: str | None = None
    # The token this runner's claim minted for the session's agent (never logged).
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_event(cls, data: Any) -> Spawn:
        """From a ``session:spawn_request`` event's data."""
        if not isinstance(data, dict):
            raise BadSpawn("spawn request data is not an object")
        session = data.get("session")
        if not isinstance(session, dict):
            session = {}
        spawn = cls._checked(
            session.get("id"), data.get("name"), data.get("role"), data.get("cwd"), data.get("env")
        )
        return spawn.claimable_as(session.get("metadata"))

    @classmethod
    def from_session(cls, session: Session, project: Project) -> Spawn:
        """From a listed ``spawning`` session and its project (the catch-up path)."""
        role = spawn_role(session)
        spawn = cls._checked(session.id, session.name, role, project.working_dir, session.env)
        return spawn.claimable_as(session.metadata)

    def claimable_as(self, metadata: Any) -> Spawn:
        """This spawn with what the session's ``metadata`` says about claiming it:
        the labels a runner needs, and who claimed it (if anyone)."""
        if not isinstance(metadata, dict):
            return self
        labels = metadata.get("runnerLabels")
        holder = metadata.get("runnerId")
        return replace(
            self,
            runner_labels=tuple(x for x in labels if isinstance(x, str))
            if isinstance(labels, list)
            else (),
            claimed_by=holder if isinstance(holder, str) else None,
        )

    @classmethod
    def _checked(cls, session_id: Any, name: Any, role: Any, cwd: Any, env: Any) -> Spawn:
        if not isinstance(session_id, str) or not is_valid_id(session_id):
            raise BadSpawn(f"spawn request without a valid session id: {session_id!r}")
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise BadSpawn(f"spawn request for {session_id} has no string-to-string env")
        return cls(
            session_id=session_id,
            name=name if isinstance(name, str) and name else session_id,
            role=role if isinstance(role, str) else "",
            cwd=cwd if isinstance(cwd, str) else "",
            env=dict(env),
        )

    def command(self) -> list[str]:
        """``maestro <role> init``, run by this very installation whatever PATH says."""
        if self.role not in SPAWN_ROLES:
            raise BadSpawn(f"unknown role {self.role!r} (expected worker or orchestrator)")
        return [sys.executable, "-m", "maestro", self.role, "init"]

    def working_directory(self) -> Path:
        """The project's ``workingDir``; ``""`` means the user's home directory, and
        ``~`` and relative paths are taken from there too, never from wherever the
        runner happens to have been started."""
        return Path.home() / Path(self.cwd).expanduser()

    def terminal_env(self, runner_env: Mapping[str, str], server_url: str) -> dict[str, str]:
        """What the terminal runs with (``maestro.agents.environment``)."""
        return terminal_env(runner_env, self.env, server_url, self.token)
