"""The PostgreSQL store: several Maestro servers on one database (SPEC section 10).

Tables (``migrations/``): ``projects``, ``tasks``, ``sessions``, ``approvals``,
``runners`` and ``tokens`` hold each entity whole in ``doc`` (exactly the JSON
the API returns) next to the columns the filtered lists search and sort on;
``events`` holds the global event stream. The schema is the connection's
current schema, so one database can hold several independent stores
(``?options=-csearch_path%3Dname`` in the URL).

Writes. A transaction holds one pooled connection and, first thing, a
transaction-level advisory lock on a key of the schema: one writer at a time
across every instance, like the JSON store's single lock, so no request can
interleave its read-modify-write with another's, and events are numbered in
commit order. Staged writes go to the database before any read that could see
them, so a transaction reads its own writes. At commit the events get the next
``seq`` values (gap-free: taken under the lock), are inserted, and a
``pg_notify`` carrying the last one is sent in the same transaction.

Events reach subscribers through ``store.pg_fanout``: in ``seq`` order, exactly
once, whichever instance wrote them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import msgspec
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from maestro.domain.clock import now_ms
from maestro.domain.events import PendingEvent, StoredEvent, WireMessage
from maestro.domain.models import Approval, Project, Runner, Session, Task, Token
from maestro.domain.vocabulary import FINISHED_SESSION_STATUSES
from maestro.store.base import (
    AnyEntity,
    ApprovalQuery,
    E,
    EventListener,
    RunnerQuery,
    SessionQuery,
    StoreUnavailable,
    TaskQuery,
    TokenQuery,
    disk_full,
    write_failed,
)
from maestro.store.migrations import current_schema, migrate
from maestro.store.pg_fanout import Connection, EventFanOut

log = logging.getLogger("maestro.store")


# Advisory-lock "class" of the write lock; the key is the schema's hash.
WRITE_LOCK = 0x4D57  # "MW"
CHANNEL_PREFIX = "maestro_events_"
# Old events are deleted in one go each time ``seq`` passes a multiple of this.
PRUNE_EVERY = 1000

_TABLE: dict[type[AnyEntity], str] = {
    Project: "projects",
    Task: "tasks",
    Session: "sessions",
    Approval: "approvals",
    Runner: "runners",
    Token: "tokens",
}
_BORN: dict[type[AnyEntity], str] = {
    Project: "created_at",
    Task: "created_at",
    Session: "started_at",
    Approval: "created_at",
    Runner: "created_at",
    Token: "created_at",
}
_UPSERT: dict[type[AnyEntity], str] = {
    Project: (
        "INSERT INTO projects (id, created_at, doc) VALUES (%s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, doc = excluded.doc"
    ),
    Task: (
        "INSERT INTO tasks (id, project_id, parent_id, status, created_at, session_ids, doc)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id,"
        " parent_id = excluded.parent_id, status = excluded.status,"
        " created_at = excluded.created_at, session_ids = excluded.session_ids,"
        " doc = excluded.doc"
    ),
    Session: (
        "INSERT INTO sessions (id, project_id, status, started_at, task_ids, doc)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id,"
        " status = excluded.status, started_at = excluded.started_at,"
        " task_ids = excluded.task_ids, doc = excluded.doc"
    ),
    Approval: (
        "INSERT INTO approvals (id, project_id, session_id, status, created_at, expires_at, doc)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id,"
        " session_id = excluded.session_id, status = excluded.status,"
        " created_at = excluded.created_at, expires_at = excluded.expires_at,"
        " doc = excluded.doc"
    ),
    Runner: (
        "INSERT INTO runners (id, name, host, status, created_at, expires_at, doc)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, host = excluded.host,"
        " status = excluded.status, created_at = excluded.created_at,"
        " expires_at = excluded.expires_at, doc = excluded.doc"
    ),
    Token: (
        "INSERT INTO tokens (id, kind, created_at, doc) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,"
        " created_at = excluded.created_at, doc = excluded.doc"
    ),
}
_DECODERS: dict[type[AnyEntity], msgspec.json.Decoder[Any]] = {
    kind: msgspec.json.Decoder(kind) for kind in _TABLE
}
_encoder = msgspec.json.Encoder()


def describe_url(url: str) -> str:
    """The database a URL points at, without its password: for logs and messages."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "PostgreSQL (unparsable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    where = f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"
    schema = re.search(r"search_path\s*=\s*([^\s,]+)", str(parts.get("options") or ""))
    return f"{where} (schema {schema[1]})" if schema else where


def _row(entity: AnyEntity) -> tuple[Any, ...]:
    """The values of ``_UPSERT[type(entity)]``. Id tuples go as lists: psycopg
    sends a list as an array (a tuple would be a record)."""
    doc = _encoder.encode(entity).decode()
    if isinstance(entity, Task):
        return (
            entity.id,
            entity.project_id,
            entity.parent_id,
            entity.status,
            entity.created_at,
            list(entity.session_ids),
            doc,
        )
    if isinstance(entity, Session):
        return (
            entity.id,
            entity.project_id,
            entity.status,
            entity.started_at,
            list(entity.task_ids),
            doc,
        )
    if isinstance(entity, Approval):
        return (
            entity.id,
            entity.project_id,
            entity.session_id,
            entity.status,
            entity.created_at,
            entity.expires_at,
            doc,
        )
    if isinstance(entity, Runner):
        return (
            entity.id,
            entity.name,
            entity.host,
            entity.status,
            entity.created_at,
            entity.expires_at,
            doc,
        )
    if isinstance(entity, Token):
        return (entity.id, entity.kind, entity.created_at, doc)
    return (entity.id, entity.created_at, doc)


# -- reads, on any connection ------------------------------------------------------


async def _select(conn: Connection, kind: type[E], where: list[str], params: list[Any]) -> list[E]:
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    query = f"SELECT doc::text FROM {_TABLE[kind]}{clause} ORDER BY {_BORN[kind]}, id"
    cursor = await conn.execute(query, params)
    decoder = _DECODERS[kind]
    return [cast(E, decoder.decode(row[0])) for row in await cursor.fetchall()]


async def _get(conn: Connection, kind: type[E], entity_id: str) -> E | None:
    query = f"SELECT doc::text FROM {_TABLE[kind]} WHERE id = %s"
    cursor = await conn.execute(query, (entity_id,))
    row = await cursor.fetchone()
    return None if row is None else cast(E, _DECODERS[kind].decode(row[0]))


class _Where:
    """The ``WHERE`` conditions of a filtered list and their parameters; a filter
    left unset (``None``) adds nothing."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.params: list[Any] = []

    def add(self, condition: str, value: Any) -> None:
        if value is not None:
            self.conditions.append(condition)
            self.params.append(value)

    def equal(self, *columns: tuple[str, Any]) -> None:
        for column, value in columns:
            self.add(f"{column} = %s", value)


async def _find_tasks(conn: Connection, query: TaskQuery) -> list[Task]:
    where = _Where()
    where.equal(("project_id", query.project_id), ("status", query.status))
    if query.parent_id is None:
        where.conditions.append("parent_id IS NULL")
    elif isinstance(query.parent_id, str):
        where.add("parent_id = %s", query.parent_id)
    where.add("session_ids @> ARRAY[%s]::text[]", query.session_id)
    return await _select(conn, Task, where.conditions, where.params)


async def _find_sessions(conn: Connection, query: SessionQuery) -> list[Session]:
    where = _Where()
    where.equal(("project_id", query.project_id), ("status", query.status))
    if query.active:
        where.add("status <> ALL(%s)", sorted(FINISHED_SESSION_STATUSES))
    where.add("task_ids @> ARRAY[%s]::text[]", query.task_id)
    where.add("doc -> 'metadata' ->> 'runnerId' = %s", query.runner_id)
    return await _select(conn, Session, where.conditions, where.params)


async def _find_approvals(conn: Connection, query: ApprovalQuery) -> list[Approval]:
    where = _Where()
    where.equal(
        ("project_id", query.project_id),
        ("session_id", query.session_id),
        ("status", query.status),
    )
    where.add("expires_at <= %s", query.expires_by)
    return await _select(conn, Approval, where.conditions, where.params)


async def _find_runners(conn: Connection, query: RunnerQuery) -> list[Runner]:
    where = _Where()
    where.equal(("status", query.status), ("name", query.name), ("host", query.host))
    where.add("expires_at <= %s", query.expires_by)
    return await _select(conn, Runner, where.conditions, where.params)


async def _find_tokens(conn: Connection, query: TokenQuery) -> list[Token]:
    where = _Where()
    where.equal(("kind", query.kind))
    return await _select(conn, Token, where.conditions, where.params)


async def _write(conn: Connection, staged: Iterable[tuple[AnyEntity, bool]]) -> None:
    """Upsert (``True``) or delete (``False``) entities, one batch per statement."""
    upserts: dict[type[AnyEntity], list[tuple[Any, ...]]] = {}
    deletes: dict[type[AnyEntity], list[tuple[str]]] = {}
    for entity, keep in staged:
        if keep:
            upserts.setdefault(type(entity), []).append(_row(entity))
        else:
            deletes.setdefault(type(entity), []).append((entity.id,))
    async with conn.cursor() as cursor:
        for kind, rows in upserts.items():
            await cursor.executemany(_UPSERT[kind], rows)
        for kind, ids in deletes.items():
            query = f"DELETE FROM {_TABLE[kind]} WHERE id = %s"
            await cursor.executemany(query, ids)


class PostgresTransaction:
    """Staged writes on one connection inside one database transaction; see
    ``store.base.Transaction``.

    ``put``/``delete`` are synchronous in the protocol, so they are staged here and
    sent before the next read that could see them (and at commit).
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._staged: dict[tuple[type[AnyEntity], str], tuple[AnyEntity, bool]] = {}
        self.events: list[PendingEvent] = []

    async def flush(self) -> None:
        if self._staged:
            staged, self._staged = self._staged, {}
            await _write(self._conn, staged.values())

    async def get(self, kind: type[E], entity_id: str) -> E | None:
        staged = self._staged.get((kind, entity_id))
        if staged is not None:
            entity, keep = staged
            return cast(E, entity) if keep else None
        return await _get(self._conn, kind, entity_id)

    async def list_projects(self) -> list[Project]:
        await self.flush()
        return await _select(self._conn, Project, [], [])

    async def find_tasks(self, query: TaskQuery) -> list[Task]:
        await self.flush()
        return await _find_tasks(self._conn, query)

    async def find_sessions(self, query: SessionQuery) -> list[Session]:
        await self.flush()
        return await _find_sessions(self._conn, query)

    async def find_approvals(self, query: ApprovalQuery) -> list[Approval]:
        await self.flush()
        return await _find_approvals(self._conn, query)

    async def find_runners(self, query: RunnerQuery) -> list[Runner]:
        await self.flush()
        return await _find_runners(self._conn, query)

    async def find_tokens(self, query: TokenQuery) -> list[Token]:
        await self.flush()
        return await _find_tokens(self._conn, query)

    def put(self, entity: AnyEntity) -> None:
        self._staged[(type(entity), entity.id)] = (entity, True)

    def delete(self, entity: AnyEntity) -> None:
        self._staged[(type(entity), entity.id)] = (entity, False)

    def emit(self, event_type: str, data: Any, project_id: str) -> None:
        self.events.append(PendingEvent.of(event_type, data, project_id))


class PostgresStore:
    """The PostgreSQL backend of ``store.base.Store``."""

    kind = "postgres"

    def __init__(
        self,
        url: str,
        *,
        retain_events: int = 10_000,
        keep_events: int = 100_000,
        pool_size: int = 10,
    ) -> None:
        self.url = url
        self.retain_events = retain_events
        self.keep_events = max(keep_events, retain_events)
        self._pool_size = pool_size
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._schema = ""
        self.store_id = ""  # set by open()
        self._schema_key = 0
        self._channel = ""
        # One local writer at a time: the others wait here, not holding a pooled
        # connection while they wait for the database lock.
        self._writer = asyncio.Lock()
        self.fan_out = EventFanOut(url, retain_events)

    # -- life cycle ---------------------------------------------------------

    @property
    def pool(self) -> AsyncConnectionPool[Connection]:
        if self._pool is None:
            raise RuntimeError("PostgresStore.open() must run first")
        return self._pool

    async def open(self) -> None:
        """Connect, bring the schema up to date, load the event tail, start listening."""
        where = describe_url(self.url)
        try:
            # One plain connection first: its error says why (refused, auth, ...).
            first = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=10
            )
        except psycopg.Error as error:
            raise StoreUnavailable(f"cannot connect to {where}: {error}") from None
        async with first:
            schema = await current_schema(first)
            row = await (await first.execute("SELECT hashtext(%s)", (schema,))).fetchone()
            self._schema_key = int(row[0]) if row else 0
            self._channel = f"{CHANNEL_PREFIX}{self._schema_key & 0xFFFFFFFF:08x}"
            applied = await migrate(first, self._schema_key)
            if applied:
                log.info("schema %s migrated to version %d", schema, applied[-1])
        self._schema = schema
        self._pool = AsyncConnectionPool(
            self.url,
            min_size=2,
            max_size=self._pool_size,
            kwargs={"autocommit": True, "application_name": f"maestro {schema}"[:63]},
            open=False,
            name="maestro",
        )
        try:
            await self._pool.open(wait=True, timeout=10)
            await self._load_recent()
            await self.fan_out.start(self._pool, self._channel, f"maestro listener {schema}")
        except PoolTimeout as error:
            await self.close()
            raise StoreUnavailable(f"cannot open a connection pool to {where}: {error}") from None
        except TimeoutError:
            await self.close()
            raise StoreUnavailable(f"cannot LISTEN for events on {where}") from None
        log.info(
            "PostgreSQL store %s (schema %s) open at event %d",
            where,
            schema,
            self.fan_out.last_delivered,
        )

    async def close(self) -> None:
        await self.fan_out.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _load_recent(self) -> None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT seq, project_id, frame FROM events ORDER BY seq DESC LIMIT %s",
                (self.retain_events,),
            )
            rows = await cursor.fetchall()
            identity = await (await conn.execute("SELECT store_id FROM store_identity")).fetchone()
        assert identity is not None, "migration 0002 makes the identity row"
        self.store_id = identity[0]
        self.fan_out.reset([StoredEvent(*row) for row in reversed(rows)])

    # -- reads --------------------------------------------------------------

    async def get(self, kind: type[E], entity_id: str) -> E | None:
        async with self.pool.connection() as conn:
            return await _get(conn, kind, entity_id)

    async def list_projects(self) -> list[Project]:
        async with self.pool.connection() as conn:
            return await _select(conn, Project, [], [])

    async def find_tasks(self, query: TaskQuery) -> list[Task]:
        async with self.pool.connection() as conn:
            return await _find_tasks(conn, query)

    async def find_sessions(self, query: SessionQuery) -> list[Session]:
        async with self.pool.connection() as conn:
            return await _find_sessions(conn, query)

    async def find_approvals(self, query: ApprovalQuery) -> list[Approval]:
        async with self.pool.connection() as conn:
            return await _find_approvals(conn, query)

    async def find_runners(self, query: RunnerQuery) -> list[Runner]:
        async with self.pool.connection() as conn:
            return await _find_runners(conn, query)

    async def find_tokens(self, query: TokenQuery) -> list[Token]:
        async with self.pool.connection() as conn:
            return await _find_tokens(conn, query)

    async def counts(self) -> dict[str, int]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM tasks),"
                " (SELECT count(*) FROM sessions)"
            )
            row = await cursor.fetchone()
        assert row is not None
        return {"projects": row[0], "tasks": row[1], "sessions": row[2]}

    # -- writes -------------------------------------------------------------

    async def _lock(self, conn: Connection) -> None:
        await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (WRITE_LOCK, self._schema_key))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        """One transaction, all or nothing: its rows, its events and its
        notification commit together, and subscribers hear of it only after the
        commit. A database that cannot write answers the documented errors."""
        try:
            async with self._transaction() as tx:
                yield tx
        except psycopg.errors.DiskFull as error:
            log.error("a write failed, the database's disk is full: %s", error)
            raise disk_full() from None
        except (psycopg.OperationalError, PoolTimeout) as error:
            log.error("a write failed: %s", error)
            raise write_failed(" ".join(str(error).split()) or type(error).__name__) from None

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[PostgresTransaction]:
        committed: list[StoredEvent] = []
        # Pipeline mode: statements are sent without waiting for their results until
        # one is needed, so BEGIN, the lock and the first read travel together, and
        # so do the writes, the events and COMMIT.
        async with (
            self._writer,
            self.pool.connection() as conn,
            conn.pipeline(),
            conn.transaction(),
        ):
            await self._lock(conn)
            # Read under the lock, so no other writer can have added events since.
            last_seq = await conn.execute("SELECT coalesce(max(seq), 0) FROM events")
            tx = PostgresTransaction(conn)
            yield tx
            await tx.flush()
            if tx.events:
                row = await last_seq.fetchone()
                committed = await self._append_events(conn, tx.events, row[0] if row else 0)
        if committed:
            await self.fan_out.deliver_through(committed[-1].seq, committed)

    async def _append_events(
        self, conn: Connection, pending: Sequence[PendingEvent], last: int
    ) -> list[StoredEvent]:
        """Number (after ``last``), insert and announce a transaction's events."""
        timestamp = now_ms()
        stored = []
        for offset, event in enumerate(pending, start=1):
            wire = WireMessage(
                event.type, event.type, event.data, last + offset, timestamp, event.actor
            )
            frame = _encoder.encode(wire).decode()
            stored.append(StoredEvent(last + offset, event.project_id, frame))
        async with conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO events (seq, project_id, frame) VALUES (%s, %s, %s)",
                [(e.seq, e.project_id, e.frame) for e in stored],
            )
        newest = stored[-1].seq
        await conn.execute("SELECT pg_notify(%s, %s)", (self._channel, str(newest)))
        if last // PRUNE_EVERY != newest // PRUNE_EVERY and newest > self.keep_events:
            await conn.execute("DELETE FROM events WHERE seq <= %s", (newest - self.keep_events,))
        return stored

    async def restore(
        self, entities: Iterable[AnyEntity], events: Sequence[StoredEvent], store_id: str
    ) -> None:
        """Replace the whole store with ``entities`` and ``events``, as they are,
        and take ``store_id`` as its identity (the events' stream's).

        For ``maestro data import``: no rule is applied and no event emitted. Run it
        with no server on the database (their event tails would be stale).
        """
        async with self._writer, self.pool.connection() as conn, conn.transaction():
            await self._lock(conn)
            await conn.execute(
                "TRUNCATE projects, tasks, sessions, approvals, runners, tokens, events"
            )
            await conn.execute("UPDATE store_identity SET store_id = %s", (store_id,))
            await _write(conn, ((entity, True) for entity in entities))
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    "INSERT INTO events (seq, project_id, frame) VALUES (%s, %s, %s)",
                    [(e.seq, e.project_id, e.frame) for e in events],
                )
        await self._load_recent()

    # -- events -------------------------------------------------------------

    def subscribe(self, listener: EventListener) -> None:
        self.fan_out.listeners.append(listener)

    def recent_events(self) -> list[StoredEvent]:
        return self.fan_out.recent_events()
