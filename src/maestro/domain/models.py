"""The entities, defined once.

These Structs validate what the store loads, encode every response and event, and
feed the OpenAPI document. Field names are snake_case in Python and camelCase on
the wire and on disk (``rename="camel"``). Every field but the identifying ones has
a default, so files written by older versions load with the missing fields filled.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

TaskStatus = Literal["pending", "in_progress", "completed", "blocked"]
TaskPriority = Literal["low", "medium", "high"]
SessionStatus = Literal["spawning", "running", "completed", "failed"]
TimelineEventType = Literal[
    "created",
    "session_started",
    "session_ended",
    "update",
    "milestone",
    "blocker",
    "status_changed",
]
SpawnRole = Literal["worker", "orchestrator"]
SpawnSource = Literal["manual", "orchestrator", "ui", "cli", "api"]

TASK_STATUSES: tuple[str, ...] = ("pending", "in_progress", "completed", "blocked")
SESSION_STATUSES: tuple[str, ...] = ("spawning", "running", "completed", "failed")
FINISHED_SESSION_STATUSES = frozenset({"completed", "failed"})


class Entity(msgspec.Struct, rename="camel", kw_only=True):
    """Common base: every stored entity has an id."""

    id: str


class Project(Entity, kw_only=True):
    name: str
    working_dir: str = ""
    description: str = ""
    created_at: int = 0
    updated_at: int = 0


class TimelineEvent(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    id: str
    type: TimelineEventType
    timestamp: int
    message: str | None = None
    session_id: str | None = None


class Subtask(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    task_id: str
    title: str
    description: str = ""
    completed: bool = False
    order: int = 0
    created_at: int = 0
    updated_at: int = 0
    completed_at: int | None = None


class Task(Entity, kw_only=True):
    project_id: str
    parent_id: str | None = None
    title: str
    description: str = ""
    initial_prompt: str = ""
    status: TaskStatus = "pending"
    priority: TaskPriority = "medium"
    session_ids: list[str] = msgspec.field(default_factory=list)
    skill_ids: list[str] = msgspec.field(default_factory=list)
    agent_ids: list[str] = msgspec.field(default_factory=list)
    dependencies: list[str] = msgspec.field(default_factory=list)
    subtasks: list[Subtask] = msgspec.field(default_factory=list)
    timeline: list[TimelineEvent] = msgspec.field(default_factory=list)
    created_at: int = 0
    updated_at: int = 0
    started_at: int | None = None
    completed_at: int | None = None


class SessionEvent(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    timestamp: int
    type: str
    data: Any = None


class Session(Entity, kw_only=True):
    project_id: str
    task_ids: list[str] = msgspec.field(default_factory=list)
    name: str = ""
    agent_id: str | None = None
    status: SessionStatus = "running"
    env: dict[str, str] = msgspec.field(default_factory=dict)
    events: list[SessionEvent] = msgspec.field(default_factory=list)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    started_at: int = 0
    last_activity: int = 0
    completed_at: int | None = None
    hostname: str = ""
    platform: str = ""


StoredEntity = Project | Task | Session
