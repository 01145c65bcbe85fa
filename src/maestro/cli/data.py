"""``maestro data export|import``: move a whole store between the JSON files and
PostgreSQL (SPEC section 10), through the stores themselves (no server needed).

The store acted on is the one ``maestro serve`` would use: ``MAESTRO_DATABASE_URL``
if set, else ``DATA_DIR`` (``--database-url`` / ``--data-dir`` choose explicitly).
The other side is a directory in the JSON store's layout; see
``maestro.store.transfer``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from maestro.cli.errors import CommandError
from maestro.cli.output import JsonFlag, command, say
from maestro.config import ConfigError, Settings
from maestro.store import Store, describe_store, open_store
from maestro.store.transfer import (
    Snapshot,
    TransferError,
    clear_directory,
    is_empty,
    is_empty_directory,
    read_directory,
    read_store,
    replace_store,
    write_directory,
)

app = typer.Typer(
    help="Move a whole store between the JSON files and PostgreSQL.", no_args_is_help=True
)

PathArg = Annotated[Path, typer.Argument(help="A directory in the JSON store's layout")]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace what the target already holds.")
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Use the JSON store in this directory", show_default=False),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Use the PostgreSQL store at this URL (env MAESTRO_DATABASE_URL)",
        show_default=False,
    ),
]


def _settings(data_dir: Path | None, database_url: str | None) -> Settings:
    if data_dir is not None and database_url is not None:
        raise CommandError("pass --data-dir or --database-url, not both")
    try:
        settings = Settings.load(data_dir=data_dir, database_url=database_url)
    except ConfigError as error:
        raise CommandError(str(error)) from None
    if data_dir is not None:  # an explicit JSON store wins over MAESTRO_DATABASE_URL
        settings = replace(settings, database_url=None)
    return settings


async def _open(settings: Settings, *, must_exist: bool) -> Store:
    if must_exist and not settings.database_url and not settings.data_dir.is_dir():
        raise CommandError(f"there is no JSON store in {settings.data_dir} (no such directory)")
    try:
        store = open_store(settings)
        await store.open()
    except ConfigError as error:
        raise CommandError(str(error)) from None
    except Exception as error:  # a database that refuses us: say why, no traceback
        raise CommandError(f"cannot open {describe_store(settings)}: {error}") from None
    return store


def _refuse_non_empty(what: str) -> CommandError:
    return CommandError(
        f"{what} is not empty; pass --force to replace its contents", code="TARGET_NOT_EMPTY"
    )


def _same_place(settings: Settings, path: Path) -> bool:
    return not settings.database_url and settings.data_dir.resolve() == path.resolve()


async def _export(settings: Settings, path: Path, force: bool) -> Snapshot:
    if _same_place(settings, path):
        raise CommandError(f"{path} is the store being exported")
    if path.exists() and not path.is_dir():
        raise CommandError(f"{path} exists and is not a directory")
    if not is_empty_directory(path) and not force:
        raise _refuse_non_empty(str(path))
    store = await _open(settings, must_exist=True)
    try:
        snapshot = await read_store(store)
    finally:
        await store.close()
    clear_directory(path)
    await write_directory(snapshot, path, settings.retained_events)
    return snapshot


async def _import(settings: Settings, path: Path, force: bool) -> Snapshot:
    if _same_place(settings, path):
        raise CommandError(f"{path} is the store being imported into")
    try:
        snapshot = read_directory(path, settings.retained_events)
    except TransferError as error:
        raise CommandError(str(error)) from None
    store = await _open(settings, must_exist=False)
    try:
        if not force and not await is_empty(store):
            raise _refuse_non_empty(describe_store(settings))
    except BaseException:
        await store.close()
        raise
    await replace_store(store, settings, snapshot)
    return snapshot


def _result(snapshot: Snapshot, settings: Settings, path: Path) -> dict[str, Any]:
    """The ``--json`` data: what moved, the directory, and the store's kind."""
    kind = "postgres" if settings.database_url else "json"
    return {**snapshot.counts(), "path": str(path), "store": kind}


@app.command("export")
def export(
    path: PathArg,
    force: ForceOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    json: JsonFlag = False,
) -> None:
    """Copy the whole store (projects, tasks, sessions, recent events) into PATH."""
    with command(json, None) as cmd:
        settings = _settings(data_dir, database_url)
        snapshot = asyncio.run(_export(settings, path, force))
        cmd.done(
            _result(snapshot, settings, path),
            lambda _: say(
                f"exported {snapshot.summary()} from {describe_store(settings)} to {path}"
            ),
        )


@app.command("import")
def import_(
    path: PathArg,
    force: ForceOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    json: JsonFlag = False,
) -> None:
    """Load PATH (an export, or a JSON data directory) into the store.

    Stop every server on the target store first.
    """
    with command(json, None) as cmd:
        settings = _settings(data_dir, database_url)
        snapshot = asyncio.run(_import(settings, path, force))
        cmd.done(
            _result(snapshot, settings, path),
            lambda _: say(
                f"imported {snapshot.summary()} from {path} into {describe_store(settings)}"
            ),
        )
