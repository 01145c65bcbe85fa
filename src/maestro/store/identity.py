"""The store's identity: an id naming the event stream a store holds.

``seq`` numbers only mean something within one stream. When a store is replaced
(a wiped data directory, ``maestro data import`` of other data), a client that
resumes with ``?since=N`` could find a different stream that has also reached
``N`` and would silently miss its first events. The store id tells them apart:
it is made when a stream starts, moves with it through export and import, and
a client that names another id is told to reload (``resync_required``).
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from maestro.domain.ids import is_valid_id, new_id
from maestro.store.files import write_atomically

IDENTITY_FILE = "store.json"
"""The JSON store's identity file, in DATA_DIR beside ``events.jsonl``."""


class StoreIdentity(msgspec.Struct, rename="camel"):
    store_id: str


def new_store_id() -> str:
    return new_id("store")


def read_identity(root: Path) -> str | None:
    """The id in ``root/store.json``; ``None`` if there is none or it is unreadable."""
    try:
        identity = msgspec.json.decode((root / IDENTITY_FILE).read_bytes(), type=StoreIdentity)
    except (OSError, msgspec.MsgspecError):
        return None
    return identity.store_id if is_valid_id(identity.store_id) else None


def write_identity(root: Path, store_id: str, fsync: bool = False) -> None:
    data = msgspec.json.format(msgspec.json.encode(StoreIdentity(store_id)), indent=2)
    write_atomically(root / IDENTITY_FILE, data + b"\n", fsync=fsync)
