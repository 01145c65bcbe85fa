"""Moving a whole store from one backend to the other (``maestro data export|import``).

The exchange format is a directory in the JSON store's layout (docs/storage.md):
``projects/``, ``tasks/<projectId>/``, ``sessions/``, ``approvals/``,
``runners/``, ``events.jsonl`` and ``store.json``, written by the JSON store's
own code. So an export from either backend gives the same bytes for the same
content, an export is itself a data directory ``maestro serve --data-dir`` can
run on, and export → import → export gives back the very files.

What moves: every project, task (with its subtasks and timeline), session,
approval and runner as it is, and the retained tail of the event stream (the
last ``retained_events``, 10,000 by default) with its ``seq`` numbers and
frames, so ``?since=`` replay and
the numbering carry on after the move, and the store id that names that stream
(an exchange directory without one gets a new id: its stream is not known).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from maestro.config import Settings
from maestro.domain.events import StoredEvent
from maestro.domain.ids import is_valid_id
from maestro.domain.models import Approval, Project, Runner, Session, Task, Token
from maestro.store.base import (
    AnyEntity,
    ApprovalQuery,
    E,
    RunnerQuery,
    SessionQuery,
    Store,
    TaskQuery,
    TokenQuery,
)
from maestro.store.eventlog import EventLog
from maestro.store.files import is_temp_file
from maestro.store.identity import IDENTITY_FILE, new_store_id, read_identity, write_identity
from maestro.store.jsonfs import JsonFileStore

LAYOUT = (
    "projects",
    "tasks",
    "sessions",
    "approvals",
    "runners",
    "tokens",
    "events.jsonl",
    "journal",
    IDENTITY_FILE,
)


class TransferError(Exception):
    """The move cannot be made; the message says why and what to do."""


@dataclass
class Snapshot:
    """The whole content of a store."""

    projects: list[Project]
    tasks: list[Task]
    sessions: list[Session]
    events: list[StoredEvent]
    store_id: str
    approvals: list[Approval]
    runners: list[Runner]
    tokens: list[Token]

    def entities(self) -> Iterator[AnyEntity]:
        yield from self.projects
        yield from self.tasks
        yield from self.sessions
        yield from self.approvals
        yield from self.runners
        yield from self.tokens

    def counts(self) -> dict[str, int]:
        return {
            "projects": len(self.projects),
            "tasks": len(self.tasks),
            "sessions": len(self.sessions),
            "approvals": len(self.approvals),
            "runners": len(self.runners),
            "tokens": len(self.tokens),
            "events": len(self.events),
        }

    def summary(self) -> str:
        return ", ".join(f"{n} {name}" for name, n in self.counts().items())


# -- stores -------------------------------------------------------------------------


async def read_store(store: Store) -> Snapshot:
    """Everything in an open store. Read inside a transaction, so no write lands
    between the reads (the transaction itself writes nothing)."""
    async with store.transaction() as tx:
        projects = await tx.list_projects()
        tasks = await tx.find_tasks(TaskQuery())
        sessions = await tx.find_sessions(SessionQuery())
        approvals = await tx.find_approvals(ApprovalQuery())
        runners = await tx.find_runners(RunnerQuery())
        tokens = await tx.find_tokens(TokenQuery())
    return Snapshot(
        projects, tasks, sessions, store.recent_events(), store.store_id, approvals, runners, tokens
    )


async def is_empty(store: Store) -> bool:
    counts = await store.counts()
    return not any(counts.values()) and not store.recent_events()


async def replace_store(store: Store, settings: Settings, snapshot: Snapshot) -> None:
    """Make an open store hold exactly ``snapshot``. It is closed afterwards."""
    if store.kind == "postgres":
        from maestro.store.postgres import PostgresStore

        assert isinstance(store, PostgresStore)
        try:
            await store.restore(snapshot.entities(), snapshot.events, snapshot.store_id)
        finally:
            await store.close()
        return
    await store.close()
    clear_directory(settings.data_dir)
    await write_directory(snapshot, settings.data_dir, settings.retained_events)


# -- exchange directories -------------------------------------------------------------


def is_empty_directory(root: Path) -> bool:
    return not root.exists() or (root.is_dir() and not any(root.iterdir()))


def clear_directory(root: Path) -> None:
    """Remove the JSON layout's entries from ``root`` (anything else is left alone)."""
    for name in LAYOUT:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


async def write_directory(snapshot: Snapshot, root: Path, retain_events: int) -> None:
    """Write ``snapshot`` into ``root`` (no layout entries yet) with the JSON store's code."""
    store = JsonFileStore(root, retain_events=retain_events)
    await store.open()
    try:
        async with store.transaction() as tx:
            for entity in snapshot.entities():
                tx.put(entity)
    finally:
        await store.close()
    log = EventLog(root / "events.jsonl", retain_events)
    log.load()
    try:
        log.append(snapshot.events)
    finally:
        log.close()
    write_identity(root, snapshot.store_id)


def read_directory(root: Path, retain_events: int) -> Snapshot:
    """Read an exchange directory, refusing (not skipping) anything unreadable."""
    if not root.is_dir():
        raise TransferError(f"{root} is not a directory")
    if not any((root / name).exists() for name in LAYOUT):
        raise TransferError(
            f"{root} holds no Maestro data (no projects/, tasks/, sessions/ or events.jsonl)"
        )
    projects = [_load(path, Project) for path in _files(root / "projects")]
    tasks = []
    if (root / "tasks").is_dir():
        for folder in sorted((root / "tasks").iterdir()):
            for path in _files(folder):
                task = _load(path, Task)
                if task.project_id != folder.name:
                    raise TransferError(f"{path}: its projectId is not its folder's name")
                tasks.append(task)
    sessions = [_load(path, Session) for path in _files(root / "sessions")]
    approvals = [_load(path, Approval) for path in _files(root / "approvals")]
    runners = [_load(path, Runner) for path in _files(root / "runners")]
    tokens = [_load(path, Token) for path in _files(root / "tokens")]
    events: list[StoredEvent] = []
    if (root / "events.jsonl").is_file():
        log = EventLog(root / "events.jsonl", retain_events)
        log.load()
        log.close()
        events = list(log.tail)
    store_id = read_identity(root) or new_store_id()
    return Snapshot(projects, tasks, sessions, events, store_id, approvals, runners, tokens)


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.suffix == ".json" and p.is_file() and not is_temp_file(p)
    )


def _load(path: Path, kind: type[E]) -> E:
    try:
        entity = msgspec.json.decode(path.read_bytes(), type=kind)
    except (msgspec.MsgspecError, OSError) as error:
        raise TransferError(f"{path} is not a valid {kind.__name__.lower()}: {error}") from None
    if entity.id != path.stem or not is_valid_id(entity.id):
        raise TransferError(f"{path}: its id {entity.id!r} does not match its file name")
    return entity
