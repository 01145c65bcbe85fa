"""How an agent's token use and cost read for people: one session's ``usage``, and
the roll-ups of ``GET /api/tasks/{id}/usage`` and ``GET /api/projects/{id}/usage``."""

from __future__ import annotations

from typing import Any

from maestro.cli.output import fields
from maestro.domain.models import Usage
from maestro.domain.responses import ProjectUsage, TaskUsage, UsageTotals


def tokens(usage: Usage | UsageTotals) -> str:
    """``in 1,234 · out 567 · cache read 8,900 · cache write 120``"""
    parts = [
        ("in", usage.input_tokens),
        ("out", usage.output_tokens),
        ("cache read", usage.cache_read_tokens),
        ("cache write", usage.cache_write_tokens),
    ]
    return " · ".join(f"{name} {count:,}" for name, count in parts)


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


def has_usage(usage: Usage | UsageTotals | None) -> bool:
    """Whether anything was spent: a roll-up over sessions that never reported is all zeros."""
    if usage is None:
        return False
    counters = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.turns,
    )
    return any(counters) or bool(usage.cost_usd)


def usage_pairs(usage: Usage | UsageTotals) -> list[tuple[str, Any]]:
    """The rows of a field view for one ``usage`` (a session's or a roll-up's sum;
    only a session's names its model)."""
    pairs: list[tuple[str, Any]] = [
        ("tokens", tokens(usage)),
        ("cost", cost(usage.cost_usd)),
        ("turns", usage.turns),
        ("duration", duration(usage.duration_ms)),
    ]
    if isinstance(usage, Usage):
        pairs.append(("model", usage.model))
    if usage.permission_denials:
        pairs.append(("permission denials", usage.permission_denials))
    return pairs


def rollup_pairs(rollup: TaskUsage | ProjectUsage) -> list[tuple[str, Any]]:
    """A task's or project's roll-up: the summed usage, its sessions, tasks and models."""
    pairs = usage_pairs(rollup.usage)
    pairs.append(("sessions", rollup.sessions))
    if isinstance(rollup, TaskUsage):
        pairs.append(("tasks", f"{len(rollup.task_ids)} (the task and its descendants)"))
    pairs.append(("models", ", ".join(rollup.models)))
    return pairs


def show_rollup(title: str, rollup: TaskUsage | ProjectUsage) -> None:
    fields(title, rollup_pairs(rollup))
