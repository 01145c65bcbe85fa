"""Reading agents' machine output: the transcript people see, and the outcome
``worker init`` records. Lines are shaped as the real CLIs print them; the
samples in tests/realagents/samples were recorded from the real binaries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maestro.agents.transcript import (
    ClaudeStream,
    CodexStream,
    PassThrough,
    is_report_call,
    reader_for,
)

SAMPLES = Path(__file__).resolve().parent.parent / "realagents" / "samples"


def line(value: dict[str, Any]) -> str:
    return json.dumps(value)


def assistant(*blocks: dict[str, Any]) -> str:
    return line({"type": "assistant", "message": {"content": list(blocks)}})


def tool_result(tool_use_id: str, content: Any, is_error: bool = False) -> str:
    block = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}
    if is_error:
        block["is_error"] = True
    return line({"type": "user", "message": {"content": [block]}})


RESULT = {
    "type": "result",
    "subtype": "success",
    "is_error": False,
    "result": "All done.",
    "session_id": "9f1c",
    "num_turns": 3,
    "duration_ms": 5400,
    "total_cost_usd": 0.0123,
    "usage": {
        "input_tokens": 120,
        "output_tokens": 45,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 300,
    },
    "modelUsage": {
        "claude-haiku": {"outputTokens": 3},
        "claude-sonnet": {"outputTokens": 42},
    },
    "permission_denials": [
        {"tool_name": "Bash", "tool_use_id": "t9", "tool_input": {"command": "git push"}}
    ],
}


def test_claude_tool_calls_are_one_line_each_and_results_abbreviated() -> None:
    stream = ClaudeStream()
    init = line({"type": "system", "subtype": "init", "session_id": "9f1c", "model": "sonnet"})
    assert stream.feed(init) == ["● Claude Code session 9f1c (sonnet)"]
    shown = stream.feed(
        assistant(
            {"type": "text", "text": "Running the tests.\n"},
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "pytest -q"}},
        )
    )
    assert shown == ["Running the tests.", "→ Bash: pytest -q"]
    output = "collected 3 items\n...\n3 passed in 0.1s"
    assert stream.feed(tool_result("t1", output)) == [
        "  ← collected 3 items ... 3 passed in 0.1s (+2 lines)"
    ]
    edit = {"type": "tool_use", "id": "t2", "name": "Edit", "input": {"file_path": "/src/a.py"}}
    assert stream.feed(assistant(edit)) == ["→ Edit: /src/a.py"]
    refused = [{"type": "text", "text": "Permission to use Bash has been denied."}]
    assert stream.feed(tool_result("t2", refused, is_error=True)) == [
        "  ✗ Permission to use Bash has been denied."
    ]


def test_claude_result_gives_usage_session_and_denials() -> None:
    stream = ClaudeStream()
    shown = stream.feed(line(RESULT))
    assert shown[0] == "● done: All done."
    outcome = stream.outcome
    assert not outcome.is_error
    assert outcome.agent_session_id == "9f1c"
    assert outcome.usage == {
        "inputTokens": 120,
        "outputTokens": 45,
        "cacheReadTokens": 1000,
        "cacheWriteTokens": 300,
        "costUsd": 0.0123,
        "turns": 3,
        "durationMs": 5400,
        "model": "claude-sonnet",
        "permissionDenials": 1,
    }
    assert outcome.permission_denials[0]["tool_input"] == {"command": "git push"}


def test_a_resumed_sessions_cost_is_this_invocations_not_the_cumulative_one() -> None:
    """After ``--resume`` Claude Code's ``total_cost_usd`` and ``modelUsage`` add up
    every invocation of the Claude session; a follow-up must not count its
    predecessors' spending again."""
    stream = ClaudeStream()
    resumed = {
        **RESULT,
        "total_cost_usd": 0.05,  # this invocation and the ones before it
        "modelUsage": {"claude-sonnet": {"outputTokens": 900, "costUSD": 0.05}},
        "model_usage_since_last_result": {
            "claude-sonnet": {"outputTokens": 40, "costUSD": 0.004},
            "claude-haiku": {"outputTokens": 5, "costUSD": 0.001},
        },
    }
    stream.feed(line(resumed))
    assert stream.outcome.usage is not None
    assert stream.outcome.usage["costUsd"] == pytest.approx(0.005)
    assert stream.outcome.usage["model"] == "claude-sonnet"
    assert stream.outcome.usage["outputTokens"] == 45  # ``usage`` is per invocation already


def test_claude_error_result_is_a_failure_with_its_message() -> None:
    stream = ClaudeStream()
    stream.feed(
        line({**RESULT, "subtype": "success", "is_error": True, "result": "API Error: 400"})
    )
    assert stream.outcome.is_error
    assert stream.outcome.error == "API Error: 400"
    other = ClaudeStream()
    other.feed(line({**RESULT, "subtype": "error_max_turns", "is_error": False}))
    assert other.outcome.is_error


def test_report_calls_are_counted_and_failed_ones_told_apart() -> None:
    stream = ClaudeStream()
    for tool_id, command in (("r1", "maestro report progress 'start'"), ("r2", "ls")):
        call = {"type": "tool_use", "id": tool_id, "name": "Bash", "input": {"command": command}}
        stream.feed(assistant(call))
    stream.feed(tool_result("r1", "maestro: command not found", is_error=True))
    stream.feed(tool_result("r2", "a.py", is_error=True))
    assert (stream.outcome.report_calls, stream.outcome.failed_report_calls) == (1, 1)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("maestro report progress 'x'", True),
        ("cd /src && maestro report complete done", True),
        ("/bin/bash -c 'maestro report progress go'", True),
        ("/venv/bin/maestro report blocked y", False),
        ("echo maestro reporting", False),
        ("maestro task show t1", False),
    ],
)
def test_what_counts_as_a_report_call(command: str, expected: bool) -> None:
    assert is_report_call(command) is expected


def test_lines_that_are_not_json_are_shown_as_they_are() -> None:
    stream = ClaudeStream()
    assert stream.feed("Error: not logged in") == ["Error: not logged in"]
    assert stream.feed("") == []
    assert stream.feed('["a list"]') == ['["a list"]']


def test_codex_events_become_a_transcript_and_usage() -> None:
    stream = CodexStream(model="gpt-test")
    assert stream.feed(line({"type": "thread.started", "thread_id": "th_1"})) == [
        "● Codex thread th_1"
    ]
    command = {"id": "i1", "type": "command_execution", "command": "maestro report progress go"}
    assert stream.feed(line({"type": "item.started", "item": command})) == [
        "→ shell: maestro report progress go"
    ]
    done = {**command, "aggregated_output": "ok\n", "exit_code": 0, "status": "completed"}
    assert stream.feed(line({"type": "item.completed", "item": done})) == ["  ← ok [exit 0]"]
    message = {"id": "i2", "type": "agent_message", "text": "Finished."}
    assert stream.feed(line({"type": "item.completed", "item": message})) == ["Finished."]
    usage = {"input_tokens": 50, "cached_input_tokens": 20, "output_tokens": 7}
    stream.feed(line({"type": "turn.completed", "usage": usage}))
    outcome = stream.outcome
    assert outcome.agent_session_id == "th_1"
    assert outcome.report_calls == 1 and outcome.failed_report_calls == 0
    assert outcome.usage is not None
    assert (outcome.usage["inputTokens"], outcome.usage["outputTokens"]) == (50, 7)
    assert outcome.usage["cacheReadTokens"] == 20
    assert outcome.usage["model"] == "gpt-test"
    assert not outcome.is_error


def test_codex_failed_turn_is_a_failure() -> None:
    stream = CodexStream()
    stream.feed(line({"type": "turn.failed", "error": {"message": "model said 400"}}))
    assert stream.outcome.is_error
    assert stream.outcome.error == "model said 400"


def test_a_custom_agents_output_passes_through() -> None:
    reader = reader_for("text")
    assert isinstance(reader, PassThrough)
    assert reader.feed("anything") == ["anything"]


@pytest.mark.parametrize(
    ("sample", "output_format"),
    [("claude-stream.jsonl", "claude-stream-json"), ("codex-exec.jsonl", "codex-json")],
)
def test_recorded_real_output_reads_to_a_transcript_and_an_outcome(
    sample: str, output_format: str
) -> None:
    path = SAMPLES / sample
    reader = reader_for(output_format)
    shown = [text for raw in path.read_text().splitlines() for text in reader.feed(raw)]
    assert shown, "the transcript is empty"
    assert not any(text.lstrip().startswith("{") for text in shown), "raw JSON leaked"
    outcome = reader.outcome
    assert outcome.agent_session_id
    assert outcome.usage is not None and outcome.usage["outputTokens"] > 0
    assert not outcome.is_error
