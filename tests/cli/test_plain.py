"""``plain``: the ``--json`` envelope every command prints, byte for byte what
msgspec (the server's encoder, and the CLI's before) writes, whichever encoder
``to_json`` picks."""

from __future__ import annotations

import json
import sys
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from maestro.cli import plain
from maestro.cli.errors import CommandError
from maestro.client import ApiError

_text = st.text()  # any code point: accents, CJK, control characters, U+2028
_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _text
_floats = st.floats(allow_nan=False, allow_infinity=False)


def _json(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
        max_leaves=20,
    )


@given(_json(_scalars))
def test_without_msgspec_loaded_the_standard_library_writes_the_same_bytes(value: Any) -> None:
    expected = msgspec.json.encode(value).decode()
    saved = sys.modules.pop("msgspec")
    try:
        assert plain.to_json(value) == expected
    finally:
        sys.modules["msgspec"] = saved


@given(_json(_scalars | _floats))
def test_floats_are_written_as_msgspec_writes_them(value: Any) -> None:
    assert plain.to_json(value) == msgspec.json.encode(value).decode()


@pytest.mark.parametrize("number", [1e-05, 1e16, 2.5e-7])
def test_a_float_the_standard_library_would_spell_otherwise_is_written_as_msgspec_does(
    number: float,
) -> None:
    expected = msgspec.json.encode({"cost": number}).decode()
    assert json.dumps({"cost": number}, separators=(",", ":")) != expected
    saved = sys.modules.pop("msgspec")
    try:
        assert plain.to_json({"cost": number}) == expected
    finally:
        sys.modules["msgspec"] = saved


def test_the_success_envelope() -> None:
    assert plain.success([1]) == '{"success":true,"data":[1]}'


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (None, '{"success":false,"error":"NO_TASK","message":"no task"}'),
        ([2], '{"success":false,"error":"NO_TASK","message":"no task","data":[2]}'),
    ],
)
def test_the_failure_envelope(data: Any, line: str) -> None:
    assert plain.failure(CommandError("no task", code="NO_TASK"), data) == line


def test_the_failure_envelope_carries_the_servers_details() -> None:
    error = ApiError(400, "VALIDATION_ERROR", "title is required", {"field": "title"})
    assert plain.failure(error) == (
        '{"success":false,"error":"VALIDATION_ERROR","message":"title is required",'
        '"details":{"field":"title"}}'
    )


def test_errors_are_one_plain_line_on_stderr_when_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain.print_error("cannot reach [the] server")
    plain.print_warning("careful")
    assert capsys.readouterr().err == "error: cannot reach [the] server\nwarning: careful\n"
