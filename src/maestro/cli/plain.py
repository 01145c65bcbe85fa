"""What every command prints, without Rich: the ``--json`` envelope, and the
one-line ``error:`` and ``warning:`` messages on stderr.

The agent commands (``hook``, ``report``, ``whoami``) print only through this
module, so they start without importing Rich; ``output`` builds its envelope
here too, so there is one definition of it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from maestro.cli.errors import Failure
from maestro.client import ApiError

_RED, _YELLOW = "31", "33"


def to_json(value: Any) -> str:
    """Compact JSON, byte for byte what msgspec (the server's encoder) writes.

    The standard library writes the same bytes for everything except some floats
    (``1e-05`` and ``1e+16`` where msgspec writes ``0.00001`` and ``1e16``), and
    its import costs a fraction of msgspec's (some 20 ms, a fifth of a whole
    ``maestro report``). So msgspec is used when it is loaded already (the Typer
    commands) or when the value holds a float.
    """
    if "msgspec" in sys.modules or _holds_float(value):
        import msgspec

        return msgspec.json.encode(value).decode()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _holds_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_holds_float(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_float(v) for v in value)
    return False


def success(data: Any) -> str:
    """The ``--json`` line of a command that worked."""
    return to_json({"success": True, "data": data})


def failure(error: Failure, data: Any = None) -> str:
    """The ``--json`` line of a command that failed: the server's ``details`` when
    it gave some, and ``data``, when given, rides along."""
    envelope: dict[str, Any] = {"success": False, "error": error.code, "message": error.message}
    if isinstance(error, ApiError) and error.details is not None:
        envelope["details"] = error.details
    if data is not None:
        envelope["data"] = data
    return to_json(envelope)


def print_json(line: str) -> None:
    sys.stdout.write(line + "\n")


def print_error(message: str) -> None:
    """``error: MESSAGE`` on stderr (``error:`` in red on a terminal), as Rich printed it."""
    _labelled("error:", _RED, message)


def print_warning(message: str) -> None:
    """``warning: MESSAGE`` on stderr (``warning:`` in yellow on a terminal)."""
    _labelled("warning:", _YELLOW, message)


def _labelled(label: str, color: str, message: str) -> None:
    sys.stderr.write(f"{_paint(label, color, sys.stderr)} {message}\n")
    sys.stderr.flush()


def _paint(text: str, color: str, stream: TextIO) -> str:
    # Rich's rules, the ones that matter here: colour only on a terminal, never
    # with NO_COLOR or TERM=dumb, always with FORCE_COLOR.
    if os.environ.get("FORCE_COLOR"):
        colored = True
    elif os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        colored = False
    else:
        colored = stream.isatty()
    return f"\x1b[{color}m{text}\x1b[0m" if colored else text
