"""How an agent's token use and cost read for people: one session's ``usage``, and
the roll-ups of ``GET /api/tasks/{id}/usage`` and ``GET /api/projects/{id}/usage``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from maestro.cli.output import fields

_COUNTERS = ("inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens", "turns")


def tokens(usage: Mapping[str, Any]) -> str:
    """``in 1,234 · out 567 · cache read 8,900 · cache write 120``"""
    parts = [
        ("in", usage.get("inputTokens")),
        ("out", usage.get("outputTokens")),
        ("cache read", usage.get("cacheReadTokens")),
        ("cache write", usage.get("cacheWriteTokens")),
    ]
    return " · ".join(f"{name} {count or 0:,}" for name, count in parts)


def cost(usd: float | None) -> str:
    """Dollars to the hundredth of a cent, ``$0.0123``: one turn can cost less than a cent."""
    return "-" if usd is None else f"${usd:.4f}"


def duration(ms: int | None) -> str:
    """``4.2s``, ``3m 05s``, ``1h 02m 03s``."""
    if ms is None:
        return "-"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def has_usage(usage: Mapping[str, Any] | None) -> bool:
    """Whether anything was spent: a roll-up over sessions that never reported is all zeros."""
    if not usage:
        return False
    return any(usage.get(key) for key in _COUNTERS) or bool(usage.get("costUsd"))


def usage_pairs(usage: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The rows of a field view for one ``usage`` object (a session's or a roll-up's)."""
    pairs: list[tuple[str, Any]] = [
        ("tokens", tokens(usage)),
        ("cost", cost(usage.get("costUsd"))),
        ("turns", usage.get("turns")),
        ("duration", duration(usage.get("durationMs"))),
    ]
    if "model" in usage:
        pairs.append(("model", usage.get("model")))
    if usage.get("permissionDenials"):
        pairs.append(("permission denials", usage["permissionDenials"]))
    return pairs


def rollup_pairs(rollup: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A task's or project's roll-up: the summed usage, its sessions, tasks and models."""
    pairs = usage_pairs(rollup["usage"])
    pairs.append(("sessions", rollup.get("sessions")))
    if "taskIds" in rollup:
        count = len(rollup["taskIds"])
        pairs.append(
            ("tasks", f"{count} (the task and its descendants)" if "taskId" in rollup else count)
        )
    pairs.append(("models", ", ".join(rollup.get("models") or [])))
    return pairs


def show_rollup(title: str, rollup: Mapping[str, Any]) -> None:
    fields(title, rollup_pairs(rollup))
