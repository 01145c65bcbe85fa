"""JSON encoding, once per entity version.

Entities are frozen, so a version's JSON never changes: the same bytes serve its
event payload, its journal line and the answers that return it. The versions
encoded last are kept (by identity, with a reference, so an id cannot be reused
while its entry lives); a write then encodes its entity once instead of three
times, and a hot ``GET`` answers without encoding at all.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import msgspec

from maestro.domain.models import Entity

RECENT_VERSIONS = 4096

_encoder = msgspec.json.Encoder()
_recent: OrderedDict[int, tuple[Entity, bytes]] = OrderedDict()


def encode(value: Any) -> bytes:
    """The JSON of ``value`` (Structs included); an entity's from the recent
    versions when it is one of them."""
    if not isinstance(value, Entity):
        return _encoder.encode(value)
    known = _recent.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    data = _encoder.encode(value)
    _recent[id(value)] = (value, data)
    if len(_recent) > RECENT_VERSIONS:
        _recent.popitem(last=False)
    return data
