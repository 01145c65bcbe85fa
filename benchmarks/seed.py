"""Write a Maestro data directory with N tasks, directly as the JSON store's files.

Going through the API would take minutes for 100k tasks; writing the files takes
seconds. The entities are the server's own msgspec models, encoded and formatted
exactly as ``store/jsonfs.py`` writes them (2-space JSON plus a newline), into
its layout::

    projects/<projectId>.json
    tasks/<projectId>/<taskId>.json

The distribution is controlled so scale can be compared fairly: the *target
query* ``GET /api/tasks?projectId=<target project>&status=blocked`` returns the
same number of tasks (``--match``, 50 by default) whatever N is, while the
project alone and the status alone each cover a share of N that grows with it
(the target project holds N/projects tasks; a quarter of all tasks are
``blocked``). A server that scanned either of those, or all tasks, would slow
down with N; one that answers from a (project, status) index would not.

Everything is deterministic: task ``i`` always has the id ``task_id(i)``.

Usage::

    .venv/bin/python benchmarks/seed.py /tmp/maestro-100k --tasks 100000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec

from maestro.domain.models import Project, Subtask, Task, TaskStatus, TimelineEvent

BASE_MS = 1_700_000_000_000
"""Creation time of task 0; task ``i`` is created ``i`` ms later (oldest first = by i)."""

TARGET_STATUS: TaskStatus = "blocked"
_OTHER_STATUSES: tuple[TaskStatus, ...] = ("pending", "in_progress", "completed", "blocked")
_TARGET_OTHERS: tuple[TaskStatus, ...] = ("pending", "in_progress", "completed")
_PRIORITIES = ("low", "medium", "high")
_TEXT = (
    "refactor the store so writes stay atomic under load and document the recovery path; "
    "add tests for the edge cases, update the API reference and check the UI still renders "
    "the board with many columns"
)
_WORDS = _TEXT.split()


def project_id(k: int) -> str:
    return f"proj_{BASE_MS}_bench{k:04d}"


def task_id(i: int) -> str:
    """The id of task ``i`` (the same shape as the server's ``new_id("task")``)."""
    return f"task_{BASE_MS + i}_{i:09d}"


@dataclass(frozen=True)
class Seeded:
    """What was written, and the handles a benchmark needs."""

    data_dir: Path
    tasks: int
    projects: int
    target_project: str
    target_status: str
    match: int
    seconds: float

    @property
    def target_query(self) -> str:
        return f"/api/tasks?projectId={self.target_project}&status={self.target_status}"

    def sample_task_ids(self, count: int, seed: int = 1) -> list[str]:
        """``count`` distinct task ids spread over the whole store (deterministic)."""
        rng = random.Random(seed)
        return [task_id(i) for i in rng.sample(range(self.tasks), min(count, self.tasks))]


def _status(i: int, projects: int, tasks_in_target: int, match: int) -> TaskStatus:
    position = i // projects  # the task's rank within its project
    if i % projects != 0:
        return _OTHER_STATUSES[position % len(_OTHER_STATUSES)]
    # Exactly `match` of the target project's tasks are blocked, spread evenly.
    if (position * match) // tasks_in_target != ((position + 1) * match) // tasks_in_target:
        return TARGET_STATUS
    return _TARGET_OTHERS[position % len(_TARGET_OTHERS)]


def _task(i: int, projects: int, tasks_in_target: int, match: int) -> Task:
    at = BASE_MS + i
    status = _status(i, projects, tasks_in_target, match)
    position = i // projects
    # Every fifth task of a project is a child of the one before it (same project).
    parent = task_id(i - projects) if position % 5 == 4 else None
    words = " ".join(_WORDS[(i + n) % len(_WORDS)] for n in range(24))
    subtasks = (
        tuple(
            Subtask(
                id=f"sub_{at}_{i:07d}{n:02d}",
                task_id=task_id(i),
                title=f"Step {n + 1}",
                order=n,
                created_at=at,
                updated_at=at,
            )
            for n in range(3)
        )
        if i % 10 == 0
        else ()
    )
    return Task(
        id=task_id(i),
        project_id=project_id(i % projects),
        parent_id=parent,
        title=f"Task {i}: {' '.join(_WORDS[i % len(_WORDS) : i % len(_WORDS) + 4])}",
        description=words[:1].upper() + words[1:] + ".",
        status=status,
        priority=_PRIORITIES[i % len(_PRIORITIES)],  # type: ignore[arg-type]
        subtasks=subtasks,
        timeline=(TimelineEvent(id=f"evt_{at}_{i:09d}", type="created", timestamp=at),),
        created_at=at,
        updated_at=at,
        started_at=at if status != "pending" else None,
        completed_at=at if status == "completed" else None,
    )


def _write(path: Path, encoder: msgspec.json.Encoder, entity: Project | Task) -> None:
    # Exactly what JsonFileStore._write produces.
    data = msgspec.json.format(encoder.encode(entity), indent=2) + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def seed(data_dir: Path, tasks: int, projects: int = 10, match: int = 50) -> Seeded:
    """Write ``tasks`` tasks over ``projects`` projects into an empty ``data_dir``."""
    tasks_in_target = (tasks + projects - 1) // projects
    if tasks_in_target < match:
        raise ValueError(
            f"the target project would hold {tasks_in_target} tasks, fewer than --match {match}: "
            "use fewer projects or more tasks"
        )
    if data_dir.exists() and any(data_dir.iterdir()):
        raise ValueError(f"{data_dir} is not empty; seed writes into a new directory")
    started = time.perf_counter()
    encoder = msgspec.json.Encoder()
    for name in ("projects", "tasks", "sessions"):
        (data_dir / name).mkdir(parents=True, exist_ok=True)
    for k in range(projects):
        project = Project(
            id=project_id(k),
            name=f"Bench project {k}",
            working_dir=f"/tmp/bench-{k}",
            description="Seeded by benchmarks/seed.py",
            created_at=BASE_MS - projects + k,
            updated_at=BASE_MS - projects + k,
        )
        _write(data_dir / "projects" / f"{project.id}.json", encoder, project)
        (data_dir / "tasks" / project.id).mkdir()
    for i in range(tasks):
        task = _task(i, projects, tasks_in_target, match)
        _write(data_dir / "tasks" / task.project_id / f"{task.id}.json", encoder, task)
    return Seeded(
        data_dir=data_dir,
        tasks=tasks,
        projects=projects,
        target_project=project_id(0),
        target_status=TARGET_STATUS,
        match=match,
        seconds=time.perf_counter() - started,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="directory to create (must be empty or new)")
    parser.add_argument("--tasks", type=int, default=1000, help="number of tasks (default 1000)")
    parser.add_argument("--projects", type=int, default=10, help="number of projects (default 10)")
    parser.add_argument(
        "--match", type=int, default=50, help="tasks the target query returns (default 50)"
    )
    args = parser.parse_args(argv)
    try:
        seeded = seed(args.data_dir, args.tasks, args.projects, args.match)
    except ValueError as error:
        print(f"seed: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote {seeded.tasks} tasks in {seeded.projects} projects to {seeded.data_dir} "
        f"in {seeded.seconds:.1f}s\n"
        f"target query ({seeded.match} tasks): GET {seeded.target_query}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
