"""Entity ids: how they are made, and the one rule every client-supplied id must pass.

Ids become file names in the JSON store, so the rule is also a security boundary:
nothing that passes it can address a path outside the data directory.
"""

from __future__ import annotations

import re
import secrets
import string
import time

from maestro.domain.errors import ValidationFailed

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
_ID_RE = re.compile(ID_PATTERN)
_ALPHABET = string.ascii_lowercase + string.digits


_SUFFIX_LENGTH = 9
_SUFFIXES = len(_ALPHABET) ** _SUFFIX_LENGTH


def new_id(prefix: str) -> str:
    """A fresh id such as ``task_1706790000000_k2j4n5l6m``."""
    # One draw from the OS's random source, not one per character: ids are made
    # on every create, on the write path.
    number = secrets.randbelow(_SUFFIXES)
    suffix = []
    for _ in range(_SUFFIX_LENGTH):
        number, digit = divmod(number, len(_ALPHABET))
        suffix.append(_ALPHABET[digit])
    return f"{prefix}_{int(time.time() * 1000)}_{''.join(suffix)}"


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
