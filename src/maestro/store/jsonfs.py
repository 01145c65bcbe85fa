"""The embedded default store: the seed's JSON files, with in-memory maps and indexes.

Layout under the data directory::

    projects/<projectId>.json
    tasks/<projectId>/<taskId>.json
    sessions/<sessionId>.json
    approvals/<approvalId>.json
    runners/<runnerId>.json
    events.jsonl            the retained tail of the event stream
    journal/<n>.jsonl       committed groups not yet in the files above
    store.json              the stream's identity (``store.identity``)
    .lock                   held by the one server using the directory
    .quarantine/            files that did not parse at start-up (``store.recovery``)

Reads are served from memory, which holds exactly what is committed. Writes go
through a transaction that holds the one write lock while it reads, decides and
is prepared, so two requests never interleave their read-modify-write. Prepared
transactions are committed in groups (``store.commit``): a transaction that
waits for its group does not hold the lock; later ones are prepared on top of it
(they read the pending versions) and share the next group.

A group is committed by one append to the journal (``store.journal``), fsynced
with ``MAESTRO_FSYNC=1``; only then do memory and subscribers see it and its
requests get their 2xx. A failed append changes nothing and answers ``507
INSUFFICIENT_STORAGE`` (disk full) or ``503 STORE_UNAVAILABLE``. The entity
files and ``events.jsonl`` follow in the background: a checkpoint writes every
entity changed since the last one, once, in its latest version
(``store.checkpoint``), then drops the journal segments it covered. While the
server runs the files may be a moment behind; at a clean shutdown they are
brought up to date and the journal is empty, and after a crash start-up replays
the journal over them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import msgspec

from maestro.domain.clock import now_ms
from maestro.domain.encoding import encode
from maestro.domain.errors import StorageFull, StoreWriteFailed
from maestro.domain.events import PendingEvent, StoredEvent, WireMessage
from maestro.domain.models import Approval, Project, Runner, Session, Task, Token
from maestro.store.base import (
    ApprovalQuery,
    E,
    EventListener,
    RunnerQuery,
    SessionQuery,
    TaskQuery,
    TokenQuery,
    creation_order,
    disk_full,
    write_failed,
)
from maestro.store.checkpoint import Checkpoint, FileChange, write_checkpoint
from maestro.store.commit import GroupCommitter
from maestro.store.datadir_lock import lock_data_dir
from maestro.store.eventlog import EventLog
from maestro.store.files import FsyncFailed
from maestro.store.identity import new_store_id, read_identity, write_identity
from maestro.store.journal import (
    EncodedEntry,
    EntityKind,
    Entry,
    Journal,
    JournalCorrupt,
    Removed,
)
from maestro.store.memory import AnyEntity, Memory
from maestro.store.recovery import load_entities, quarantine, repaired_links

log = logging.getLogger("maestro.store")

_KIND_NAMES: dict[type[AnyEntity], EntityKind] = {
    Project: "project",
    Task: "task",
    Session: "session",
    Approval: "approval",
    Runner: "runner",
    Token: "token",
}
_KINDS_BY_NAME: dict[str, type[AnyEntity]] = {name: kind for kind, name in _KIND_NAMES.items()}

# The entity folders under the data directory (tasks have one per project inside theirs).
_FOLDERS: dict[type[AnyEntity], str] = {
    Project: "projects",
    Task: "tasks",
    Session: "sessions",
    Approval: "approvals",
    Runner: "runners",
    Token: "tokens",
}

# Checkpoints start at most this often (see ``_start_checkpoint``), and one that
# failed (a full disk, say) is tried again after the longer wait.
CHECKPOINT_SECONDS = 0.2
CHECKPOINT_RETRY_SECONDS = 1.0
# Past this many entities waiting for a checkpoint, a commit first waits for the
# running one: the journal absorbs bursts, not an unbounded backlog.
MAX_UNCHECKPOINTED = 50_000


class _Deleted:
    __slots__ = ("entity",)

    def __init__(self, entity: AnyEntity) -> None:
        self.entity = entity


Key = tuple[type[AnyEntity], str]
Staged = AnyEntity | _Deleted
# The checkpoint's key: the kind's name, not its class. Tens of thousands wait
# between checkpoints, and a tuple holding a class stays tracked by the cycle
# collector (which then took 50 ms for each full pass); one of two strings does not.
DirtyKey = tuple[str, str]


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

    def __init__(self, memory: Memory, pending: _Pending) -> None:
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

    async def find_approvals(self, query: ApprovalQuery) -> list[Approval]:
        return self._overlay(Approval, self._memory.approval_candidates(query), query.matches)

    async def find_runners(self, query: RunnerQuery) -> list[Runner]:
        return self._overlay(Runner, self._memory.runner_candidates(query), query.matches)

    async def find_tokens(self, query: TokenQuery) -> list[Token]:
        return self._overlay(Token, self._memory.tokens, query.matches)

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


def _owner(entity: AnyEntity) -> str:
    """The project an entity belongs to (a project: itself; a runner, a token: none)."""
    if isinstance(entity, Project):
        return entity.id
    return "" if isinstance(entity, Runner | Token) else entity.project_id


def _dirty_key(entity: AnyEntity) -> DirtyKey:
    return (type(entity).__name__, entity.id)


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
        self._memory = Memory()
        self._pending = _Pending()
        self._lock = asyncio.Lock()
        self._listeners: list[EventListener] = []
        self._events = EventLog(root / "events.jsonl", retain_events, fsync=fsync)
        self._journal = Journal(root / "journal", fsync=fsync)
        self._encoder = msgspec.json.Encoder()
        self._folders: dict[tuple[str, ...], Path] = {}
        self._last_seq = 0  # the last seq given out, committed or not
        self._prepared = 0  # transactions prepared so far
        self._failures = 0  # groups that failed: transactions built on them must not go on
        self._last_failure: BaseException = OSError()
        self._on_fsync_failure = on_fsync_failure
        self._committer: GroupCommitter[_Prepared] = GroupCommitter(self._flush, self._discard)
        # Committed but not yet in the files: the latest version of each changed
        # entity (with its encoding) and the events, for the next checkpoint.
        self._dirty: dict[DirtyKey, tuple[Staged, bytes | None]] = {}
        self._unsaved: list[tuple[int, bytes]] = []  # (seq, events.jsonl line)
        self._checkpointing: asyncio.Task[None] | None = None
        # Held from a group's journal append until memory and the next checkpoint
        # have it, and by a checkpoint while it switches segments: a checkpoint
        # must never drop a segment holding a group it does not write.
        self._rotation = asyncio.Lock()
        self._next_checkpoint = 0.0  # time.monotonic() before which none starts
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
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
                folder = self.root / _FOLDERS[type(entity)]
            folder.mkdir(parents=True, exist_ok=True)
            self._folders[key] = folder
        return folder

    # -- life cycle ---------------------------------------------------------

    async def open(self) -> None:
        self._lock_fd = lock_data_dir(self.root)
        for name in _FOLDERS.values():
            (self.root / name).mkdir(parents=True, exist_ok=True)
        load_entities(self.root, self._memory)
        # A stream that starts afresh (no event log and no journal) gets a new identity.
        fresh_stream = not self._events.path.exists() and not self._journal.segments()
        self._events.load()
        replayed = self._replay_journal()
        for entity in repaired_links(self._memory):
            self._memory.put(entity)
            self._dirty[_dirty_key(entity)] = (entity, self._encoder.encode(entity))
        known = None if fresh_stream else read_identity(self.root)
        self.store_id = known or new_store_id()
        if known is None:
            write_identity(self.root, self.store_id, fsync=self.fsync)
        self._last_seq = self._events.last_seq
        self._journal.start()
        # Bring the files up to date now; if the disk refuses, the journal keeps
        # everything and the background checkpoint tries again.
        if (replayed or self._dirty) and not await self._checkpoint():
            self._start_checkpoint()

    async def close(self) -> None:
        await self._committer.close()
        self._closed = True  # no more background checkpoints
        if self._timer is not None:
            self._timer.cancel()
        if await self.sync_files():
            self._journal.close()
            # Everything is in the files: a clean shutdown leaves no journal.
            for segment in self._journal.segments():
                segment.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # not empty: someone else's file
                self._journal.folder.rmdir()
        self._journal.close()
        self._events.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the data directory's lock
            self._lock_fd = None

    def _replay_journal(self) -> bool:
        """Apply the groups a crash left in the journal over what the files hold.
        Returns whether there were segments (the files are then behind)."""
        segments = self._journal.segments()
        for segment in segments:
            try:
                for entry in Journal.read(segment):
                    self._apply(entry)
            except (JournalCorrupt, OSError) as error:
                # What was read of it is kept; the rest cannot be trusted.
                quarantine(self.root, segment, str(error))
        return bool(segments)

    def _apply(self, entry: Entry) -> None:
        """One replayed group: its versions into memory (and into the next
        checkpoint), its events into the tail (those not already in the file)."""
        entities: list[AnyEntity] = [
            *entry.projects,
            *entry.tasks,
            *entry.sessions,
            *entry.approvals,
            *entry.runners,
            *entry.tokens,
        ]
        for entity in entities:
            self._memory.put(entity)
            self._dirty[_dirty_key(entity)] = (entity, self._encoder.encode(entity))
        for removed in entry.removed:
            kind = _KINDS_BY_NAME[removed.kind]
            gone = self._memory.table(cast(Any, kind)).get(removed.id)
            if gone is not None:
                self._memory.remove(kind, removed.id)
                self._dirty[_dirty_key(gone)] = (_Deleted(gone), None)
        fresh = [
            StoredEvent(e.seq, e.project_id, e.frame)
            for e in entry.events
            if e.seq > self._events.last_seq
        ]
        self._events.record(fresh)
        self._unsaved.extend((e.seq, self._events.line(e)) for e in fresh)

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

    async def find_approvals(self, query: ApprovalQuery) -> list[Approval]:
        approvals = self._memory.approvals
        found = [approvals[i] for i in self._memory.approval_candidates(query) if i in approvals]
        return creation_order([a for a in found if query.matches(a)])

    async def find_runners(self, query: RunnerQuery) -> list[Runner]:
        runners = self._memory.runners
        found = [runners[i] for i in self._memory.runner_candidates(query) if i in runners]
        return creation_order([r for r in found if query.matches(r)])

    async def find_tokens(self, query: TokenQuery) -> list[Token]:
        return creation_order([t for t in self._memory.tokens.values() if query.matches(t)])

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
        """Commit a group with one journal append, then publish it."""
        final: dict[Key, Staged] = {}
        for prepared in group:
            final.update(prepared.staged)
        events = [event for prepared in group for event in prepared.events]
        if len(self._dirty) > MAX_UNCHECKPOINTED and self._checkpointing is not None:
            await asyncio.shield(self._checkpointing)
        # Each event's line is encoded once: spliced into the journal line here,
        # appended to events.jsonl as it is by the checkpoint.
        lines = [(e.seq, self._events.line(e)) for e in events]
        entry = EncodedEntry(events=[msgspec.Raw(line[:-1]) for _, line in lines])
        changes: list[tuple[Key, Staged, bytes | None]] = []
        for key, staged in final.items():
            if isinstance(staged, _Deleted):
                gone = staged.entity
                entry.removed.append(Removed(_KIND_NAMES[key[0]], gone.id, _owner(gone)))
                changes.append((key, staged, None))
                continue
            data = encode(staged)  # once per version: the event payload had it too
            raw = msgspec.Raw(data)
            if isinstance(staged, Task):
                entry.tasks.append(raw)
            elif isinstance(staged, Session):
                entry.sessions.append(raw)
            elif isinstance(staged, Approval):
                entry.approvals.append(raw)
            elif isinstance(staged, Runner):
                entry.runners.append(raw)
            elif isinstance(staged, Token):
                entry.tokens.append(raw)
            else:
                entry.projects.append(raw)
            changes.append((key, staged, data))
        async with self._rotation:
            try:
                # One write of a few kB into the page cache: cheaper on the event
                # loop than the hand-off to a thread (benchmarks/write_bench.py).
                self._journal.append(self._journal.line(entry))
                if self.fsync:
                    await asyncio.to_thread(self._journal.sync)
            except FsyncFailed as error:
                self._fsync_failed(error)
                raise
            except OSError as error:
                log.error(
                    "a write of %d transaction(s) failed; nothing was written: %s",
                    len(group),
                    error,
                )
                raise
            for (kind, entity_id), staged, encoded in changes:
                if isinstance(staged, _Deleted):
                    self._memory.remove(kind, entity_id)
                else:
                    self._memory.put(staged)
                self._dirty[(kind.__name__, entity_id)] = (staged, encoded)
            self._pending.written(group[-1].number)
            self._events.record(events)
            self._unsaved.extend(lines)
        self._publish(events)
        self._start_checkpoint()

    def _discard(self, error: BaseException) -> None:
        """A group failed: forget every transaction prepared but not written."""
        self._failures += 1
        self._last_failure = error
        self._pending.versions.clear()
        self._last_seq = self._events.last_seq

    # -- checkpoints --------------------------------------------------------

    def _start_checkpoint(self) -> None:
        """Start a checkpoint if there is something to write, none is running and
        the last one started at least ``CHECKPOINT_SECONDS`` ago (else at that
        moment). Each covers everything committed since the one before: a task
        patched a hundred times in between is written once, and the fixed cost of
        a checkpoint (a new journal segment, a thread hand-off) is not paid per
        commit: tiny back-to-back checkpoints cost a third of the write
        throughput (benchmarks/write_bench.py)."""
        if self._checkpointing is not None or self._closed or self._timer is not None:
            return
        if not self._dirty and not self._unsaved:
            return
        wait = self._next_checkpoint - time.monotonic()
        if wait > 0:
            self._timer = asyncio.get_running_loop().call_later(wait, self._timer_fired)
            return
        self._next_checkpoint = time.monotonic() + CHECKPOINT_SECONDS
        self._checkpointing = asyncio.create_task(
            self._background_checkpoint(), name="maestro-checkpoint"
        )

    def _timer_fired(self) -> None:
        self._timer = None
        self._start_checkpoint()

    async def _background_checkpoint(self) -> None:
        try:
            written = await self._checkpoint()
        finally:
            self._checkpointing = None
        if not written:  # a full disk, say: try again in a while, not at once
            self._next_checkpoint = time.monotonic() + CHECKPOINT_RETRY_SECONDS
        self._start_checkpoint()

    async def checkpoint_done(self) -> None:
        """Return at a moment when no checkpoint is running (one that ends may
        start the next: that one is waited for too)."""
        while self._checkpointing is not None:
            await asyncio.shield(self._checkpointing)

    async def sync_files(self) -> bool:
        """Bring the files up to date with everything committed, now; return
        whether they are (if not, the journal still holds the rest)."""
        await self.checkpoint_done()
        if not self._dirty and not self._unsaved:
            return True
        return await self._checkpoint()

    def _fsync_failed(self, error: FsyncFailed) -> None:
        self._on_fsync_failure(f"{error}; what the disk promised can no longer be trusted")

    async def _checkpoint(self) -> bool:
        """Write what was committed since the last checkpoint to the files, then
        drop the journal segments that held it. Returns whether it was written;
        if not, all of it waits for the next one (the journal keeps it)."""
        async with self._rotation:
            try:
                segments = self._journal.rotate()
            except FsyncFailed as error:
                self._fsync_failed(error)
                raise
            except OSError as error:
                log.warning("could not start a checkpoint (the journal keeps all): %s", error)
                return False
            dirty, self._dirty = self._dirty, {}
            events, self._unsaved = self._unsaved, []
        try:
            await asyncio.to_thread(self._write_checkpoint, dirty, events, segments)
        except FsyncFailed as error:
            self._fsync_failed(error)
            raise
        except OSError as error:
            log.warning("a checkpoint failed; the journal keeps everything: %s", error)
            # Versions committed meanwhile are newer: they win.
            self._dirty = {**dirty, **self._dirty}
            self._unsaved = events + self._unsaved
            return False
        return True

    def _write_checkpoint(
        self,
        dirty: dict[DirtyKey, tuple[Staged, bytes | None]],
        events: list[tuple[int, bytes]],
        segments: list[Path],
    ) -> None:
        """In the checkpoint's worker thread: its files, then the writing. A path
        per changed entity is Python work proportional to the changes; on the
        event loop, after a burst of creates, it held every request for tens of
        milliseconds. Only one checkpoint runs at a time, and only it touches
        ``_folders``."""
        job = Checkpoint(events=events, segments=segments)
        for staged, encoded in dirty.values():
            entity = staged.entity if isinstance(staged, _Deleted) else staged
            job.files.append(FileChange(f"{self._folder(entity)}/{entity.id}.json", encoded))
            if isinstance(staged, _Deleted) and isinstance(entity, Project):
                # The project's (by now empty) task folder goes with it.
                self._folders.pop(("tasks", entity.id), None)
                job.removed_dirs.append(self.root / "tasks" / entity.id)
        write_checkpoint(job, self._events, self.fsync)

    # -- events -------------------------------------------------------------

    def _number(self, pending: list[PendingEvent]) -> list[StoredEvent]:
        """Give each event its place in the global order and encode its frame once."""
        timestamp = now_ms()
        stored = []
        for event in pending:
            self._last_seq += 1
            wire = WireMessage(
                event.type, event.type, event.data, self._last_seq, timestamp, event.actor
            )
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
