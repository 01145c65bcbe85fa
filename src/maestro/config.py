"""Settings from the environment (SPEC section 2), validated once at start.

Command-line flags override the environment: ``Settings.load(env, port=...)``.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


SERVER_ENVIRONMENT = frozenset(
    {
        "HOST",
        "PORT",
        "DATA_DIR",
        "DEBUG",
        "MAESTRO_TOKEN",
        "MAESTRO_SERVER_URL",
        "MAESTRO_SKILLS_DIR",
        "MAESTRO_DATABASE_URL",
        "MAESTRO_CORS_ORIGINS",
        "MAESTRO_ALLOWED_HOSTS",
        "MAESTRO_WS_QUEUE",
        "MAESTRO_WS_MAX_CLIENTS",
        "MAESTRO_MAX_ACTIVE_SESSIONS",
        "MAESTRO_FSYNC",
        "MAESTRO_APPROVAL_TIMEOUT",
        "MAESTRO_RUNNER_TIMEOUT",
        "MAESTRO_NOTIFY_URL",
    }
)
"""Every variable ``Settings.load`` reads: what a test or benchmark server must not
inherit from the developer's shell."""


class ConfigError(ValueError):
    """A setting is invalid; the message says which and how to fix it."""


def is_loopback(host: str) -> bool:
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None


# A day: the agent's side (the Claude Code hook Maestro installs, docs/agents.md)
# waits a day and five minutes at most, so a longer wait would outlive it.
MAX_APPROVAL_TIMEOUT = 24 * 3600.0
# An hour: a runner silent for longer is gone, whatever the setting says.
MAX_RUNNER_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 3000
    data_dir: Path = field(default_factory=lambda: Path.home() / ".maestro" / "data")
    debug: bool = False
    token: str | None = None
    public_url: str | None = None
    skills_dir: Path = field(default_factory=lambda: Path.home() / ".maestro" / "skills")
    database_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    body_limit: int = 1024 * 1024
    ws_queue_limit: int = 1000
    ws_max_clients: int = 10_000
    max_active_sessions: int = 100
    retained_events: int = 10_000
    fsync: bool = False
    approval_timeout: float = 600.0  # seconds a pending approval waits for a person
    runner_timeout: float = 30.0  # seconds without a heartbeat before a runner is lost
    notify_url: str | None = None  # a webhook told of approvals and finished sessions

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the environment, then apply non-None ``overrides`` (CLI flags)."""
        env = os.environ if env is None else env
        settings = cls(
            host=env.get("HOST") or cls.host,
            port=_int(env, "PORT", cls.port),
            data_dir=Path(env["DATA_DIR"]).expanduser()
            if env.get("DATA_DIR")
            else Path.home() / ".maestro" / "data",
            debug=is_on(env, "DEBUG"),
            token=env.get("MAESTRO_TOKEN") or None,
            public_url=env.get("MAESTRO_SERVER_URL") or None,
            skills_dir=user_skills_dir(env),
            database_url=env.get("MAESTRO_DATABASE_URL") or None,
            cors_origins=_split(env.get("MAESTRO_CORS_ORIGINS")),
            allowed_hosts=_split(env.get("MAESTRO_ALLOWED_HOSTS")),
            ws_queue_limit=_int(env, "MAESTRO_WS_QUEUE", cls.ws_queue_limit),
            ws_max_clients=_int(env, "MAESTRO_WS_MAX_CLIENTS", cls.ws_max_clients),
            max_active_sessions=_int(env, "MAESTRO_MAX_ACTIVE_SESSIONS", cls.max_active_sessions),
            fsync=is_on(env, "MAESTRO_FSYNC"),
            approval_timeout=_seconds(env, "MAESTRO_APPROVAL_TIMEOUT", cls.approval_timeout),
            runner_timeout=_seconds(env, "MAESTRO_RUNNER_TIMEOUT", cls.runner_timeout),
            notify_url=env.get("MAESTRO_NOTIFY_URL") or None,
        )
        chosen = {k: v for k, v in overrides.items() if v is not None}
        if "data_dir" in chosen:
            chosen["data_dir"] = Path(chosen["data_dir"]).expanduser()
        settings = replace(settings, **chosen)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"PORT must be between 0 and 65535, got {self.port}")
        timeout = self.approval_timeout
        if not (math.isfinite(timeout) and 0 < timeout <= MAX_APPROVAL_TIMEOUT):
            raise ConfigError(
                "MAESTRO_APPROVAL_TIMEOUT must be a number of seconds greater than 0 and at "
                f"most {MAX_APPROVAL_TIMEOUT:.0f} (a day), got {timeout:.10g}"
            )
        lease = self.runner_timeout
        if not (math.isfinite(lease) and 0 < lease <= MAX_RUNNER_TIMEOUT):
            raise ConfigError(
                "MAESTRO_RUNNER_TIMEOUT must be a number of seconds greater than 0 and at "
                f"most {MAX_RUNNER_TIMEOUT:.0f} (an hour), got {lease:.10g}"
            )
        if self.notify_url is not None:
            parts = urlsplit(self.notify_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(
                    "MAESTRO_NOTIFY_URL must be an http:// or https:// URL with a host, "
                    f"got {self.notify_url!r}"
                )

    @property
    def exposed(self) -> bool:
        """Bound beyond loopback: other machines can reach the server, so it must
        require a token (``maestro serve`` generates one when none is set:
        ``maestro.server.admin_token``)."""
        return not is_loopback(self.host)

    @property
    def server_url(self) -> str:
        """The URL this server gives spawned sessions and the CLI to reach it."""
        if self.public_url:
            return self.public_url.rstrip("/")
        # The bind address itself where it is a loopback or wildcard: "localhost"
        # may resolve to ::1 first on a server that listens on 127.0.0.1 only.
        if self.host in ("0.0.0.0", "localhost"):
            host = "127.0.0.1"
        elif self.host == "::":
            host = "[::1]"
        elif ":" in self.host and not self.host.startswith("["):
            host = f"[{self.host}]"
        else:
            host = self.host
        return f"http://{host}:{self.port}"


def is_on(env: Mapping[str, str], name: str) -> bool:
    """A switch such as ``DEBUG`` or ``MAESTRO_FSYNC``: on unless unset, empty,
    ``0`` or ``false`` (the same rule for every switch, server and client)."""
    return env.get(name, "").strip().lower() not in ("", "0", "false")


def user_skills_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where user skills live, for the server, ``skill list`` and ``worker init``
    alike: ``MAESTRO_SKILLS_DIR``, else ``skills`` in ``maestro_home``."""
    env = os.environ if env is None else env
    raw = env.get("MAESTRO_SKILLS_DIR")
    return Path(raw).expanduser() if raw else maestro_home(env) / "skills"


def maestro_home(env: Mapping[str, str] | None = None) -> Path:
    """Where the CLI and runner keep their own files (briefs, logs, runner state).

    ``MAESTRO_HOME``, default ``~/.maestro``. The server's data lives in DATA_DIR.
    """
    env = os.environ if env is None else env
    return (
        Path(env["MAESTRO_HOME"]).expanduser()
        if env.get("MAESTRO_HOME")
        else (Path.home() / ".maestro")
    )
