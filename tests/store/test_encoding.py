"""``domain.encoding``: each entity version is encoded once, and a new version
never gets an old version's bytes."""

from __future__ import annotations

import json

import msgspec
from msgspec.structs import replace

from maestro.domain import encoding
from maestro.domain.encoding import encode
from maestro.domain.models import Task


def test_a_version_is_encoded_once_and_a_new_one_afresh() -> None:
    task = Task(id="task_1", project_id="proj_1", title="First")
    first = encode(task)
    assert encode(task) is first, "the same version's bytes are reused"
    changed = replace(task, title="Second")
    assert json.loads(encode(changed))["title"] == "Second"
    assert encode(changed) == msgspec.json.encode(changed)
    assert json.loads(encode(task))["title"] == "First"


def test_equal_but_distinct_versions_are_each_right() -> None:
    a = Task(id="task_2", project_id="proj_1", title="Same")
    b = Task(id="task_2", project_id="proj_1", title="Same")
    assert encode(a) == encode(b) == msgspec.json.encode(a)


def test_only_the_latest_versions_are_kept() -> None:
    tasks = [
        Task(id=f"task_{n}", project_id="proj_1", title=str(n))
        for n in range(encoding.RECENT_VERSIONS + 10)
    ]
    for task in tasks:
        encode(task)
    assert len(encoding._recent) == encoding.RECENT_VERSIONS
    assert json.loads(encode(tasks[0]))["title"] == "0"  # encoded again, correctly


def test_other_values_are_encoded_as_they_are() -> None:
    assert encode({"a": [1, 2]}) == b'{"a":[1,2]}'
