"""The PostgreSQL schema, as numbered SQL files applied in order at start.

``NNNN_name.sql`` files in this folder are the migrations; each is applied once,
in its own step of one transaction, and recorded in ``maestro_schema_migrations``.
The whole run holds a transaction-level advisory lock on a key derived from the
schema, so several servers starting at once on one database take turns: the
first applies what is missing, the others find it done. A failed migration
rolls back entirely and the server does not start.

Everything lives in the connection's current schema (the first existing schema
of its ``search_path``), which is how tests, or two Maestros, share a database.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

log = logging.getLogger("maestro.store")

# The advisory-lock "class" of the migration lock; the key is the schema's hash.
MIGRATION_LOCK = 0x4D53  # "MS"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaError(RuntimeError):
    """The database cannot hold Maestro's schema; the message says why."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """Every migration shipped with this version, oldest first."""
    found = []
    for entry in resources.files(__package__).iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise SchemaError(f"migrations must be numbered 1, 2, 3, ... without gaps: {versions}")
    return found


async def current_schema(conn: psycopg.AsyncConnection[Any]) -> str:
    """The schema Maestro's tables live in; an error naming the fix if there is none."""
    row = await (await conn.execute("SELECT current_schema()")).fetchone()
    if row is None or row[0] is None:
        path = await (await conn.execute("SHOW search_path")).fetchone()
        raise SchemaError(
            f"no schema of the search_path ({path[0] if path else '?'}) exists in this "
            "database: create it (CREATE SCHEMA ...) or fix the search_path option of "
            "MAESTRO_DATABASE_URL"
        )
    return str(row[0])


async def migrate(conn: psycopg.AsyncConnection[Any], schema_key: int) -> list[int]:
    """Apply the migrations this database lacks; return the versions applied now.

    ``conn`` must be in autocommit mode; the run is one transaction of its own.
    """
    migrations = available()
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (MIGRATION_LOCK, schema_key))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS maestro_schema_migrations ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor = await conn.execute("SELECT version FROM maestro_schema_migrations")
        done = {row[0] for row in await cursor.fetchall()}
        newer = sorted(v for v in done if v > len(migrations))
        if newer:
            raise SchemaError(
                f"the database has schema version {newer[-1]}, newer than this Maestro "
                f"knows ({len(migrations)}): upgrade Maestro before starting it on this database"
            )
        for migration in migrations:
            if migration.version in done:
                continue
            log.info("applying schema migration %04d_%s", migration.version, migration.name)
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO maestro_schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied_now.append(migration.version)
    return applied_now
