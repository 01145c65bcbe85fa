"""Time as Maestro stamps it: integer Unix milliseconds."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def later_than(previous: int) -> int:
    """Now, or ``previous + 1`` if the clock has not moved past ``previous``.

    Every mutation must move ``updatedAt`` strictly forward, even twice in one
    millisecond or after the wall clock steps back, so clients can order versions.
    """
    return max(now_ms(), previous + 1)
