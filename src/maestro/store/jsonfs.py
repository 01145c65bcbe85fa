"""The embedded default store: the seed's JSON files, with in-memory maps and indexes.

Layout under the data directory::

    projects/<projectId>.json
    tasks/<projectId>/<taskId>.json
    sessions/<sessionId>.json
    events.jsonl            the retained tail of the event stream
    store.json              the stream's identity (``store.identity``)
    .lock                   held by the one server using the directory
    .quarantine/            files that did not parse at start-up

Reads are served from memory, which holds exactly what is on disk. Writes go
through a transaction that holds the one write lock while it reads, decides and
is prepared, so two requests never interleave their read-modify-write. Prepared
transactions are then written in groups, all or nothing, by the committer
(``store.commit``): a transaction that waits for the disk does not hold the lock,
later ones are prepared on top of it (they read the pending versions) and share
its write. Memory and subscribers see a transaction only once its group is on
disk; the caller answers 2xx only then. A failed write changes nothing and
answers ``507 INSUFFICIENT_STORAGE`` (disk full) or ``503 STORE_UNAVAILABLE``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import msgspec
from msgspec.structs import replace

from maestro.domain.clock import now_ms
from maestro.domain.errors import StorageFull, StoreWriteFailed
from maestro.domain.events import PendingEvent, StoredEvent, WireMessage
from maestro.domain.ids import is_valid_id
from maestro.domain.models import Project, Session, Task
from maestro.store.base import (
    E,
    EventListener,
    SessionQuery,
    TaskQuery,
    creation_order,
    disk_full,
    write_failed,
)
from maestro.store.commit import DiskWriter, FileChange, FsyncFailed, GroupCommitter, WriteGroup
from maestro.store.datadir_lock import lock_data_dir
from maestro.store.eventlog import EventLog
from maestro.store.files import is_temp_file, write_atomically
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


Key = tuple[type[AnyEntity], str]
Staged = AnyEntity | _Deleted


@dataclass
class _Prepared:
    """A transaction ready to be written: its changes and its numbered events."""

    number: int
    staged: dict[Key, Staged]
    events: list[StoredEvent]


@dataclass
class _Pending:
    """Prepared transactions not yet on disk. Later transactions read through
    them (latest version first); memory does not see them until they are written."""

    versions: dict[Key, tuple[int, Staged]] = field(default_factory=dict)

    def add(self, prepared: _Prepared) -> None:
        for key, staged in prepared.staged.items():
            self.versions[key] = (prepared.number, staged)

    def written(self, through: int) -> None:
        """Transactions up to number ``through`` are on disk (and in memory)."""
        self.versions = {k: v for k, v in self.versions.items() if v[0] > through}

    def get(self, key: Key) -> Staged | None:
        found = self.versions.get(key)
        return None if found is None else found[1]

    def of_kind(self, kind: type[Any]) -> Iterable[tuple[Key, Staged]]:
        return ((key, v[1]) for key, v in self.versions.items() if key[0] is kind)


class JsonTransaction:
    """Staged writes over the committed state and the transactions still being
    written; see ``store.base.Transaction``."""

    def __init__(self, memory: _Memory, pending: _Pending) -> None:
        self._memory = memory
        self._pending = pending
        self.staged: dict[Key, Staged] = {}
        self.events: list[PendingEvent] = []

    def _latest(self, key: Key) -> Staged | None:
        staged = self.staged.get(key)
        if staged is None:
            staged = self._pending.get(key)
        return staged

    async def get(self, kind: type[E], entity_id: str) -> E | None:
        staged = self._latest((kind, entity_id))
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
            latest = self._latest((kind, entity_id))
            current = table.get(entity_id) if latest is None else latest
            if current is not None and not isinstance(current, _Deleted) and matches(current):
                found[entity_id] = cast(E, current)
        # Changed entities may have moved into the query's reach (a new status, say).
        changed = [*self._pending.of_kind(kind), *self.staged.items()]
        for (staged_kind, entity_id), _ in changed:
            if staged_kind is not kind:
                continue
            latest = self._latest((kind, entity_id))
            if isinstance(latest, _Deleted) or latest is None:
                found.pop(entity_id, None)
            elif matches(latest):
                found[entity_id] = cast(E, latest)
            else:
                found.pop(entity_id, None)
        return creation_order(list(found.values()))

    def put(self, entity: AnyEntity) -> None:
        self.staged[(type(entity), entity.id)] = entity

    def delete(self, entity: AnyEntity) -> None:
        self.staged[(type(entity), entity.id)] = _Deleted(entity)

    def emit(self, event_type: str, data: Any, project_id: str) -> None:
        self.events.append(PendingEvent.of(event_type, data, project_id))


def _linked(ids: Iterable[str], wanted: set[str]) -> list[str]:
    """``ids`` that are still wanted, in their order, then the wanted ones missing."""
    kept = [i for i in ids if i in wanted]
    return kept + sorted(wanted.difference(kept))


def stop_process(reason: str) -> None:
    """What a failed fsync leads to: the process ends, so nothing more is promised
    on a disk that may have dropped data. A supervisor restarts it from the disk."""
    log.critical("stopping: %s", reason)
    logging.shutdown()
    sys.stderr.flush()
    os._exit(70)  # EX_SOFTWARE; the kernel releases the data directory's lock


def _write_error(error: BaseException) -> StorageFull | StoreWriteFailed:
    """The documented error for a write the disk refused (nothing was written)."""
    if isinstance(error, FsyncFailed):
        return StoreWriteFailed(f"{error}; the server stops to keep what is on disk true")
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_full()
    return write_failed(error.strerror if isinstance(error, OSError) and error.strerror else error)


class JsonFileStore:
    """The JSON-files backend of ``store.base.Store``."""

    kind = "json"

    def __init__(
        self,
        root: Path,
        *,
        retain_events: int = 10_000,
        fsync: bool = False,
        on_fsync_failure: Callable[[str], None] = stop_process,
    ) -> None:
        self.root = root
        self.fsync = fsync
        self._memory = _Memory()
        self._pending = _Pending()
        self._lock = asyncio.Lock()
        self._listeners: list[EventListener] = []
        self._events = EventLog(root / "events.jsonl", retain_events, fsync=fsync)
        self._encoder = msgspec.json.Encoder()
        self._folders: dict[tuple[str, ...], Path] = {}
        self._last_seq = 0  # the last seq given out, written or not
        self._prepared = 0  # transactions prepared so far
        self._failures = 0  # groups that failed: transactions built on them must not go on
        self._last_failure: BaseException = OSError()
        self._on_fsync_failure = on_fsync_failure
        self._writer = DiskWriter(
            self._events.write, self._events.cut, self._events.sync, fsync=fsync
        )
        self._committer: GroupCommitter[_Prepared] = GroupCommitter(self._flush, self._discard)
        self.store_id = ""  # set by open()
        self._lock_fd: int | None = None

    # -- paths --------------------------------------------------------------

    def _folder(self, entity: AnyEntity) -> Path:
        """The entity's folder (made when first needed), one ``Path`` per folder:
        joining paths anew for every write was a measurable part of a create."""
        key = ("tasks", entity.project_id) if isinstance(entity, Task) else (type(entity).__name__,)
        folder = self._folders.get(key)
        if folder is None:
            if isinstance(entity, Task):
                folder = self.root / "tasks" / entity.project_id
            else:
                folder = self.root / ("projects" if isinstance(entity, Project) else "sessions")
            folder.mkdir(parents=True, exist_ok=True)
            self._folders[key] = folder
        return folder

    def _path(self, entity: AnyEntity) -> Path:
        return self._folder(entity) / f"{entity.id}.json"

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

    async def close(self) -> None:
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
        links = {
            (session.id, task_id)
            for session in memory.sessions.values()
            for task_id in session.task_ids
            if task_id in memory.tasks
        } | {
            (session_id, task.id)
            for task in memory.tasks.values()
            for session_id in task.session_ids
            if session_id in memory.sessions
        }
        task_ids_of: dict[str, set[str]] = {}
        session_ids_of: dict[str, set[str]] = {}
        for session_id, task_id in links:
            task_ids_of.setdefault(session_id, set()).add(task_id)
            session_ids_of.setdefault(task_id, set()).add(session_id)
        repaired: list[AnyEntity] = []
        for session in list(memory.sessions.values()):
            kept = _linked(session.task_ids, task_ids_of.get(session.id, set()))
            if kept != list(session.task_ids):
                repaired.append(replace(session, task_ids=type(session.task_ids)(kept)))
        for task in list(memory.tasks.values()):
            kept = _linked(task.session_ids, session_ids_of.get(task.id, set()))
            if kept != list(task.session_ids):
                repaired.append(replace(task, session_ids=type(task.session_ids)(kept)))
        for entity in repaired:
            log.warning("repaired the task/session links of %s", entity.id)
            memory.put(entity)
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
            failures = self._failures
            tx = JsonTransaction(self._memory, self._pending)
            yield tx
            if not tx.staged and not tx.events:
                return
            if failures != self._failures:
                # It read versions of a group that then failed to be written.
                raise _write_error(self._last_failure)
            done = self._committer.submit(self._prepare(tx))
        # Outside the lock: the next transactions are prepared meanwhile and share
        # the next write with whatever else is waiting.
        try:
            await done
        except OSError as error:
            raise _write_error(error) from None

    def _prepare(self, tx: JsonTransaction) -> _Prepared:
        """Number the transaction's events and make its versions visible to the
        transactions prepared after it (not to memory: it is not on disk yet)."""
        self._prepared += 1
        prepared = _Prepared(self._prepared, dict(tx.staged), self._number(tx.events))
        self._pending.add(prepared)
        return prepared

    async def _flush(self, group: list[_Prepared]) -> None:
        """Write a group of prepared transactions, then publish it (see ``commit``)."""
        final: dict[Key, Staged] = {}
        for prepared in group:
            final.update(prepared.staged)
        events = [event for prepared in group for event in prepared.events]
        write = WriteGroup(log_lines=self._events.lines(events))
        for (kind, entity_id), staged in final.items():
            entity = staged.entity if isinstance(staged, _Deleted) else staged
            before: AnyEntity | None = self._memory.table(cast(Any, kind)).get(entity_id)
            data = None if isinstance(staged, _Deleted) else self._encode(entity)
            write.files.append(FileChange(self._path(entity), data, self._encoded(before)))
            if isinstance(staged, _Deleted) and isinstance(entity, Project):
                # The project's (by now empty) task folder goes with it.
                self._folders.pop(("tasks", entity.id), None)
                write.removed_dirs.append(self.root / "tasks" / entity.id)
        try:
            await asyncio.to_thread(self._writer.write, write)
        except FsyncFailed as error:
            self._on_fsync_failure(f"{error}; what the disk promised can no longer be trusted")
            raise
        except OSError as error:
            log.error("a write of %d transaction(s) failed and was undone: %s", len(group), error)
            raise
        for (kind, entity_id), staged in final.items():
            if isinstance(staged, _Deleted):
                self._memory.remove(kind, entity_id)
            else:
                self._memory.put(staged)
        self._pending.written(group[-1].number)
        self._events.record(events)
        self._publish(events)
        if self._events.needs_compaction:
            try:
                await asyncio.to_thread(self._events.compact)
            except OSError as error:  # the log keeps growing; nothing is lost
                log.warning("could not compact the event log: %s", error)

    def _discard(self, error: BaseException) -> None:
        """A group failed: forget every transaction prepared but not written."""
        self._failures += 1
        self._last_failure = error
        self._pending.versions.clear()
        self._last_seq = self._events.last_seq

    def _encoded(self, entity: AnyEntity | None) -> Callable[[], bytes | None]:
        """An entity's file content, made only if a failed write must put it back."""
        if entity is None:
            return lambda: None
        return lambda: msgspec.json.format(msgspec.json.encode(entity), indent=2) + b"\n"

    def _encode(self, entity: AnyEntity) -> bytes:
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
