"""Entities are immutable facts: a version, once read, never changes.

The entity Structs are frozen and hold tuples, so nothing can change one in place;
the service makes every change as a new version, so a version some reader (a
request, an event, a cache) still holds stays what it was. In-process, over a
JSON store in a temporary directory: no server needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import msgspec
import pytest

from maestro.domain.models import (
    PermissionPolicy,
    Project,
    Session,
    SessionEvent,
    Subtask,
    Task,
    TimelineEvent,
    Usage,
)
from maestro.domain.requests import (
    ProjectCreate,
    SessionCreate,
    SessionPatch,
    SubtaskCreate,
    SubtaskPatch,
    TaskCreate,
    TaskPatch,
)
from maestro.service import Workspace
from maestro.store.jsonfs import JsonFileStore

T = TypeVar("T")

ENTITY_STRUCTS = (
    Project,
    Task,
    Session,
    Subtask,
    TimelineEvent,
    SessionEvent,
    PermissionPolicy,
    Usage,
)

# A task as it is stored and sent, every list field filled.
TASK_JSON = (
    b'{"id":"task_1","projectId":"proj_1","parentId":null,"title":"T","description":"",'
    b'"initialPrompt":"","status":"pending","priority":"medium","sessionIds":["sess_1"],'
    b'"skillIds":["maestro-worker"],"agentIds":["claude"],"dependencies":["task_0"],'
    b'"autoStart":false,'
    b'"subtasks":[{"id":"sub_1","taskId":"task_1","title":"S","description":"",'
    b'"completed":false,"order":0,"createdAt":1,"updatedAt":1,"completedAt":null}],'
    b'"timeline":[{"id":"evt_1","type":"created","timestamp":1,"message":"Task created"}],'
    b'"createdAt":1,"updatedAt":1,"startedAt":null,"completedAt":null}'
)


@asynccontextmanager
async def workspace(root: Path) -> AsyncIterator[Workspace]:
    store = JsonFileStore(root)
    await store.open()
    try:
        yield Workspace(store, "http://127.0.0.1:0")
    finally:
        await store.close()


def run(root: Path, scenario: Callable[[Workspace], Awaitable[T]]) -> T:
    async def main() -> T:
        async with workspace(root) as service:
            return await scenario(service)

    return asyncio.run(main())


async def task_in_new_project(service: Workspace, title: str = "Before") -> Task:
    project = await service.create_project(ProjectCreate(name="P"))
    return await service.create_task(TaskCreate(project_id=project.id, title=title))


# -- the Structs ----------------------------------------------------------------------


@pytest.mark.parametrize("struct", ENTITY_STRUCTS, ids=lambda s: s.__name__)
def test_every_entity_struct_is_frozen(struct: type[msgspec.Struct]) -> None:
    assert struct.__struct_config__.frozen


def test_assigning_a_field_of_an_entity_raises() -> None:
    task = msgspec.json.decode(TASK_JSON, type=Task)
    with pytest.raises(AttributeError):
        task.title = "changed"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        task.subtasks[0].completed = True  # type: ignore[misc]
    assert task.title == "T" and task.subtasks[0].completed is False


def test_sequence_fields_are_tuples_so_they_cannot_grow_in_place() -> None:
    task = msgspec.json.decode(TASK_JSON, type=Task)
    sequences = (
        task.session_ids,
        task.skill_ids,
        task.agent_ids,
        task.dependencies,
        task.subtasks,
        task.timeline,
    )
    assert all(isinstance(sequence, tuple) for sequence in sequences)
    session = Session(id="sess_1", project_id="proj_1")
    assert isinstance(session.task_ids, tuple) and isinstance(session.events, tuple)
    policy = PermissionPolicy()
    assert isinstance(policy.allow, tuple) and isinstance(policy.deny, tuple)


def test_tuples_are_json_arrays_on_the_wire_and_on_disk() -> None:
    task = msgspec.json.decode(TASK_JSON, type=Task)
    assert msgspec.json.encode(task) == TASK_JSON


# -- the service ----------------------------------------------------------------------


def test_patching_a_task_leaves_the_version_read_before_it_untouched(tmp_path: Path) -> None:
    async def scenario(service: Workspace) -> tuple[Task, Task]:
        created = await task_in_new_project(service)
        held = await service.get_task(created.id)
        await service.patch_task(created.id, TaskPatch(title="After", status="completed"))
        return held, await service.get_task(created.id)

    held, current = run(tmp_path, scenario)
    assert (held.title, held.status, held.completed_at) == ("Before", "pending", None)
    assert [e.type for e in held.timeline] == ["created"]
    assert (current.title, current.status) == ("After", "completed")
    assert [e.type for e in current.timeline] == ["created", "status_changed"]


def test_linking_leaves_the_earlier_versions_of_both_sides_untouched(tmp_path: Path) -> None:
    async def scenario(service: Workspace) -> tuple[Task, Session, Task, Session]:
        task = await task_in_new_project(service)
        session = await service.create_session(
            SessionCreate(project_id=task.project_id, task_ids=[])
        )
        held_task, held_session = await service.get_task(task.id), session
        await service.link(session.id, task.id)
        return (
            held_task,
            held_session,
            await service.get_task(task.id),
            await service.get_session(session.id),
        )

    held_task, held_session, task, session = run(tmp_path, scenario)
    assert held_task.session_ids == () and held_session.task_ids == ()
    assert task.session_ids == (session.id,) and session.task_ids == (task.id,)


def test_patching_a_session_builds_new_env_and_metadata_dicts(tmp_path: Path) -> None:
    async def scenario(service: Workspace) -> tuple[Session, Session]:
        task = await task_in_new_project(service)
        created = await service.create_session(
            SessionCreate(
                project_id=task.project_id, task_ids=[], env={"A": "1"}, metadata={"k": 1}
            )
        )
        held = await service.get_session(created.id)
        patch = SessionPatch(status="completed", env={"B": "2"}, metadata={"k": 2})
        return held, await service.patch_session(created.id, patch)

    held, current = run(tmp_path, scenario)
    assert (held.status, held.env, held.metadata) == ("running", {"A": "1"}, {"k": 1})
    assert (current.env, current.metadata) == ({"A": "1", "B": "2"}, {"k": 2})


def test_patching_a_subtask_leaves_the_task_read_before_it_untouched(tmp_path: Path) -> None:
    async def scenario(service: Workspace) -> tuple[Task, Task]:
        task = await task_in_new_project(service)
        for title in ("first", "second"):
            await service.create_subtask(task.id, SubtaskCreate(title=title))
        held = await service.get_task(task.id)
        patch = SubtaskPatch(completed=True, order=1)
        await service.patch_subtask(task.id, held.subtasks[0].id, patch)
        return held, await service.get_task(task.id)

    held, current = run(tmp_path, scenario)
    assert [(s.title, s.order, s.completed) for s in held.subtasks] == [
        ("first", 0, False),
        ("second", 1, False),
    ]
    assert [(s.title, s.order, s.completed) for s in current.subtasks] == [
        ("second", 0, False),
        ("first", 1, True),
    ]
