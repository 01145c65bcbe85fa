"""Ids: how they are made, and the one rule every client-supplied id passes (a
security boundary: ids become file names)."""

from __future__ import annotations

import re

import pytest

from maestro.domain.errors import ValidationFailed
from maestro.domain.ids import check_id, check_ids, is_valid_id, new_id


def test_new_ids_have_the_seeds_shape_and_do_not_repeat() -> None:
    made = [new_id("task") for _ in range(20_000)]
    assert all(re.fullmatch(r"task_\d{13}_[a-z0-9]{9}", i) for i in made)
    assert len(set(made)) == len(made)
    assert all(is_valid_id(i) for i in made[:100])


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("task_1_abc", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        (".", False),
        ("..", False),
        ("-x", False),
        ("a/b", False),
        ("a\\b", False),
        ("a b", False),
        ("é", False),
        ("x\n", False),
        (5, False),
        (None, False),
    ],
)
def test_only_safe_file_names_are_ids(value: object, valid: bool) -> None:
    assert is_valid_id(value) is valid


def test_a_bad_id_is_refused_naming_its_field() -> None:
    with pytest.raises(ValidationFailed, match=r"^projectId must be an id of letters") as refused:
        check_id("../x", "projectId")
    assert refused.value.details == {"field": "projectId"}
    with pytest.raises(ValidationFailed, match=r"^taskIds must be a list of valid ids$"):
        check_ids(["ok", "../x"], "taskIds")
