"""A task's ``dependencies``: tasks of its own project, each once, never a cycle.

Dispatch starts an ``autoStart`` task once its dependencies have completed, so a
cycle would leave its tasks waiting for each other forever: the server refuses
any change that would close one, naming it. In process (the rule is the
service's, the same on both stores)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import assert_error, created, ok
from tests.server.in_process import InProcessApi


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApi]:
    """One server for the module; each test works in a project of its own."""
    client = InProcessApi(tmp_path_factory.mktemp("dependencies") / "data")
    yield client
    client.close()


def new_project(api: InProcessApi) -> str:
    project_id: str = created(api.post("/api/projects", json={"name": "P"}))["id"]
    return project_id


def new_task(api: InProcessApi, project_id: str, *dependencies: str) -> str:
    body = {"projectId": project_id, "title": "T", "dependencies": list(dependencies)}
    task_id: str = created(api.post("/api/tasks", json=body))["id"]
    return task_id


def depend(api: InProcessApi, task_id: str, *dependencies: str, **more: Any) -> Any:
    return api.patch(f"/api/tasks/{task_id}", json={"dependencies": list(dependencies), **more})


def dependencies_of(api: InProcessApi, task_id: str) -> list[str]:
    found: list[str] = ok(api.get(f"/api/tasks/{task_id}"))["dependencies"]
    return found


def refused_as_cycle(answer: Any, *cycle: str) -> None:
    body = assert_error(
        answer, 400, "VALIDATION_ERROR", f"dependencies would make a cycle: {' → '.join(cycle)}"
    )
    assert body["details"] == {"field": "dependencies", "cycle": list(cycle)}


# -- cycles refused -----------------------------------------------------------------


def test_a_task_cannot_depend_on_itself(api: InProcessApi) -> None:
    a = new_task(api, new_project(api))
    refused_as_cycle(depend(api, a, a), a, a)
    assert dependencies_of(api, a) == []


def test_two_tasks_cannot_depend_on_each_other(api: InProcessApi) -> None:
    project = new_project(api)
    a = new_task(api, project)
    b = new_task(api, project, a)
    refused_as_cycle(depend(api, a, b), a, b, a)


def test_a_cycle_of_three_is_refused_and_named_in_order(api: InProcessApi) -> None:
    project = new_project(api)
    a = new_task(api, project)
    b = new_task(api, project, a)
    c = new_task(api, project, b)
    refused_as_cycle(depend(api, a, c), a, c, b, a)


def test_a_cycle_made_by_patching_a_task_in_the_middle_is_refused(api: InProcessApi) -> None:
    project = new_project(api)
    a, b, c = (new_task(api, project) for _ in range(3))
    ok(depend(api, b, a))
    ok(depend(api, c, b))
    refused_as_cycle(depend(api, a, c), a, c, b, a)
    ok(depend(api, a))  # no dependencies: nothing closes
    refused_as_cycle(depend(api, b, c), b, c, b)


def test_the_cycle_named_is_a_shortest_one(api: InProcessApi) -> None:
    project = new_project(api)
    a = new_task(api, project)
    b = new_task(api, project, a)
    c = new_task(api, project, b)
    far = new_task(api, project, c)
    refused_as_cycle(depend(api, a, far, b), a, b, a)


def test_an_added_dependency_closing_a_cycle_is_refused_beside_kept_ones(
    api: InProcessApi,
) -> None:
    project = new_project(api)
    a, other = new_task(api, project), new_task(api, project)
    ok(depend(api, a, other))
    b = new_task(api, project, a)
    refused_as_cycle(depend(api, a, other, b), a, b, a)
    assert dependencies_of(api, a) == [other]


def test_a_refused_patch_changes_nothing_at_all(api: InProcessApi) -> None:
    project = new_project(api)
    a = new_task(api, project)
    b = new_task(api, project, a)
    before = ok(api.get(f"/api/tasks/{a}"))
    refused_as_cycle(depend(api, a, b, title="Renamed", autoStart=True), a, b, a)
    assert ok(api.get(f"/api/tasks/{a}")) == before


# -- what is accepted ---------------------------------------------------------------


def test_a_diamond_is_not_a_cycle(api: InProcessApi) -> None:
    project = new_project(api)
    top = new_task(api, project)
    left, right = new_task(api, project, top), new_task(api, project, top)
    bottom = new_task(api, project, left, right)
    assert dependencies_of(api, bottom) == [left, right]
    also = new_task(api, project)
    assert ok(depend(api, also, left, right, top))["dependencies"] == [left, right, top]


def test_a_diamond_can_be_made_by_patches(api: InProcessApi) -> None:
    project = new_project(api)
    top, left, right, bottom = (new_task(api, project) for _ in range(4))
    ok(depend(api, left, top))
    ok(depend(api, right, top))
    assert ok(depend(api, bottom, left, right))["dependencies"] == [left, right]
    assert ok(depend(api, bottom, left, right, top))["dependencies"] == [left, right, top]


def test_a_new_task_may_depend_on_any_tasks_of_its_project(api: InProcessApi) -> None:
    """Nothing depends on a task not yet made, so a create never closes a cycle."""
    project = new_project(api)
    a = new_task(api, project)
    b = new_task(api, project, a)
    c = new_task(api, project, a, b)
    assert dependencies_of(api, c) == [a, b]


def test_a_chain_grows_at_either_end(api: InProcessApi) -> None:
    project = new_project(api)
    first = new_task(api, project)
    second = new_task(api, project, first)
    before = new_task(api, project)
    ok(depend(api, first, before))
    after = new_task(api, project, second)
    assert [dependencies_of(api, t) for t in (first, second, after)] == [
        [before],
        [first],
        [second],
    ]


def test_sending_the_same_dependencies_again_is_no_cycle(api: InProcessApi) -> None:
    project = new_project(api)
    a = new_task(api, project)
    b = new_task(api, project, a)
    assert ok(depend(api, b, a))["dependencies"] == [a]


def test_a_dependency_named_twice_is_kept_once(api: InProcessApi) -> None:
    project = new_project(api)
    a = new_task(api, project)
    b = new_task(api, project, a, a)
    assert dependencies_of(api, b) == [a]
    assert ok(depend(api, b, a, a))["dependencies"] == [a]


def test_dependencies_can_be_cleared(api: InProcessApi) -> None:
    project = new_project(api)
    a = new_task(api, project)
    b = new_task(api, project, a)
    assert ok(depend(api, b))["dependencies"] == []
    assert ok(depend(api, a, b))["dependencies"] == [b]  # the other way round now


# -- other refusals (kept) ----------------------------------------------------------


def test_a_dependency_on_a_task_of_another_project_is_refused(api: InProcessApi) -> None:
    mine, theirs = new_project(api), new_project(api)
    a, foreign = new_task(api, mine), new_task(api, theirs)
    message = f"dependencies must name tasks of project {mine} ({foreign} is not)"
    body = {"projectId": mine, "title": "T", "dependencies": [foreign]}
    assert_error(api.post("/api/tasks", json=body), 400, "VALIDATION_ERROR", message)
    assert_error(depend(api, a, foreign), 400, "VALIDATION_ERROR", message)


def test_a_dependency_on_a_missing_task_is_refused(api: InProcessApi) -> None:
    project = new_project(api)
    a = new_task(api, project)
    body = {"projectId": project, "title": "T", "dependencies": ["task_missing"]}
    assert_error(api.post("/api/tasks", json=body), 404, "TASK_NOT_FOUND")
    assert_error(depend(api, a, "task_missing"), 404, "TASK_NOT_FOUND")


# -- a cycle stored before the rule ---------------------------------------------------


def test_a_cycle_stored_before_the_rule_does_not_hang_the_check(tmp_path: Path) -> None:
    """Cycles could be made before the rule existed; walking into one ends."""
    data = tmp_path / "data"
    (data / "projects").mkdir(parents=True)
    (data / "tasks" / "proj_1").mkdir(parents=True)
    (data / "projects" / "proj_1.json").write_text(json.dumps({"id": "proj_1", "name": "Old"}))
    for task_id, dependencies in (("task_x", ["task_y"]), ("task_y", ["task_x"]), ("task_z", [])):
        stored = {
            "id": task_id,
            "projectId": "proj_1",
            "title": task_id,
            "dependencies": dependencies,
        }
        (data / "tasks" / "proj_1" / f"{task_id}.json").write_text(json.dumps(stored))
    api = InProcessApi(data)
    try:
        assert ok(depend(api, "task_z", "task_x"))["dependencies"] == ["task_x"]
        refused_as_cycle(depend(api, "task_x", "task_y", "task_z"), "task_x", "task_z", "task_x")
    finally:
        api.close()


# -- the invariant ------------------------------------------------------------------

TASKS = 5


def has_cycle(graph: dict[int, set[int]]) -> bool:
    """Whether ``graph`` (task -> the tasks it depends on) has a cycle."""
    done: set[int] = set()
    on_path: set[int] = set()

    def visit(node: int) -> bool:
        if node in on_path:
            return True
        if node in done:
            return False
        on_path.add(node)
        found = any(visit(next_node) for next_node in graph[node])
        on_path.discard(node)
        done.add(node)
        return found

    return any(visit(node) for node in graph)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, TASKS - 1), st.sets(st.integers(0, TASKS - 1), max_size=TASKS)),
        max_size=12,
    )
)
def test_no_sequence_of_patches_makes_a_cycle_and_only_cycles_are_refused(
    api: InProcessApi, patches: list[tuple[int, set[int]]]
) -> None:
    project = new_project(api)
    ids = [new_task(api, project) for _ in range(TASKS)]
    graph: dict[int, set[int]] = {i: set() for i in range(TASKS)}
    for task, wanted in patches:
        answer = depend(api, ids[task], *(ids[d] for d in sorted(wanted)))
        changed = {**graph, task: wanted}
        if has_cycle(changed):
            assert answer.status_code == 400, answer.text
            cycle = [ids.index(t) for t in answer.json()["details"]["cycle"]]
            assert cycle[0] == cycle[-1] == task
            assert all(after in changed[before] for before, after in itertools.pairwise(cycle))
        else:
            assert answer.status_code == 200, answer.text
            graph[task] = wanted
    stored = {i: set(dependencies_of(api, ids[i])) for i in range(TASKS)}
    assert stored == {i: {ids[d] for d in graph[i]} for i in range(TASKS)}
