"""Request bodies' validation messages, in process: each kind of error msgspec
reports (a missing field, a wrong type, a value outside a Literal, a broken
bound or pattern, nested paths), in our words, with the field it concerns.

msgspec offers no structured error (only its message, ``... - at `$.path```), so
these messages are read by pattern (``domain/requests.py``); this file pins
every shape we rely on, so a msgspec that words them differently fails here,
fast, rather than in an API test."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from maestro.domain.errors import ValidationFailed
from maestro.domain.requests import (
    ProjectCreate,
    SessionPatch,
    SubtaskPatch,
    TaskCreate,
    TaskPatch,
    decode_body,
)

CASES: list[tuple[type[msgspec.Struct], Any, str, str]] = [
    # (model, body, message, field)
    (ProjectCreate, {}, "name is required", "name"),
    (ProjectCreate, {"name": 5}, "name must be a string", "name"),
    (ProjectCreate, [], "body must be a JSON object", "body"),
    (TaskCreate, {"projectId": "p", "title": "t", "priority": "urgent"},
     "priority must be one of low, medium, high", "priority"),
    (TaskCreate, {"projectId": "p", "title": "t", "status": "done"},
     "status must be one of pending, in_progress, completed, blocked", "status"),
    (TaskCreate, {"projectId": "p", "title": "t", "dependencies": "x"},
     "dependencies must be a list", "dependencies"),
    (TaskCreate, {"projectId": "p", "title": "t", "dependencies": [1]},
     "dependencies[0] must be a string", "dependencies[0]"),
    (TaskPatch, {"timeline": [{"type": "update"}]},
     "timeline[0].message is required", "timeline[0].message"),
    (TaskPatch, {"timeline": [{"message": "m", "type": "nope"}]},
     "timeline[0].type must be one of created, session_started, session_ended, update, "
     "milestone, blocker, status_changed", "timeline[0].type"),
    (SubtaskPatch, {"order": "first"}, "order must be an integer", "order"),
    (SubtaskPatch, {"completed": "yes"}, "completed must be a boolean", "completed"),
    (SessionPatch, {"usage": {"inputTokens": -1}},
     "usage.inputTokens must be at least 0", "usage.inputTokens"),
    (SessionPatch, {"status": "paused"},
     "status must be one of spawning, running, completed, failed", "status"),
    (ProjectCreate, {"name": "p", "permissions": {"allow": ["bad rule!"]}},
     "permissions.allow[0] must be a permission rule: a tool name, optionally followed by "
     "a specifier in parentheses, such as Edit or Bash(npm test:*)", "permissions.allow[0]"),
    (ProjectCreate, {"name": "p", "permissions": {"mode": "yolo"}},
     "permissions.mode must be one of default, acceptEdits, plan, bypassPermissions",
     "permissions.mode"),
    (SubtaskPatch, {"order": 1.5}, "order must be an integer", "order"),
]  # fmt: skip


@pytest.mark.parametrize(("model", "body", "message", "field"), CASES)
def test_a_bad_body_is_refused_in_our_words_naming_its_field(
    model: type[msgspec.Struct], body: Any, message: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        decode_body(msgspec.json.encode(body), model)
    assert (refused.value.message, refused.value.details) == (message, {"field": field})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "body must be a JSON object"),
        (b"{", "body is not valid JSON (Input data was truncated)"),
        (b'{"name": "\xff"}', "body is not valid JSON (Invalid UTF-8 encoded string)"),
        (b'{"order": 1e999}', "order is out of range"),
    ],
)
def test_a_body_that_is_not_json_or_out_of_range_is_refused_as_such(
    raw: bytes, message: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        decode_body(raw, SubtaskPatch if b"order" in raw else ProjectCreate)
    assert refused.value.message == message
