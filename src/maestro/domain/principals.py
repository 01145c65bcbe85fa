"""Who is asking: the ``Principal`` a request's token stands for, and the
``Actor`` each change's event records (the audit trail).

The token guard (``server.security``) resolves the token into a principal and
runs the request ``acting_as`` its actor; the stores stamp every event emitted
meanwhile with ``current_actor()``. Outside a request (the expiry and lease
sweeps) the actor is the server itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import msgspec

from maestro.domain.vocabulary import ActorKind


class Actor(msgspec.Struct, rename="camel", omit_defaults=True, frozen=True, gc=False):
    """Who made a change: the kind of token, and whose it was (never the token)."""

    kind: ActorKind
    token_id: str | None = None
    session_id: str | None = None
    role: str | None = None
    runner: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """The holder of a token, with what its scope needs to know.

    ``admin`` (the configured or generated admin token) and ``none`` (no token
    is required) may do anything; ``runner`` and ``session`` are limited by
    ``service.access``.
    """

    kind: ActorKind
    token_id: str | None = None
    # A session token's: its session, project, role and the tasks it was spawned for.
    session_id: str | None = None
    project_id: str | None = None
    role: str | None = None
    task_ids: tuple[str, ...] = ()
    # A runner token's: the name of the runners it may act as.
    runner_name: str | None = None
    # What its changes' events record; made once (the admin's serves every request).
    actor: Actor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        actor = Actor(
            kind=self.kind,
            token_id=self.token_id,
            session_id=self.session_id,
            role=self.role,
            runner=self.runner_name,
        )
        object.__setattr__(self, "actor", actor)

    @property
    def unlimited(self) -> bool:
        return self.kind in ("admin", "none")

    def describe(self) -> str:
        """The token's scope in words, for ``FORBIDDEN`` messages."""
        if self.kind == "session":
            return (
                f"this token is session {self.session_id}'s ({self.role} in project "
                f"{self.project_id})"
            )
        if self.kind == "runner":
            return f"this token is a runner token (runner {self.runner_name!r})"
        return f"this token is the {self.kind} token"


ADMIN = Principal("admin")
NO_TOKEN = Principal("none")
SERVER = Actor(kind="server")

_current: ContextVar[Actor] = ContextVar("maestro_actor", default=SERVER)


def current_actor() -> Actor:
    """Who is making the change being made now (``server`` outside a request)."""
    return _current.get()


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Record ``actor`` on every event emitted inside the block."""
    reset = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(reset)
