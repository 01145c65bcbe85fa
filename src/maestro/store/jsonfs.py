"""The embedded default store: the seed's JSON files, with in-memory maps and indexes.

Layout under the data directory::

    projects/<projectId>.json
    tasks/<projectId>/<taskId>.json
    sessions/<sessionId>.json
    events.jsonl            the retained tail of the event stream
    store.json              the stream's identity (``store.identity``)
    .lock                   held by the one server using the directory
    .quarantine/            files that did not parse at start-up

Reads are served from memory. Writes go through a transaction that holds the one
write lock, so two requests never interleave their read-modify-write; at commit
every file is written atomically before the caller can answer 2xx.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import AsyncIterator, Hashable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import msgspec

from maestro.domain.clock import now_ms
from maestro.domain.events import PendingEvent, StoredEvent, WireMessage
from maestro.domain.ids import is_valid_id
from maestro.domain.models import Project, Session, Task
from maestro.store.base import E, EventListener, SessionQuery, TaskQuery, creation_order
from maestro.store.commit import CommitBatch, GroupCommitter
from maestro.store.datadir_lock import lock_data_dir
from maestro.store.eventlog import EventLog
from maestro.store.files import is_temp_file, write_atomically, write_temp
from maestro.store.identity import new_store_id, read_identity, write_identity

log = logging.getLogger("maestro.store")

AnyEntity = Project | Task | Session
_KINDS: tuple[type[AnyEntity], ...] = (Project, Task, Session)


class _Index:
    """key -> ids, insertion-ordered, so a filtered list costs O(result)."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, dict[str, None]] = {}

    def add(self, key: Hashable, entity_id: str) -> None:
        self._ids.setdefault(key, {})[entity_id] = None

    def discard(self, key: Hashable, entity_id: str) -> None:
        bucket = self._ids.get(key)
        if bucket is not None:
            bucket.pop(entity_id, None)
            if not bucket:
                del self._ids[key]

    def get(self, key: Hashable) -> dict[str, None]:
        return self._ids.get(key, {})


class _Memory:
    """The committed state and its indexes."""

    def __init__(self) -> None:
        self.projects: dict[str, Project] = {}
        self.tasks: dict[str, Task] = {}
        self.sessions: dict[str, Session] = {}
        self.tasks_by_project = _Index()
        self.tasks_by_status = _Index()
        self.tasks_by_project_status = _Index()
        self.tasks_by_parent = _Index()
        self.tasks_by_project_parent = _Index()
        self.sessions_by_project = _Index()
        self.sessions_by_status = _Index()

    def table(self, kind: type[E]) -> dict[str, E]:
        tables: dict[type, Any] = {
            Project: self.projects,
            Task: self.tasks,
            Session: self.sessions,
        }
        return tables[kind]  # type: ignore[no-any-return]

    def put(self, entity: AnyEntity) -> None:
        self.remove(type(entity), entity.id)
        if isinstance(entity, Task):
            self.tasks[entity.id] = entity
            self.tasks_by_project.add(entity.project_id, entity.id)
            self.tasks_by_status.add(entity.status, entity.id)
            self.tasks_by_project_status.add((entity.project_id, entity.status), entity.id)
            self.tasks_by_parent.add(entity.parent_id, entity.id)
            self.tasks_by_project_parent.add((entity.project_id, entity.parent_id), entity.id)
        elif isinstance(entity, Session):
            self.sessions[entity.id] = entity
            self.sessions_by_project.add(entity.project_id, entity.id)
            self.sessions_by_status.add(entity.status, entity.id)
        else:
            self.projects[entity.id] = entity

    def remove(self, kind: type[AnyEntity], entity_id: str) -> None:
        if kind is Task:
            task = self.tasks.pop(entity_id, None)
            if task is not None:
                self.tasks_by_project.discard(task.project_id, entity_id)
                self.tasks_by_status.discard(task.status, entity_id)
                self.tasks_by_project_status.discard((task.project_id, task.status), entity_id)
                self.tasks_by_parent.discard(task.parent_id, entity_id)
                self.tasks_by_project_parent.discard((task.project_id, task.parent_id), entity_id)
        elif kind is Session:
            session = self.sessions.pop(entity_id, None)
            if session is not None:
                self.sessions_by_project.discard(session.project_id, entity_id)
                self.sessions_by_status.discard(session.status, entity_id)
        else:
            self.projects.pop(entity_id, None)

    def task_candidates(self, query: TaskQuery) -> Iterable[str]:
        """The smallest index bucket that covers the query (exact filtering follows)."""
        options: list[Iterable[str]] = []
        if query.project_id is not None and query.status is not None:
            options.append(self.tasks_by_project_status.get((query.project_id, query.status)))
        elif query.project_id is not None:
            options.append(self.tasks_by_project.get(query.project_id))
        elif query.status is not None:
            options.append(self.tasks_by_status.get(query.status))
        if not isinstance(query.parent_id, msgspec.UnsetType):
            if query.project_id is not None:
                key: Hashable = (query.project_id, query.parent_id)
                options.append(self.tasks_by_project_parent.get(key))
            else:
                options.append(self.tasks_by_parent.get(query.parent_id))
        if query.session_id is not None:
            session = self.sessions.get(query.session_id)
            options.append(session.task_ids if session else ())
        if not options:
            return self.tasks
        return min(options, key=lambda ids: len(ids))  # type: ignore[arg-type]

    def session_candidates(self, query: SessionQuery) -> Iterable[str]:
        options: list[Iterable[str]] = []
        if query.project_id is not None:
            options.append(self.sessions_by_project.get(query.project_id))
        if query.status is not None:
            options.append(self.sessions_by_status.get(query.status))
        elif query.active:
            options.append(
                [*self.sessions_by_status.get("spawning"), *self.sessions_by_status.get("running")]
            )
        if query.task_id is not None:
            task = self.tasks.get(query.task_id)
            options.append(task.session_ids if task else ())
        if not options:
            return self.sessions
        return min(options, key=lambda ids: len(ids))  # type: ignore[arg-type]


class _Deleted:
    __slots__ = ("entity",)

    def __init__(self, entity: AnyEntity) -> None:
        self.entity = entity


class JsonTransaction:
    """Staged writes over the committed state; see ``store.base.Transaction``."""

    def __init__(self, memory: _Memory) -> None:
        self._memory = memory
        self.staged: dict[tuple[type[AnyEntity], str], AnyEntity | _Deleted] = {}
        self.events: list[PendingEvent] = []

    async def get(self, kind: type[E], entity_id: str) -> E | None:
        staged = self.staged.get((kind, entity_id))
        if staged is None:
            return self._memory.table(kind).get(entity_id)
        return None if isinstance(staged, _Deleted) else cast(E, staged)

    async def list_projects(self) -> list[Project]:
        return self._overlay(Project, self._memory.projects, lambda _: True)

    async def find_tasks(self, query: TaskQuery) -> list[Task]:
        return self._overlay(Task, self._memory.task_candidates(query), query.matches)

    async def find_sessions(self, query: SessionQuery) -> list[Session]:
        return self._overlay(Session, self._memory.session_candidates(query), query.matches)

    def _overlay(self, kind: type[E], ids: Iterable[str], matches: Any) -> list[E]:
        table = self._memory.table(kind)
        found: dict[str, E] = {}
        for entity_id in ids:
            staged = self.staged.get((kind, entity_id), table.get(entity_id))
            if staged is not None and not isinstance(staged, _Deleted) and matches(staged):
                found[entity_id] = cast(E, staged)
        for (staged_kind, entity_id), staged in self.staged.items():
            if staged_kind is kind and not isinstance(staged, _Deleted) and matches(staged):
                found[entity_id] = cast(E, staged)
        return creation_order(list(found.values()))

    def put(self, entity: AnyEntity) -> None:
        self.staged[(type(entity), entity.id)] = entity

    def delete(self, entity: AnyEntity) -> None:
        self.staged[(type(entity), entity.id)] = _Deleted(entity)

    def emit(self, event_type: str, data: Any, project_id: str) -> None:
        self.events.append(PendingEvent(event_type, data, project_id))


class JsonFileStore:
    """The JSON-files backend of ``store.base.Store``."""

    kind = "json"

    def __init__(self, root: Path, *, retain_events: int = 10_000, fsync: bool = False) -> None:
        self.root = root
        self.fsync = fsync
        self._memory = _Memory()
        self._lock = asyncio.Lock()
        self._listeners: list[EventListener] = []
        self._events = EventLog(root / "events.jsonl", retain_events, fsync=fsync)
        self._encoder = msgspec.json.Encoder()
        self._known_dirs: set[Path] = set()
        self._last_seq = 0
        self._committer: GroupCommitter | None = None
        self.store_id = ""  # set by open()
        self._lock_fd: int | None = None

    # -- paths --------------------------------------------------------------

    def _path(self, entity: AnyEntity) -> Path:
        if isinstance(entity, Task):
            return self.root / "tasks" / entity.project_id / f"{entity.id}.json"
        folder = "projects" if isinstance(entity, Project) else "sessions"
        return self.root / folder / f"{entity.id}.json"

    # -- life cycle ---------------------------------------------------------

    async def open(self) -> None:
        self._lock_fd = lock_data_dir(self.root)
        for name in ("projects", "tasks", "sessions"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        for project in self._load_folder(self.root / "projects", Project):
            self._memory.put(project)
        for folder in sorted((self.root / "tasks").iterdir()):
            if folder.is_dir():
                for task in self._load_folder(folder, Task, project_id=folder.name):
                    self._memory.put(task)
        for session in self._load_folder(self.root / "sessions", Session):
            self._memory.put(session)
        self._repair_links()
        # A stream that starts afresh (no event log yet) gets a new identity.
        fresh_stream = not self._events.path.exists()
        self._events.load()
        known = None if fresh_stream else read_identity(self.root)
        self.store_id = known or new_store_id()
        if known is None:
            write_identity(self.root, self.store_id, fsync=self.fsync)
        self._last_seq = self._events.last_seq
        if self.fsync:
            self._committer = GroupCommitter(self._events.append, self._publish)

    async def close(self) -> None:
        if self._committer is not None:
            await self._committer.close()
        self._events.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the data directory's lock
            self._lock_fd = None

    def _load_folder(
        self, folder: Path, kind: type[E], project_id: str | None = None
    ) -> Iterable[E]:
        # os.scandir and plain reads: at 100k files, pathlib's extra stat per file
        # and object churn were a fifth of the start-up time.
        decoder = msgspec.json.Decoder(kind)
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        for entry in entries:
            path = Path(entry.path)
            if is_temp_file(path):
                # An unfinished write from a crash: never acknowledged, so never kept.
                path.unlink(missing_ok=True)
                continue
            if not entry.name.endswith(".json") or not entry.is_file():
                continue
            try:
                with open(entry.path, "rb") as file:
                    entity = decoder.decode(file.read())
            except (msgspec.MsgspecError, OSError) as error:
                self._quarantine(path, str(error))
                continue
            if entity.id != entry.name[:-5] or not is_valid_id(entity.id):
                self._quarantine(path, f"its id {entity.id!r} does not match its file name")
                continue
            if isinstance(entity, Task) and entity.project_id != project_id:
                self._quarantine(path, f"its projectId {entity.project_id!r} is not its folder")
                continue
            yield entity

    def _quarantine(self, path: Path, reason: str) -> None:
        target_dir = self.root / ".quarantine"
        target_dir.mkdir(exist_ok=True)
        relative = path.relative_to(self.root)
        target = target_dir / f"{now_ms()}__{'__'.join(relative.parts)}"
        shutil.move(str(path), target)
        log.error("quarantined %s -> %s: %s", relative, target.relative_to(self.root), reason)

    def _repair_links(self) -> None:
        """Make task<->session links symmetric again after a crash between the two
        files of one change: a link either side still records is kept, and ids of
        entities that no longer exist are dropped."""
        memory = self._memory
        repaired: dict[tuple[type[AnyEntity], str], AnyEntity] = {}
        for session in list(memory.sessions.values()):
            for task_id in session.task_ids:
                task = memory.tasks.get(task_id)
                if task is not None and session.id not in task.session_ids:
                    task.session_ids.append(session.id)
                    repaired[(Task, task.id)] = task
            kept = [t for t in session.task_ids if t in memory.tasks]
            if kept != session.task_ids:
                session.task_ids = kept
                repaired[(Session, session.id)] = session
        for task in list(memory.tasks.values()):
            kept = [s for s in task.session_ids if s in memory.sessions]
            if kept != task.session_ids:
                task.session_ids = kept
                repaired[(Task, task.id)] = task
            for session_id in kept:
                session = memory.sessions[session_id]
                if task.id not in session.task_ids:
                    session.task_ids.append(task.id)
                    repaired[(Session, session.id)] = session
        for entity in repaired.values():
            log.warning("repaired the task/session links of %s", entity.id)
            self._write(entity)

    # -- reads --------------------------------------------------------------

    async def get(self, kind: type[E], entity_id: str) -> E | None:
        return self._memory.table(kind).get(entity_id)

    async def list_projects(self) -> list[Project]:
        return creation_order(list(self._memory.projects.values()))

    async def find_tasks(self, query: TaskQuery) -> list[Task]:
        tasks = self._memory.tasks
        found = [tasks[i] for i in self._memory.task_candidates(query) if i in tasks]
        return creation_order([t for t in found if query.matches(t)])

    async def find_sessions(self, query: SessionQuery) -> list[Session]:
        sessions = self._memory.sessions
        found = [sessions[i] for i in self._memory.session_candidates(query) if i in sessions]
        return creation_order([s for s in found if query.matches(s)])

    async def counts(self) -> dict[str, int]:
        memory = self._memory
        return {
            "projects": len(memory.projects),
            "tasks": len(memory.tasks),
            "sessions": len(memory.sessions),
        }

    # -- writes -------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[JsonTransaction]:
        async with self._lock:
            tx = JsonTransaction(self._memory)
            yield tx
            batch = self._commit(tx)
            if self._committer is None:
                batch.apply()
                self._events.append(batch.events)
                self._publish(batch.events)
                return
            durable = self._committer.submit(batch)
        # Outside the lock: the next transactions go ahead and share our fsyncs.
        await durable

    def _commit(self, tx: JsonTransaction) -> CommitBatch:
        """Stage the transaction's files (temp files beside their targets), update
        memory and number its events, all under the lock, so commit order is the
        order of files on disk and of ``seq``."""
        batch = CommitBatch()
        for staged in tx.staged.values():
            if isinstance(staged, _Deleted):
                batch.unlinks.append(self._path(staged.entity))
                if isinstance(staged.entity, Project):
                    # The project's (by now empty) task folder goes with it.
                    tasks_dir = self.root / "tasks" / staged.entity.id
                    self._known_dirs.discard(tasks_dir)
                    batch.removed_dirs.append(tasks_dir)
                self._memory.remove(type(staged.entity), staged.entity.id)
            else:
                path = self._path(staged)
                batch.renames.append((write_temp(path, self._encode(staged)), path))
                log.debug("wrote %s", path.relative_to(self.root))
                self._memory.put(staged)
        batch.events = self._number(tx.events)
        return batch

    def _encode(self, entity: AnyEntity) -> bytes:
        path = self._path(entity)
        if path.parent not in self._known_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._known_dirs.add(path.parent)
        return msgspec.json.format(self._encoder.encode(entity), indent=2) + b"\n"

    def _write(self, entity: AnyEntity) -> None:
        write_atomically(self._path(entity), self._encode(entity), fsync=self.fsync)

    # -- events -------------------------------------------------------------

    def _number(self, pending: list[PendingEvent]) -> list[StoredEvent]:
        """Give each event its place in the global order and encode its frame once."""
        timestamp = now_ms()
        stored = []
        for event in pending:
            self._last_seq += 1
            wire = WireMessage(event.type, event.type, event.data, self._last_seq, timestamp)
            frame = self._encoder.encode(wire).decode()
            stored.append(StoredEvent(self._last_seq, event.project_id, frame))
        return stored

    def _publish(self, events: Sequence[StoredEvent]) -> None:
        if events:
            for listener in self._listeners:
                listener(events)

    def subscribe(self, listener: EventListener) -> None:
        self._listeners.append(listener)

    def recent_events(self) -> list[StoredEvent]:
        return list(self._events.tail)
