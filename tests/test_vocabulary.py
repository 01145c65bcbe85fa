"""The web UI speaks the server's vocabulary: its lists of statuses, priorities
and timeline types (``web/js/format.js``, JavaScript, so it cannot import them)
hold exactly the words of ``domain/vocabulary.py``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from maestro.domain.models import PermissionMode
from maestro.domain.vocabulary import (
    AGENT_NAMES,
    FINISHED_SESSION_STATUSES,
    RUNNER_STATUSES,
    SESSION_ATTENTION,
    SESSION_STATUSES,
    TASK_PRIORITIES,
    TASK_STATUSES,
    TIMELINE_EVENT_TYPES,
    WORKTREE_MODES,
)

FORMAT_JS = (
    Path(__file__).resolve().parent.parent / "src" / "maestro" / "web" / "js" / "format.js"
).read_text()


def js_constant(name: str) -> str:
    """The source of ``export const NAME = ...;`` in format.js."""
    found = re.search(rf"export const {name} = (.*?);\n", FORMAT_JS, re.DOTALL)
    assert found, f"format.js has no constant {name}"
    return found.group(1)


def pair_keys(name: str) -> set[str]:
    """The first strings of ``[["key", "Label"], ...]``."""
    return set(re.findall(r'\[\s*"([A-Za-z_]+)",', js_constant(name)))


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("TASK_STATUSES", TASK_STATUSES),
        ("PRIORITIES", TASK_PRIORITIES),
        ("SESSION_STATUSES", SESSION_STATUSES),
        ("RUNNER_STATUSES", RUNNER_STATUSES),
        ("SESSION_ATTENTION", SESSION_ATTENTION),
        ("WORKTREE_MODES", WORKTREE_MODES),
        ("PERMISSION_MODES", get_args(PermissionMode)),
    ],
)
def test_the_ui_lists_exactly_the_servers_words(name: str, words: tuple[str, ...]) -> None:
    assert pair_keys(name) == set(words)


def test_the_ui_knows_every_timeline_type() -> None:
    keys = set(re.findall(r"^\s*([a-z_]+): \{", js_constant("TIMELINE_TYPES"), re.MULTILINE))
    assert keys == set(TIMELINE_EVENT_TYPES)


def test_the_ui_finishes_sessions_as_the_server_does() -> None:
    words = set(re.findall(r'"([a-z_]+)"', js_constant("FINISHED_SESSION_STATUSES")))
    assert words == set(FINISHED_SESSION_STATUSES)


def test_the_ui_offers_exactly_the_agents_the_server_knows() -> None:
    assert set(re.findall(r'"([a-z]+)"', js_constant("AGENTS"))) == set(AGENT_NAMES)
