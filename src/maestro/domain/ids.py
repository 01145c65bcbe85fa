"""Entity ids: how they are made, and the one rule every client-supplied id must pass.

Ids become file names in the JSON store, so the rule is also a security boundary:
nothing that passes it can address a path outside the data directory.
"""

from __future__ import annotations

import os
import re
import string
import time

from maestro.domain.errors import ValidationFailed

# ``(?!\n)``: Python's ``$`` (which msgspec's pattern check uses) also matches
# before a final newline; JSON Schema's does not.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}(?!\n)$"
_ID_RE = re.compile(ID_PATTERN)
_ALPHABET = string.ascii_lowercase + string.digits


_SUFFIX_LENGTH = 9


# Each random byte becomes one suffix character through this table (byte % 36):
# 256 = 7 * 36 + 4, so four characters come up 8 times in 256 instead of 7, which
# costs an id's suffix well under a bit of its ~46 bits of randomness.
_BYTE_TO_CHAR = bytes(ord(_ALPHABET[n % len(_ALPHABET)]) for n in range(256))


class _RandomPool:
    """The OS's random bytes, fetched 4 kB at a time: a create makes two ids (the
    entity's and its timeline entry's), and a trip to the OS for each was a third
    of a create's time (a system call costs ~10 µs in this VM). A child process
    starts with an empty pool, so a fork never repeats its parent's ids."""

    SIZE = 4096

    def __init__(self) -> None:
        self._bytes = b""
        self._at = 0
        os.register_at_fork(after_in_child=self.empty)

    def empty(self) -> None:
        self._bytes, self._at = b"", 0

    def take(self, count: int) -> bytes:
        if self._at + count > len(self._bytes):
            self._bytes, self._at = os.urandom(self.SIZE), 0
        taken = self._bytes[self._at : self._at + count]
        self._at += count
        return taken


_pool = _RandomPool()


def new_id(prefix: str) -> str:
    """A fresh id such as ``task_1706790000000_k2j4n5l6m``."""
    suffix = _pool.take(_SUFFIX_LENGTH).translate(_BYTE_TO_CHAR).decode("ascii")
    return f"{prefix}_{time.time_ns() // 1_000_000}_{suffix}"


def is_valid_id(value: object) -> bool:
    """Whether ``value`` is an id a client may send (and a safe file name)."""
    return (
        isinstance(value, str) and value not in (".", "..") and _ID_RE.fullmatch(value) is not None
    )


def check_id(value: str, field: str = "id") -> str:
    """Return ``value`` or raise the documented validation error naming ``field``."""
    if not is_valid_id(value):
        raise ValidationFailed(
            f"{field} must be an id of letters, digits, '_', '.' or '-' (at most 128 characters)",
            field=field,
        )
    return value


def check_ids(values: list[str], field: str) -> list[str]:
    """Check every id of a list, naming the list in the error."""
    for value in values:
        if not is_valid_id(value):
            raise ValidationFailed(f"{field} must be a list of valid ids", field=field)
    return values
