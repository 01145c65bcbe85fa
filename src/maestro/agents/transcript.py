"""Reading an agent's machine output as it streams: a readable transcript for the
terminal and the session log, and the outcome Maestro records when it ends.

Claude Code runs with ``--output-format stream-json --verbose`` (one JSON object a
line: ``system``/``init``, ``assistant`` messages, ``user`` tool results, and a
final ``result``); Codex with ``exec --json`` (``thread.started``, ``item.*``,
``turn.completed`` with usage, ``turn.failed``/``error``). A ``custom`` agent's
output is passed through as it is.

Each reader turns one line into zero or more lines for people (assistant text as
written, each tool call on one line, tool results abbreviated) and keeps what the
outcome needs: the agent's own session id, usage, whether the agent said it
failed, its permission denials, and its ``maestro report`` calls (so a session
whose every report failed is not mistaken for a success).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

RESULT_PREVIEW = 160
TOOL_PREVIEW = 200

# At the start of a command, after a shell separator or an opening quote
# (Codex runs ``/bin/bash -c '...'``), or after a space.
_REPORT_CALL = re.compile(r"(?:^|[;&|('\"]\s*|\s)maestro\s+report\b")


@dataclass
class AgentOutcome:
    """What the agent's stream said about its run (empty for a ``custom`` agent)."""

    agent_session_id: str | None = None
    usage: dict[str, Any] | None = None
    is_error: bool = False
    error: str | None = None
    final_text: str | None = None
    result: dict[str, Any] | None = None
    permission_denials: list[dict[str, Any]] = field(default_factory=list)
    report_calls: int = 0
    failed_report_calls: int = 0


class StreamReader(Protocol):
    """Turns the agent's stdout, line by line, into transcript lines."""

    outcome: AgentOutcome

    def feed(self, line: str) -> list[str]: ...


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _content_text(content: Any) -> str:
    """A tool result's content: a string, or a list of text blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return ""


def _tool_summary(name: str, tool_input: Any) -> str:
    """The part of a tool call a person wants to see: the command, the file, the URL."""
    if not isinstance(tool_input, dict):
        return ""
    for key in ("command", "file_path", "notebook_path", "path", "pattern", "url", "query"):
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            return value
    return json.dumps(tool_input, ensure_ascii=False)


def is_report_call(command: str) -> bool:
    """Whether a shell command runs ``maestro report ...``."""
    return bool(_REPORT_CALL.search(command))


def _parse(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class PassThrough:
    """A ``custom`` agent: its output is the transcript."""

    def __init__(self) -> None:
        self.outcome = AgentOutcome()

    def feed(self, line: str) -> list[str]:
        return [line]


class ClaudeStream:
    """Claude Code's ``stream-json`` output."""

    def __init__(self) -> None:
        self.outcome = AgentOutcome()
        self._report_tool_ids: set[str] = set()

    def feed(self, line: str) -> list[str]:
        event = _parse(line)
        if event is None:
            return [line] if line.strip() else []
        kind = event.get("type")
        if kind == "system" and event.get("subtype") == "init":
            self.outcome.agent_session_id = event.get("session_id") or None
            return [f"● Claude Code session {event.get('session_id')} ({event.get('model')})"]
        if kind == "assistant":
            return self._assistant(event.get("message") or {})
        if kind == "user":
            return self._tool_results(event.get("message") or {})
        if kind == "result":
            return self._result(event)
        return []

    def _assistant(self, message: dict[str, Any]) -> list[str]:
        lines: list[str] = []
        for block in message.get("content") or []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and str(block.get("text", "")).strip():
                lines.append(str(block["text"]).rstrip())
            elif block.get("type") == "tool_use":
                name = str(block.get("name", "?"))
                summary = _tool_summary(name, block.get("input"))
                if name == "Bash" and is_report_call(summary):
                    self.outcome.report_calls += 1
                    self._report_tool_ids.add(str(block.get("id")))
                lines.append(f"→ {name}: {_one_line(summary, TOOL_PREVIEW)}")
        return lines

    def _tool_results(self, message: dict[str, Any]) -> list[str]:
        content = message.get("content")
        if not isinstance(content, list):
            return []
        lines = []
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            text = _content_text(block.get("content"))
            failed = bool(block.get("is_error"))
            if failed and block.get("tool_use_id") in self._report_tool_ids:
                self.outcome.failed_report_calls += 1
            count = len(text.splitlines())
            more = f" (+{count - 1} lines)" if count > 1 else ""
            mark = "✗" if failed else "←"
            lines.append(f"  {mark} {_one_line(text, RESULT_PREVIEW) or '(no output)'}{more}")
        return lines

    def _result(self, event: dict[str, Any]) -> list[str]:
        outcome = self.outcome
        outcome.result = event
        outcome.agent_session_id = event.get("session_id") or outcome.agent_session_id
        outcome.is_error = bool(event.get("is_error")) or event.get("subtype") != "success"
        text = event.get("result")
        outcome.final_text = text if isinstance(text, str) else None
        if outcome.is_error:
            outcome.error = outcome.final_text or str(event.get("subtype") or "error")
        denials = event.get("permission_denials")
        outcome.permission_denials = [d for d in denials or [] if isinstance(d, dict)]
        outcome.usage = claude_usage(event)
        cost = outcome.usage["costUsd"]
        status = "failed" if outcome.is_error else "done"
        return [
            f"● {status}: {_one_line(outcome.final_text or '', RESULT_PREVIEW)}",
            f"  {outcome.usage['turns']} turns, {outcome.usage['inputTokens']} in / "
            f"{outcome.usage['outputTokens']} out tokens, ${cost:.4f}",
        ]


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def claude_usage(result: dict[str, Any]) -> dict[str, Any]:
    """The session's usage from Claude Code's ``result`` object.

    Tokens come from ``usage`` (this invocation's). The cost is Claude Code's own
    list-price estimate: ``total_cost_usd`` and ``modelUsage`` are cumulative over
    a resumed Claude session, so a follow-up (``--resume``) would count its
    predecessors' cost again; stream-json's ``model_usage_since_last_result``
    is this invocation's alone, and wins when present.
    """
    usage = result.get("usage") if isinstance(result.get("usage"), dict) else {}
    assert isinstance(usage, dict)
    cost = result.get("total_cost_usd")
    models = result.get("modelUsage")
    this_invocation = result.get("model_usage_since_last_result")
    if isinstance(this_invocation, dict) and this_invocation:
        models = this_invocation
        costs = [(m or {}).get("costUSD") for m in this_invocation.values()]
        cost = sum(c for c in costs if isinstance(c, int | float) and c >= 0)
    model = None
    if isinstance(models, dict) and models:
        # The model that did the most output is the session's main model; the
        # others are Claude Code's helpers (titles, summaries).
        model = max(models, key=lambda m: _count((models[m] or {}).get("outputTokens")))
    denials = result.get("permission_denials")
    return {
        "inputTokens": _count(usage.get("input_tokens")),
        "outputTokens": _count(usage.get("output_tokens")),
        "cacheReadTokens": _count(usage.get("cache_read_input_tokens")),
        "cacheWriteTokens": _count(usage.get("cache_creation_input_tokens")),
        "costUsd": float(cost) if isinstance(cost, int | float) and cost >= 0 else 0.0,
        "turns": _count(result.get("num_turns")),
        "durationMs": _count(result.get("duration_ms")),
        "model": model,
        "permissionDenials": len(denials) if isinstance(denials, list) else 0,
    }


class CodexStream:
    """Codex CLI's ``exec --json`` output."""

    def __init__(self, model: str | None = None) -> None:
        self.outcome = AgentOutcome()
        self._model = model
        self._turns = 0
        self._totals = {
            "inputTokens": 0,
            "outputTokens": 0,
            "cacheReadTokens": 0,
            "cacheWriteTokens": 0,
        }

    def feed(self, line: str) -> list[str]:
        event = _parse(line)
        if event is None:
            return [line] if line.strip() else []
        kind = event.get("type")
        if kind == "thread.started":
            self.outcome.agent_session_id = event.get("thread_id") or None
            return [f"● Codex thread {event.get('thread_id')}"]
        if kind in ("item.started", "item.completed"):
            return self._item(kind, event.get("item") or {})
        if kind == "turn.completed":
            return self._turn_completed(event.get("usage") or {})
        if kind in ("turn.failed", "error"):
            error = event.get("error")
            message = error.get("message") if isinstance(error, dict) else event.get("message")
            self.outcome.is_error = True
            self.outcome.error = str(message or kind)
            return [f"● failed: {_one_line(self.outcome.error, RESULT_PREVIEW)}"]
        return []

    def _item(self, kind: str, item: dict[str, Any]) -> list[str]:
        item_type = item.get("type")
        if item_type == "command_execution":
            command = str(item.get("command", ""))
            if kind == "item.started":
                return [f"→ shell: {_one_line(command, TOOL_PREVIEW)}"]
            output = str(item.get("aggregated_output") or "")
            exit_code = item.get("exit_code")
            if is_report_call(command):
                self.outcome.report_calls += 1
                if exit_code != 0:
                    self.outcome.failed_report_calls += 1
            mark = "←" if exit_code == 0 else "✗"
            count = len(output.splitlines())
            more = f" (+{count - 1} lines)" if count > 1 else ""
            preview = _one_line(output, RESULT_PREVIEW) or "(no output)"
            return [f"  {mark} {preview}{more} [exit {exit_code}]"]
        if kind != "item.completed":
            return []
        if item_type == "agent_message":
            text = str(item.get("text", "")).rstrip()
            self.outcome.final_text = text
            return [text] if text else []
        if item_type == "file_change":
            changes = item.get("changes") or []
            paths = [str(c.get("path")) for c in changes if isinstance(c, dict)]
            return [f"→ edit: {', '.join(paths)}"]
        if item_type == "error":
            return [f"  ✗ {_one_line(str(item.get('message', '')), RESULT_PREVIEW)}"]
        return []

    def _turn_completed(self, usage: dict[str, Any]) -> list[str]:
        self._turns += 1
        self._totals["inputTokens"] += _count(usage.get("input_tokens"))
        self._totals["outputTokens"] += _count(usage.get("output_tokens"))
        self._totals["cacheReadTokens"] += _count(usage.get("cached_input_tokens"))
        self._totals["cacheWriteTokens"] += _count(usage.get("cache_write_input_tokens"))
        self.outcome.usage = {
            **self._totals,
            "costUsd": 0.0,  # Codex reports tokens, not a price
            "turns": self._turns,
            "durationMs": 0,
            "model": self._model,
            "permissionDenials": 0,
        }
        return [
            f"● turn done: {self._totals['inputTokens']} in / "
            f"{self._totals['outputTokens']} out tokens"
        ]


def reader_for(output_format: str, model: str | None = None) -> StreamReader:
    """The reader for an adapter's ``output_format``."""
    if output_format == "claude-stream-json":
        return ClaudeStream()
    if output_format == "codex-json":
        return CodexStream(model)
    return PassThrough()
