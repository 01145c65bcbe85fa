"""Event names of the WebSocket stream and the shape of one event.

An event is produced by the service inside a transaction (``PendingEvent``) and
becomes a ``StoredEvent`` once the store has committed it and given it its place
(``seq``) in the one global order every client sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from maestro.domain.encoding import encode
from maestro.domain.principals import Actor, current_actor

PROJECT_CREATED = "project:created"
PROJECT_UPDATED = "project:updated"
PROJECT_DELETED = "project:deleted"
TASK_CREATED = "task:created"
TASK_UPDATED = "task:updated"
TASK_DELETED = "task:deleted"
TASK_SESSION_ADDED = "task:session_added"
TASK_SESSION_REMOVED = "task:session_removed"
SESSION_CREATED = "session:created"
SESSION_UPDATED = "session:updated"
SESSION_DELETED = "session:deleted"
SESSION_TASK_ADDED = "session:task_added"
SESSION_TASK_REMOVED = "session:task_removed"
SESSION_SPAWN_REQUEST = "session:spawn_request"
SUBTASK_CREATED = "subtask:created"
SUBTASK_UPDATED = "subtask:updated"
SUBTASK_DELETED = "subtask:deleted"
APPROVAL_CREATED = "approval:created"
APPROVAL_DECIDED = "approval:decided"
RUNNER_CREATED = "runner:created"
RUNNER_UPDATED = "runner:updated"
RUNNER_DELETED = "runner:deleted"
NO_PROJECT = ""
"""The project of events that belong to none (``runner:*``): a client filtering by
``?projectId=`` does not get them."""
# Outside the global order: sent only to clients watching the session (``?sessionId=``),
# without ``seq``, never stored or replayed (``domain.activity``).
SESSION_ACTIVITY = "session:activity"

# The events of the global order (every one has a ``seq``).
ALL_EVENTS = (
    PROJECT_CREATED,
    PROJECT_UPDATED,
    PROJECT_DELETED,
    TASK_CREATED,
    TASK_UPDATED,
    TASK_DELETED,
    TASK_SESSION_ADDED,
    TASK_SESSION_REMOVED,
    SESSION_CREATED,
    SESSION_UPDATED,
    SESSION_DELETED,
    SESSION_TASK_ADDED,
    SESSION_TASK_REMOVED,
    SESSION_SPAWN_REQUEST,
    SUBTASK_CREATED,
    SUBTASK_UPDATED,
    SUBTASK_DELETED,
    APPROVAL_CREATED,
    APPROVAL_DECIDED,
    RUNNER_CREATED,
    RUNNER_UPDATED,
    RUNNER_DELETED,
)


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event the service emitted in a transaction not yet committed.

    Its payload is encoded when it is emitted: an event says what was true at its
    place in the order, whatever happens to the objects it was made from later in
    the same transaction.
    """

    type: str
    data: msgspec.Raw
    project_id: str
    # Who made the change (the request's token kind, or the server's own sweeps).
    actor: Actor

    @classmethod
    def of(cls, event_type: str, data: Any, project_id: str) -> PendingEvent:
        return cls(event_type, msgspec.Raw(encode(data)), project_id, current_actor())


class WireMessage(msgspec.Struct):
    """The exact JSON text frame a WebSocket client receives."""

    type: str
    event: str
    data: Any
    seq: int
    timestamp: int
    actor: Actor


class StoredEvent(msgspec.Struct, frozen=True, gc=False):
    """A committed event: its place in the global order and its encoded frame.

    The frame is encoded once and shared by every client and by replay. Tens of
    thousands are retained; ``gc=False`` keeps them (three strings and an int,
    never in a cycle) out of the cycle collector's full passes.
    """

    seq: int
    project_id: str
    frame: str
