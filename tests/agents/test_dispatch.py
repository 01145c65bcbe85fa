"""``runner.dispatch.due``: which auto-start tasks a runner starts now, as data."""

from __future__ import annotations

from typing import Any

from maestro.agents.runner.dispatch import due, idempotency_key, waiting_on
from maestro.domain.models import Project, Session, Task

PROJECT = Project(id="proj_1", name="P", max_concurrent=2)


def task(task_id: str, status: str = "pending", after: tuple[str, ...] = (), **rest: Any) -> Task:
    return Task(
        id=task_id,
        project_id="proj_1",
        title=task_id,
        status=status,  # type: ignore[arg-type]
        dependencies=after,
        auto_start=rest.pop("auto_start", True),
        **rest,
    )


def session(task_id: str, status: str = "running", source: str = "dispatch") -> Session:
    return Session(
        id=f"sess_{task_id}_{status}",
        project_id="proj_1",
        task_ids=(task_id,),
        status=status,  # type: ignore[arg-type]
        metadata={"spawnSource": source},
    )


def names(project: Project, tasks: list[Task], sessions: list[Session]) -> list[str]:
    return [d.task.id for d in due(project, tasks, sessions)]


def test_a_chain_starts_at_its_head() -> None:
    tasks = [task("a"), task("b", after=("a",)), task("c", after=("b",))]
    assert names(PROJECT, tasks, []) == ["a"]


def test_the_next_one_waits_until_the_dependency_is_completed_and_its_session_ended() -> None:
    tasks = [task("a", "completed"), task("b", after=("a",))]
    assert names(PROJECT, tasks, [session("a", "running")]) == []
    assert names(PROJECT, tasks, [session("a", "completed")]) == ["b"]


def test_a_diamond_waits_for_both_sides() -> None:
    tasks = [task("b", "completed"), task("c", "in_progress"), task("d", after=("b", "c"))]
    assert names(PROJECT, tasks, []) == []
    assert waiting_on(tasks[2], tasks) == ["c"]


def test_only_auto_start_pending_tasks_without_an_active_session() -> None:
    tasks = [
        task("manual", auto_start=False),
        task("busy"),
        task("started", "in_progress"),
        task("ready"),
    ]
    assert names(PROJECT, tasks, [session("busy", "spawning", source="cli")]) == ["ready"]


def test_a_task_is_dispatched_once_even_when_that_session_failed() -> None:
    assert names(PROJECT, [task("a")], [session("a", "failed")]) == []
    # A session a person started does not count as the dispatch.
    assert names(PROJECT, [task("a")], [session("a", "failed", source="ui")]) == ["a"]


def test_max_concurrent_counts_only_active_dispatched_sessions() -> None:
    tasks = [task("x", "in_progress"), task("y", "in_progress"), task("p"), task("q"), task("r")]
    one_running = [session("x"), session("y", source="cli")]
    assert names(PROJECT, tasks, one_running) == ["p"]
    assert names(PROJECT, tasks, []) == ["p", "q"]


def test_a_dependency_on_an_unknown_task_waits_forever() -> None:
    tasks = [task("a", after=("gone",))]
    assert names(PROJECT, tasks, []) == []
    assert waiting_on(tasks[0], tasks) == ["gone"]


def test_the_idempotency_key_names_task_and_attempt() -> None:
    assert idempotency_key("task_1") == "dispatch-task_1-1"
