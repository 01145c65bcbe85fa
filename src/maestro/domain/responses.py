"""Response bodies that are not entities themselves."""

from __future__ import annotations

import msgspec

from maestro.domain.models import Session


class Deleted(msgspec.Struct):
    success: bool
    id: str


class Spawned(msgspec.Struct, rename="camel"):
    success: bool
    session_id: str
    session: Session


class Health(msgspec.Struct, rename="camel"):
    status: str
    timestamp: int
    uptime: float
    version: str
    store: str
    counts: dict[str, int]
    latest_seq: int  # the last event's seq: where a fresh client's ?since= starts
    store_id: str  # names the event stream those seqs belong to (?storeId=)
