"""Persistence: one protocol (``base.Store``), one backend per module."""

from __future__ import annotations

from maestro.config import ConfigError, Settings
from maestro.store.base import SessionQuery, Store, TaskQuery, Transaction
from maestro.store.jsonfs import JsonFileStore

__all__ = ["SessionQuery", "Store", "TaskQuery", "Transaction", "describe_store", "open_store"]


def open_store(settings: Settings) -> Store:
    """The backend the settings ask for: PostgreSQL when ``MAESTRO_DATABASE_URL`` is
    set, else the JSON files in ``DATA_DIR``. Not opened yet (``await store.open()``)."""
    if settings.database_url:
        try:
            from maestro.store.postgres import PostgresStore
        except ImportError as error:
            raise ConfigError(
                f"MAESTRO_DATABASE_URL is set, but the PostgreSQL driver is missing ({error}): "
                "install it with  pip install 'maestro[postgres]'"
            ) from None
        return PostgresStore(settings.database_url, retain_events=settings.retained_events)
    return JsonFileStore(
        settings.data_dir, retain_events=settings.retained_events, fsync=settings.fsync
    )


def describe_store(settings: Settings) -> str:
    """Which store the settings select, for people (never shows a password)."""
    if settings.database_url:
        try:
            from maestro.store.postgres import describe_url
        except ImportError:
            return "the PostgreSQL store (driver not installed)"
        return f"the PostgreSQL store at {describe_url(settings.database_url)}"
    return f"the JSON store in {settings.data_dir}"
