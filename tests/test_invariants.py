"""The many-to-many invariants (SPEC section 3) under random request sequences.

A hypothesis state machine drives a real server with creates, links, unlinks,
PATCHes of ``sessionIds`` / ``taskIds`` / ``parentId`` / ``dependencies`` (cycles
refused), deletes (with and without cascade) and spawns, some of them naming
deleted ids or ids of another project. It keeps a model of what should exist and
be linked, predicts the status of every request, and after every step reads the
whole project back:

- task T lists session S in ``sessionIds`` exactly when S lists T in ``taskIds``;
- no id in ``sessionIds``, ``taskIds``, ``dependencies`` or ``parentId`` dangles;
- nothing is ever linked across projects;
- no request ever gets a 5xx.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import StoreBackend

OK = frozenset({200, 201})


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, backend: StoreBackend
) -> Iterator[httpx.Client]:
    server = backend.server(tmp_path_factory.mktemp("invariants") / "data").start()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        yield api
    server.stop()
    backend.discard(server)


class LinkMachine(RuleBasedStateMachine):
    """One fresh project per run, plus a foreign project whose task and session
    must never be linked to anything of ours."""

    api: httpx.Client

    def __init__(self) -> None:
        super().__init__()
        self.project = ""
        self.foreign_task = ""
        self.foreign_session = ""
        self.parents: dict[str, str | None] = {}  # live task -> parent
        self.dependencies: dict[str, list[str]] = {}  # live task -> dependencies
        self.sessions: set[str] = set()  # live sessions
        self.links: set[tuple[str, str]] = set()  # (session, task)
        self.ever_tasks: list[str] = []  # every task id ever created, deleted ones too
        self.ever_sessions: list[str] = []

    # -- requests ---------------------------------------------------------------

    def call(self, method: str, path: str, expected: set[int], **kwargs: Any) -> httpx.Response:
        """Make the request; its status must be one of ``expected`` (2xx when empty)."""
        response = self.api.request(method, path, **kwargs)
        assert response.status_code < 500, f"{method} {path} -> {response.text}"
        allowed = expected or OK
        assert response.status_code in allowed, (
            f"{method} {path} {kwargs.get('json')} -> {response.status_code} {response.text}; "
            f"expected one of {sorted(allowed)}"
        )
        if response.status_code >= 400:
            error = response.json()
            assert error["error"] is True and error["code"] and error["message"], error
        return response

    # When a request names several bad ids, which error wins is not specified: each
    # of them is accepted.

    def task_errors(self, task_ids: list[str]) -> set[int]:
        """Naming tasks from our project: 404 for a deleted one, 400 for the foreign one."""
        return {400 if t == self.foreign_task else 404 for t in task_ids if t not in self.parents}

    def session_errors(self, session_ids: list[str]) -> set[int]:
        foreign = self.foreign_session
        return {400 if s == foreign else 404 for s in session_ids if s not in self.sessions}

    @staticmethod
    def errors_from_abroad(ids: list[str], live: Container[str]) -> set[int]:
        """Naming our entities from the foreign project: 400 if they exist, else 404."""
        return {400 if i in live else 404 for i in ids}

    def closes_cycle(self, task_id: str, dependencies: list[str]) -> bool:
        """Whether ``task_id`` depending on ``dependencies`` would make a cycle."""
        seen: set[str] = set()
        todo = list(dependencies)
        while todo:
            current = todo.pop()
            if current == task_id:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(self.dependencies.get(current, []))
        return False

    def descendants(self, task_id: str) -> set[str]:
        found = {task_id}
        changed = True
        while changed:
            children = {t for t, parent in self.parents.items() if parent in found}
            changed = not children <= found
            found |= children
        return found

    # -- draws --------------------------------------------------------------------

    def pick(
        self, data: st.DataObject, ever: list[str], live: Container[str], foreign: str | None
    ) -> str:
        """Mostly a live id; now and then a deleted one, or the foreign project's."""
        alive = [i for i in ever if i in live]
        dead = [i for i in ever if i not in live]
        roll = data.draw(st.integers(0, 9))
        if foreign is not None and (roll == 0 or not ever):
            return foreign
        if dead and (roll == 1 or not alive):
            return data.draw(st.sampled_from(dead))
        return data.draw(st.sampled_from(alive))

    def any_task(self, data: st.DataObject, foreign: bool = True) -> str:
        foreign_task = self.foreign_task if foreign else None
        return self.pick(data, self.ever_tasks, self.parents, foreign_task)

    def any_session(self, data: st.DataObject, foreign: bool = True) -> str:
        foreign_session = self.foreign_session if foreign else None
        return self.pick(data, self.ever_sessions, self.sessions, foreign_session)

    def some_tasks(self, data: st.DataObject, min_size: int = 0) -> list[str]:
        size = data.draw(st.integers(min_size, 3))
        return [self.any_task(data) for _ in range(size)]

    def some_sessions(self, data: st.DataObject) -> list[str]:
        return [self.any_session(data) for _ in range(data.draw(st.integers(0, 3)))]

    # -- rules ----------------------------------------------------------------------

    @initialize()
    def create_projects(self) -> None:
        self.project = self.call("POST", "/api/projects", set(), json={"name": "p"}).json()["id"]
        other = self.call("POST", "/api/projects", set(), json={"name": "q"}).json()["id"]
        task = {"projectId": other, "title": "foreign"}
        self.foreign_task = self.call("POST", "/api/tasks", set(), json=task).json()["id"]
        session = {"projectId": other, "taskIds": []}
        self.foreign_session = self.call("POST", "/api/sessions", set(), json=session).json()["id"]

    @rule(data=st.data(), with_parent=st.booleans())
    def create_task(self, data: st.DataObject, with_parent: bool) -> None:
        parent = self.any_task(data) if with_parent and self.ever_tasks else None
        dependencies = self.some_tasks(data) if self.ever_tasks else []
        expected = self.task_errors([*dependencies, *([parent] if parent else [])])
        body: dict[str, Any] = {"projectId": self.project, "title": "t", "parentId": parent}
        body["dependencies"] = dependencies
        response = self.call("POST", "/api/tasks", expected, json=body)
        if response.status_code == 201:
            task_id = response.json()["id"]
            self.parents[task_id] = parent
            self.dependencies[task_id] = list(dict.fromkeys(dependencies))
            self.ever_tasks.append(task_id)

    @rule(data=st.data())
    def create_session(self, data: st.DataObject) -> None:
        tasks = self.some_tasks(data) if self.ever_tasks else []
        body = {"projectId": self.project, "taskIds": tasks}
        response = self.call("POST", "/api/sessions", self.task_errors(tasks), json=body)
        if response.status_code == 201:
            session_id = response.json()["id"]
            self.sessions.add(session_id)
            self.ever_sessions.append(session_id)
            self.links |= {(session_id, t) for t in tasks}

    @precondition(lambda self: self.ever_tasks)
    @rule(data=st.data())
    def spawn(self, data: st.DataObject) -> None:
        tasks = self.some_tasks(data, min_size=1)
        body = {"projectId": self.project, "taskIds": tasks}
        response = self.call("POST", "/api/sessions/spawn", self.task_errors(tasks), json=body)
        if response.status_code == 201:
            session_id = response.json()["sessionId"]
            self.sessions.add(session_id)
            self.ever_sessions.append(session_id)
            self.links |= {(session_id, t) for t in tasks}

    @precondition(lambda self: self.ever_tasks and self.ever_sessions)
    @rule(data=st.data())
    def link(self, data: st.DataObject) -> None:
        session = self.any_session(data)
        task = self.any_task(data, foreign=session != self.foreign_session)
        if session == self.foreign_session:
            expected = self.errors_from_abroad([task], self.parents)
        elif session not in self.sessions:
            expected = {404}
        elif (session, task) in self.links:
            expected = set()
        else:
            expected = self.task_errors([task])
        response = self.call("POST", f"/api/sessions/{session}/tasks/{task}", expected)
        if response.status_code == 200:
            self.links.add((session, task))

    @precondition(lambda self: self.ever_tasks and self.ever_sessions)
    @rule(data=st.data())
    def unlink(self, data: st.DataObject) -> None:
        session = self.any_session(data)
        task = self.any_task(data, foreign=session != self.foreign_session)
        if session == self.foreign_session:
            expected: set[int] = set() if task in self.parents else {404}
        elif session not in self.sessions:
            expected = {404}
        else:
            # Unlinking a pair that is not linked is a no-op, for any existing task.
            expected = {404} if task not in self.parents and task != self.foreign_task else set()
        response = self.call("DELETE", f"/api/sessions/{session}/tasks/{task}", expected)
        if response.status_code == 200:
            self.links.discard((session, task))

    @precondition(lambda self: self.ever_tasks)
    @rule(data=st.data())
    def patch_task_session_ids(self, data: st.DataObject) -> None:
        task, wanted = self.any_task(data), self.some_sessions(data)
        if task == self.foreign_task:
            wanted = [s for s in wanted if s != self.foreign_session]
            expected = self.errors_from_abroad(wanted, self.sessions)
        elif task not in self.parents:
            expected = {404}
        else:
            current = {s for s, t in self.links if t == task}
            expected = self.session_errors([s for s in wanted if s not in current])
        body = {"sessionIds": wanted}
        response = self.call("PATCH", f"/api/tasks/{task}", expected, json=body)
        if response.status_code == 200 and task != self.foreign_task:
            self.links = {(s, t) for s, t in self.links if t != task} | {(s, task) for s in wanted}

    @precondition(lambda self: self.ever_sessions)
    @rule(data=st.data())
    def patch_session_task_ids(self, data: st.DataObject) -> None:
        session, wanted = self.any_session(data), self.some_tasks(data)
        if session == self.foreign_session:
            wanted = [t for t in wanted if t != self.foreign_task]
            expected = self.errors_from_abroad(wanted, self.parents)
        elif session not in self.sessions:
            expected = {404}
        else:
            current = {t for s, t in self.links if s == session}
            expected = self.task_errors([t for t in wanted if t not in current])
        body = {"taskIds": wanted}
        response = self.call("PATCH", f"/api/sessions/{session}", expected, json=body)
        if response.status_code == 200 and session != self.foreign_session:
            kept = {(s, t) for s, t in self.links if s != session}
            self.links = kept | {(session, t) for t in wanted}

    @precondition(lambda self: self.ever_tasks)
    @rule(data=st.data(), to_root=st.booleans())
    def patch_task_parent(self, data: st.DataObject, to_root: bool) -> None:
        task = self.any_task(data)
        parent = None if to_root else self.any_task(data)
        if task == self.foreign_task:
            wanted = [] if parent is None else [parent]
            expected = {400} if parent == task else self.errors_from_abroad(wanted, self.parents)
        elif task not in self.parents:
            expected = {404}
        elif parent is None:
            expected = set()
        elif parent in self.parents and parent in self.descendants(task):
            expected = {400}  # a cycle of parents
        else:
            expected = self.task_errors([parent])
        body = {"parentId": parent}
        response = self.call("PATCH", f"/api/tasks/{task}", expected, json=body)
        if response.status_code == 200 and task != self.foreign_task:
            self.parents[task] = parent

    @precondition(lambda self: self.ever_tasks)
    @rule(data=st.data())
    def patch_task_dependencies(self, data: st.DataObject) -> None:
        task, dependencies = self.any_task(data), self.some_tasks(data)
        if task == self.foreign_task:
            ours = [d for d in dependencies if d != task]
            expected = self.errors_from_abroad(ours, self.parents)
            if task in dependencies:
                expected.add(400)  # a task may not depend on itself
        elif task not in self.parents:
            expected = {404}
        else:
            expected = self.task_errors(dependencies)
            if self.closes_cycle(task, dependencies):
                expected.add(400)  # dependencies never cycle (a task on itself included)
        body = {"dependencies": dependencies}
        response = self.call("PATCH", f"/api/tasks/{task}", expected, json=body)
        if response.status_code == 200 and task != self.foreign_task:
            self.dependencies[task] = list(dict.fromkeys(dependencies))

    @precondition(lambda self: self.ever_tasks)
    @rule(data=st.data(), cascade=st.booleans())
    def delete_task(self, data: st.DataObject, cascade: bool) -> None:
        task = self.any_task(data, foreign=False)
        has_children = any(parent == task for parent in self.parents.values())
        if task not in self.parents:
            expected = {404}
        elif has_children and not cascade:
            expected = {400}
        else:
            expected = set()
        path = f"/api/tasks/{task}" + ("?cascade=true" if cascade else "")
        response = self.call("DELETE", path, expected)
        if response.status_code == 200:
            doomed = self.descendants(task)
            for gone in doomed:
                del self.parents[gone]
                del self.dependencies[gone]
            for kept, dependencies in self.dependencies.items():
                self.dependencies[kept] = [d for d in dependencies if d not in doomed]
            self.links = {(s, t) for s, t in self.links if t not in doomed}

    @precondition(lambda self: self.ever_sessions)
    @rule(data=st.data())
    def delete_session(self, data: st.DataObject) -> None:
        session = self.any_session(data, foreign=False)
        expected = set() if session in self.sessions else {404}
        response = self.call("DELETE", f"/api/sessions/{session}", expected)
        if response.status_code == 200:
            self.sessions.discard(session)
            self.links = {(s, t) for s, t in self.links if s != session}

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def links_are_symmetric_nothing_dangles_and_the_model_holds(self) -> None:
        if not self.project:
            return
        params = {"projectId": self.project}
        tasks = {t["id"]: t for t in self.call("GET", "/api/tasks", set(), params=params).json()}
        listed = self.call("GET", "/api/sessions", set(), params=params).json()
        sessions = {s["id"]: s for s in listed}

        from_tasks = {(s, t["id"]) for t in tasks.values() for s in t["sessionIds"]}
        from_sessions = {(s["id"], t) for s in sessions.values() for t in s["taskIds"]}
        assert from_tasks == from_sessions, "task.sessionIds and session.taskIds disagree"
        for task in tasks.values():
            assert len(task["sessionIds"]) == len(set(task["sessionIds"])), task
            assert set(task["sessionIds"]) <= set(sessions), f"dangling sessionIds in {task}"
            assert set(task["dependencies"]) <= set(tasks), f"dangling dependencies in {task}"
            assert task["parentId"] is None or task["parentId"] in tasks, task
        for session in sessions.values():
            assert len(session["taskIds"]) == len(set(session["taskIds"])), session
            assert set(session["taskIds"]) <= set(tasks), f"dangling taskIds in {session}"

        assert set(tasks) == set(self.parents)
        assert set(sessions) == self.sessions
        assert from_sessions == self.links
        assert {t: task["parentId"] for t, task in tasks.items()} == self.parents
        assert {t: task["dependencies"] for t, task in tasks.items()} == self.dependencies

    @invariant()
    def nothing_is_linked_across_projects(self) -> None:
        if not self.project:
            return
        task = self.call("GET", f"/api/tasks/{self.foreign_task}", set()).json()
        session = self.call("GET", f"/api/sessions/{self.foreign_session}", set()).json()
        assert task["sessionIds"] == [] and session["taskIds"] == []


def test_links_stay_symmetric_under_any_sequence_of_requests(client: httpx.Client) -> None:
    class Machine(LinkMachine):
        api = client

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            # Shrinking against a live server takes minutes; 30 steps read well enough.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
