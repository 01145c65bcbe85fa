"""Crash torture: concurrent writers, ``kill -9`` at random moments, restart, check.

The promise under test (SPEC section 11): a 2xx means the change is in the store;
a ``kill -9`` at any moment loses no acknowledged change and leaves no half-written
or unparsable file; the invariants hold after every restart.

Each cycle, ``writers`` threads change the store through the REST API as fast as
it answers: tasks, subtasks, timeline entries, sessions, links, status changes,
deletes -- on entities of their own, plus a few "hot" tasks and sessions that all
of them fight over. The server is killed with SIGKILL at a random moment (now and
then again during its next start-up), restarted, and then:

- every acknowledged write is there with the content it was acknowledged with,
  unless the writer's one request in flight at the kill superseded it (each
  writer works on its own entities one request at a time, so for every value the
  store may hold exactly the last acknowledged one or the in-flight one);
- nothing is there that no writer ever sent (no phantom entity or entry);
- every ``.json`` file parses, right after the kill and after the restart; after
  the restart no temp file is left and nothing was quarantined; every line of
  ``events.jsonl`` parses and ``seq`` runs on by one with no gap or repeat, and
  the server's latest ``seq`` covers the events of every acknowledged write;
- task/session links are symmetric with no dangling id; status stamps are set.

Every entity a writer owns is named by the writer before it is sent (task and
subtask titles, session ids, timeline messages), so an in-flight create is
recognised after the restart whether or not it landed.

Used by ``tests/stress/test_crash_torture.py`` (a short run in CI) and
``benchmarks/crash_torture.py`` (200 cycles).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

TASK_STATUSES = ("pending", "in_progress", "completed", "blocked")
PRIORITIES = ("low", "medium", "high")
SESSION_STATUSES = ("spawning", "running", "completed", "failed")
HOT = 3  # hot tasks and hot sessions, shared by all writers
OWN_TASKS = 12  # a writer deletes more than it creates past this many live tasks
OWN_SESSIONS = 6
HOT_TIMELINE = 60  # entries; then the hot task is replaced by a fresh one

Key = tuple[str, ...]
ABSENT = "<absent>"  # the value of a key whose entity is gone


class Server(Protocol):
    """What the torture needs of a server process (``tests.conftest.RunningServer``)."""

    data_dir: Path

    @property
    def url(self) -> str: ...

    def start(self, timeout: float = 15.0) -> Any: ...

    def launch(self) -> None: ...

    def kill(self) -> None: ...

    def log(self) -> str: ...


# -- what a writer expects ----------------------------------------------------------


@dataclass
class Expectation:
    """A value in the store: the last acknowledged one, or the in-flight one(s)."""

    acked: Any
    maybe: list[Any] = field(default_factory=list)

    def allows(self, value: Any) -> bool:
        return value == self.acked or value in self.maybe


@dataclass
class Op:
    """One request and what it does to the writer's keys if it lands."""

    name: str
    method: str
    path: str
    body: Any
    changes: dict[Key, Any]
    emits: bool = True  # always produces at least one event
    learn: Callable[[Any], None] | None = None  # records ids from the answer


@dataclass
class Ledger:
    """One writer's keys. Keys name things by what the writer chose:

    ``("task", title, "exists"|field)``, ``("subtask", task title, title,
    "exists"|"completed")``, ``("note", task title, message)``, ``("hotnote",
    message)``, ``("session", id, "exists"|"status")``, ``("link", session id,
    task title)``.
    """

    values: dict[Key, Expectation] = field(default_factory=dict)
    task_ids: dict[str, str] = field(default_factory=dict)  # title -> id
    subtask_ids: dict[tuple[str, str], str] = field(default_factory=dict)

    def acknowledge(self, op: Op) -> None:
        for key, value in op.changes.items():
            self.values[key] = Expectation(value)
            if key[-1] == "exists" and value is False:
                self._forget_children(key)

    def in_flight(self, op: Op) -> None:
        for key, value in op.changes.items():
            expectation = self.values.setdefault(key, Expectation(_initial(key)))
            expectation.maybe.append(value)

    def _forget_children(self, key: Key) -> None:
        """An acknowledged delete: nothing under the entity can be checked any more."""
        for other in list(self.values):
            if other != key and _is_under(other, key):
                del self.values[other]

    def live(self, kind: str) -> list[str]:
        return [
            k[1]
            for k, e in self.values.items()
            if k[0] == kind and k[2:] == ("exists",) and e.acked is True
        ]

    def live_subtasks(self, task_title: str) -> list[str]:
        return [
            k[2]
            for k, e in self.values.items()
            if k[0] == "subtask" and k[1] == task_title and k[3] == "exists" and e.acked is True
        ]

    def linked(self, session: str, task_title: str) -> bool:
        expectation = self.values.get(("link", session, task_title))
        return expectation is not None and expectation.acked is True


def _is_under(key: Key, entity: Key) -> bool:
    """Whether ``key`` is about the entity whose ``exists`` key is ``entity``, or
    about something under it (a task's subtasks, notes and links)."""
    kind, name = entity[0], entity[1]
    if kind == "task":
        return (key[0] in ("task", "subtask", "note") and key[1] == name) or (
            key[0] == "link" and key[2] == name
        )
    if kind == "session":
        return key[0] in ("session", "link") and key[1] == name
    return key[:3] == entity[:3]  # a subtask's own keys


def _initial(key: Key) -> Any:
    """What a key holds before the writer first acknowledged anything for it."""
    if key[-1] == "exists" or key[0] in ("link", "note", "hotnote"):
        return False
    return ABSENT


# -- the writers ---------------------------------------------------------------------


@dataclass
class Shared:
    """The torture's project and the hot entities every writer fights over."""

    project: str
    hot_tasks: list[str]
    hot_sessions: list[str]


@dataclass
class Writer:
    index: int
    shared: Shared
    ledger: Ledger = field(default_factory=Ledger)
    counter: int = 0
    pending: Op | None = None  # sent, not answered: its outcome is unknown
    acked: int = 0  # writes acknowledged in this cycle
    acked_emitting: int = 0
    unexpected: list[str] = field(default_factory=list)  # answers no writer should get

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}w{self.index}-{self.counter}"

    def run(self, url: str, rng: random.Random, stop: threading.Event) -> None:
        """Write until ``stop`` or until the server goes away."""
        with httpx.Client(base_url=url, timeout=10) as api:
            while not stop.is_set():
                op = self.pick(rng)
                self.pending = op
                try:
                    response = api.request(op.method, op.path, json=op.body)
                except httpx.TransportError:
                    return  # killed: ``pending`` stays, its outcome unknown
                self.pending = None
                if 200 <= response.status_code < 300:
                    if op.learn is not None:
                        op.learn(response.json())
                    self.ledger.acknowledge(op)
                    self.acked += 1
                    self.acked_emitting += op.emits
                elif not op.changes and response.status_code == 404:
                    pass  # a hot entity another writer just unlinked: fair
                else:
                    self.unexpected.append(
                        f"{op.name} {op.path} -> {response.status_code} {response.text[:200]}"
                    )

    # Each op: the request, and the writer's keys it sets if it lands.

    def pick(self, rng: random.Random) -> Op:
        tasks = self.ledger.live("task")
        sessions = self.ledger.live("session")
        if not tasks or (len(tasks) < 3 and rng.random() < 0.5):
            return self.create_task(rng)
        makers: list[tuple[int, Callable[[random.Random, list[str], list[str]], Op]]] = [
            (3 if len(tasks) < OWN_TASKS else 1, lambda r, t, s: self.create_task(r)),
            (4, self.patch_task),
            (3, self.note),
            (3, self.hot_note),
            (2, self.create_subtask),
            (2, self.toggle_subtask),
            (2 if len(sessions) < OWN_SESSIONS else 0, self.create_session),
            (2, self.link),
            (2, self.unlink),
            (1, self.patch_session),
            (1, self.set_task_sessions),
            (1, self.set_session_tasks),
            (1 if len(tasks) < OWN_TASKS else 4, self.delete_task),
            (1 if len(sessions) < OWN_SESSIONS else 3, self.delete_session),
            (3, self.hot_links),
        ]
        weights = [w for w, _ in makers]
        make = rng.choices([m for _, m in makers], weights)[0]
        return make(rng, tasks, sessions)

    def create_task(self, rng: random.Random) -> Op:
        title = self.name("")
        description, priority = f"d{self.counter}", rng.choice(PRIORITIES)

        def learn(task: Any) -> None:
            self.ledger.task_ids[title] = task["id"]

        body = {
            "projectId": self.shared.project,
            "title": title,
            "description": description,
            "priority": priority,
        }
        changes: dict[Key, Any] = {
            ("task", title, "exists"): True,
            ("task", title, "description"): description,
            ("task", title, "status"): "pending",
            ("task", title, "priority"): priority,
        }
        return Op("create task", "POST", "/api/tasks", body, changes, learn=learn)

    def patch_task(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        title = rng.choice(tasks)
        self.counter += 1
        body = {
            "description": f"d{self.counter}",
            "status": rng.choice(TASK_STATUSES),
            "priority": rng.choice(PRIORITIES),
        }
        changes: dict[Key, Any] = {("task", title, k): v for k, v in body.items()}
        return Op("patch task", "PATCH", self.task_path(title), body, changes)

    def note(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        title, message = rng.choice(tasks), self.name("note ")
        path = f"{self.task_path(title)}/timeline"
        return Op("note", "POST", path, {"message": message}, {("note", title, message): True})

    def hot_note(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        message = self.name("hot ")
        body = {"timeline": [{"type": "update", "message": message}]}
        path = f"/api/tasks/{self.shared.hot_tasks[0]}"
        return Op("hot note", "PATCH", path, body, {("hotnote", message): True})

    def create_subtask(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        task, title = rng.choice(tasks), self.name("step ")

        def learn(subtask: Any) -> None:
            self.ledger.subtask_ids[task, title] = subtask["id"]

        changes: dict[Key, Any] = {
            ("subtask", task, title, "exists"): True,
            ("subtask", task, title, "completed"): False,
        }
        path = f"{self.task_path(task)}/subtasks"
        return Op("create subtask", "POST", path, {"title": title}, changes, learn=learn)

    def toggle_subtask(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        task = rng.choice(tasks)
        steps = self.ledger.live_subtasks(task)
        if not steps:
            return self.create_subtask(rng, tasks, sessions)
        title = rng.choice(steps)
        done = not self.ledger.values[("subtask", task, title, "completed")].acked
        path = f"{self.task_path(task)}/subtasks/{self.ledger.subtask_ids[task, title]}"
        changes: dict[Key, Any] = {("subtask", task, title, "completed"): done}
        return Op("toggle subtask", "PATCH", path, {"completed": done}, changes)

    def create_session(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        session, task = self.name("sess-"), rng.choice(tasks)
        body = {
            "id": session,
            "projectId": self.shared.project,
            "taskIds": [self.ledger.task_ids[task]],
        }
        changes: dict[Key, Any] = {
            ("session", session, "exists"): True,
            ("session", session, "status"): "running",
            ("link", session, task): True,
        }
        return Op("create session", "POST", "/api/sessions", body, changes)

    def link(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        if not sessions:
            return self.create_session(rng, tasks, sessions)
        session, task = rng.choice(sessions), rng.choice(tasks)
        path = f"/api/sessions/{session}/tasks/{self.ledger.task_ids[task]}"
        emits = not self.ledger.linked(session, task)
        return Op("link", "POST", path, None, {("link", session, task): True}, emits=emits)

    def unlink(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        if not sessions:
            return self.create_session(rng, tasks, sessions)
        session, task = rng.choice(sessions), rng.choice(tasks)
        path = f"/api/sessions/{session}/tasks/{self.ledger.task_ids[task]}"
        emits = self.ledger.linked(session, task)
        return Op("unlink", "DELETE", path, None, {("link", session, task): False}, emits=emits)

    def patch_session(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        if not sessions:
            return self.create_session(rng, tasks, sessions)
        session, status = rng.choice(sessions), rng.choice(SESSION_STATUSES)
        changes: dict[Key, Any] = {("session", session, "status"): status}
        path = f"/api/sessions/{session}"
        return Op("patch session", "PATCH", path, {"status": status}, changes)

    def set_task_sessions(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        task = rng.choice(tasks)
        wanted = rng.sample(sessions, rng.randint(0, len(sessions)))
        changes: dict[Key, Any] = {("link", s, task): s in wanted for s in sessions}
        body = {"sessionIds": wanted}
        return Op("set sessionIds", "PATCH", self.task_path(task), body, changes)

    def set_session_tasks(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        if not sessions:
            return self.create_session(rng, tasks, sessions)
        session = rng.choice(sessions)
        wanted = rng.sample(tasks, rng.randint(0, min(3, len(tasks))))
        changes: dict[Key, Any] = {("link", session, t): t in wanted for t in tasks}
        body = {"taskIds": [self.ledger.task_ids[t] for t in wanted]}
        return Op("set taskIds", "PATCH", f"/api/sessions/{session}", body, changes)

    def delete_task(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        task = rng.choice(tasks)
        changes: dict[Key, Any] = {("task", task, "exists"): False}
        changes |= {("link", s, task): False for s in sessions}
        changes |= {("subtask", task, s, "exists"): False for s in self.ledger.live_subtasks(task)}
        return Op("delete task", "DELETE", self.task_path(task), None, changes)

    def delete_session(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        if not sessions:
            return self.create_session(rng, tasks, sessions)
        session = rng.choice(sessions)
        changes: dict[Key, Any] = {("session", session, "exists"): False}
        changes |= {("link", session, t): False for t in tasks}
        return Op("delete session", "DELETE", f"/api/sessions/{session}", None, changes)

    def hot_links(self, rng: random.Random, tasks: list[str], sessions: list[str]) -> Op:
        """All writers link, unlink and re-set the same few pairs: only symmetry is checked."""
        session, task = rng.choice(self.shared.hot_sessions), rng.choice(self.shared.hot_tasks)
        choice = rng.randrange(4)
        if choice == 0:
            return Op(
                "hot link", "POST", f"/api/sessions/{session}/tasks/{task}", None, {}, emits=False
            )
        if choice == 1:
            return Op(
                "hot unlink",
                "DELETE",
                f"/api/sessions/{session}/tasks/{task}",
                None,
                {},
                emits=False,
            )
        if choice == 2:
            wanted = rng.sample(self.shared.hot_sessions, rng.randint(0, HOT))
            return Op("hot sessionIds", "PATCH", f"/api/tasks/{task}", {"sessionIds": wanted}, {})
        wanted = rng.sample(self.shared.hot_tasks, rng.randint(0, HOT))
        return Op("hot taskIds", "PATCH", f"/api/sessions/{session}", {"taskIds": wanted}, {})

    def task_path(self, title: str) -> str:
        return f"/api/tasks/{self.ledger.task_ids[title]}"


# -- what the store holds --------------------------------------------------------------


@dataclass
class Stored:
    """The whole store as the API shows it after a restart."""

    tasks: dict[str, dict[str, Any]]
    sessions: dict[str, dict[str, Any]]
    by_title: dict[str, dict[str, Any]]
    messages: set[str]  # of every timeline entry of every task
    health: dict[str, Any]

    @classmethod
    def fetch(cls, api: httpx.Client) -> Stored:
        tasks = {t["id"]: t for t in api.get("/api/tasks").json()}
        sessions = {s["id"]: s for s in api.get("/api/sessions").json()}
        by_title = {t["title"]: t for t in tasks.values()}
        messages = {e.get("message") or "" for t in tasks.values() for e in t["timeline"]}
        return cls(tasks, sessions, by_title, messages, api.get("/health").json())

    def value(self, key: Key) -> Any:
        """What the store holds for ``key``; ``ABSENT`` if the entity it is under is gone."""
        kind = key[0]
        if kind == "hotnote":
            return key[1] in self.messages
        if kind == "session":
            session = self.sessions.get(key[1])
            if key[2] == "exists":
                return session is not None
            return ABSENT if session is None else session[key[2]]
        if kind == "link":
            session, task = self.sessions.get(key[1]), self.by_title.get(key[2])
            if session is None or task is None:
                return ABSENT
            return task["id"] in session["taskIds"]
        task = self.by_title.get(key[1])
        if kind == "task":
            if key[2] == "exists":
                return task is not None
            return ABSENT if task is None else task[key[2]]
        if task is None:
            return ABSENT
        if kind == "note":
            return any(e.get("message") == key[2] for e in task["timeline"])
        subtask = next((s for s in task["subtasks"] if s["title"] == key[2]), None)
        if key[3] == "exists":
            return subtask is not None
        return ABSENT if subtask is None else subtask[key[3]]


# -- the report --------------------------------------------------------------------------


@dataclass
class Report:
    cycles: int = 0
    startup_kills: int = 0
    writes_checked: int = 0  # acknowledged writes whose effects were verified
    in_flight: int = 0  # requests in flight at a kill
    in_flight_landed: int = 0  # of those, the ones the store holds
    lost: int = 0  # acknowledged values not in the store
    phantoms: int = 0  # things in the store no writer sent
    unparsable: int = 0  # .json files or event log lines that do not parse
    leftover_temp_files: int = 0  # temp files right after a kill (removed on start)
    torn_event_lines: int = 0  # a torn last line of events.jsonl right after a kill
    repaired_links: int = 0  # link repairs logged at start-up
    invariant_failures: int = 0  # asymmetric links, missing stamps, seq gaps...
    unexpected_answers: int = 0  # 4xx/5xx to a writer's own request
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    once: set[str] = field(default_factory=set)  # problems that stay visible across cycles

    def fail(self, counter: str, message: str, once: str | None = None) -> None:
        """Count a failure; one with a ``once`` key only the first time it is seen."""
        if once is not None:
            if once in self.once:
                return
            self.once.add(once)
        setattr(self, counter, getattr(self, counter) + 1)
        if len(self.failures) < 50:
            self.failures.append(f"cycle {self.cycles}: {message}")

    def summary(self) -> str:
        return (
            f"crash torture: {self.cycles} cycles ({self.startup_kills} kills during start-up) "
            f"in {self.seconds:.0f}s, {self.writes_checked} acknowledged writes checked, "
            f"{self.lost} lost, {self.unparsable} unparsable, {self.phantoms} phantom, "
            f"{self.invariant_failures} invariant failures, "
            f"{self.unexpected_answers} unexpected answers; "
            f"{self.in_flight} requests in flight at a kill ({self.in_flight_landed} landed), "
            f"{self.leftover_temp_files} temp files and {self.torn_event_lines} torn event "
            f"lines left by kills, {self.repaired_links} link repairs at start-up"
        )

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.unparsable
            or self.phantoms
            or self.invariant_failures
            or self.unexpected_answers
        )


# -- one torture run ---------------------------------------------------------------------


def setup(api: httpx.Client) -> Shared:
    def create(path: str, body: dict[str, Any]) -> str:
        response = api.post(path, json=body)
        response.raise_for_status()
        made: str = response.json()["id"]
        return made

    project = create("/api/projects", {"name": "Crash torture"})
    hot_tasks = [
        create("/api/tasks", {"projectId": project, "title": f"hot {i}"}) for i in range(HOT)
    ]
    hot_sessions = [
        create("/api/sessions", {"projectId": project, "taskIds": []}) for _ in range(HOT)
    ]
    return Shared(project, hot_tasks, hot_sessions)


def torture(
    server: Server,
    cycles: int,
    writers: int = 6,
    seed: int = 0,
    max_delay: float = 0.4,
    startup_kill_rate: float = 0.15,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Run ``cycles`` kill/restart cycles against a started ``server``."""
    rng = random.Random(seed)
    report = Report()
    started = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        shared = setup(api)
        latest_seq = api.get("/health").json()["latestSeq"]
    team = [Writer(i, shared) for i in range(writers)]
    log_mark = len(server.log())

    for cycle in range(1, cycles + 1):
        report.cycles = cycle
        for writer in team:
            writer.acked = writer.acked_emitting = 0
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=writer.run, args=(server.url, random.Random(rng.random()), stop)
            )
            for writer in team
        ]
        for thread in threads:
            thread.start()
        _wait_for_acks(team, 10 * writers)
        time.sleep(rng.uniform(0, max_delay))
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(15)

        _check_files_after_kill(server.data_dir, report)
        if rng.random() < startup_kill_rate:
            report.startup_kills += 1
            server.launch()
            time.sleep(rng.uniform(0, 0.6))
            server.kill()
        server.start()

        with httpx.Client(base_url=server.url, timeout=30) as api:
            stored = Stored.fetch(api)
        log = server.log()
        report.repaired_links += log.count("repaired the task/session links", log_mark)
        if "Traceback" in log[log_mark:]:
            report.fail("invariant_failures", "the server log shows a traceback")
        log_mark = len(log)
        latest_seq = _check_cycle(server, team, stored, latest_seq, report)
        if len(stored.tasks[shared.hot_tasks[0]]["timeline"]) > HOT_TIMELINE:
            latest_seq = _rotate_hot_task(server, shared, team, cycle)
        report.seconds = time.monotonic() - started
        if progress is not None and (cycle % 10 == 0 or cycle == cycles):
            progress(f"cycle {cycle}/{cycles}: " + report.summary().split(": ", 1)[1])
    return report


def _rotate_hot_task(server: Server, shared: Shared, team: list[Writer], cycle: int) -> int:
    """Replace the hot task before its timeline makes every write of it slow (each
    write rewrites the whole file, and each event carries the whole task)."""
    with httpx.Client(base_url=server.url, timeout=30) as api:
        body = {"projectId": shared.project, "title": f"hot 0 of cycle {cycle}"}
        fresh = api.post("/api/tasks", json=body)
        fresh.raise_for_status()
        api.delete(f"/api/tasks/{shared.hot_tasks[0]}").raise_for_status()
        shared.hot_tasks[0] = fresh.json()["id"]
        for writer in team:
            for key in [k for k in writer.ledger.values if k[0] == "hotnote"]:
                del writer.ledger.values[key]
        return int(api.get("/health").json()["latestSeq"])


def _wait_for_acks(team: list[Writer], count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(w.acked for w in team) < count and time.monotonic() < deadline:
        time.sleep(0.005)


def _check_cycle(
    server: Server, team: list[Writer], stored: Stored, latest_seq: int, report: Report
) -> int:
    """Check everything after a restart; return the new latest ``seq``."""
    emitted = 0
    for writer in team:
        for failure in writer.unexpected:
            report.fail("unexpected_answers", f"writer {writer.index}: {failure}")
        writer.unexpected.clear()
        if writer.pending is not None:
            report.in_flight += 1
            writer.ledger.in_flight(writer.pending)
            if any(
                stored.value(k) == v and writer.ledger.values[k].acked != v
                for k, v in writer.pending.changes.items()
            ):
                report.in_flight_landed += 1
        _check_ledger(writer, stored, report)
        report.writes_checked += writer.acked
        emitted += writer.acked_emitting
        writer.pending = None
    _check_phantoms(team, stored, report)
    _check_invariants(stored, report)
    _check_files_after_restart(server.data_dir, report)
    seq = stored.health["latestSeq"]
    logged = _last_logged_seq(server.data_dir)
    if seq != logged:
        report.fail("invariant_failures", f"latest seq {seq} but events.jsonl ends at {logged}")
    if seq < latest_seq + emitted:
        report.fail(
            "lost",
            f"latest seq {seq} < {latest_seq} + {emitted} events of acknowledged writes",
        )
    return int(seq)


def _check_ledger(writer: Writer, stored: Stored, report: Report) -> None:
    """Every key holds its acknowledged value or the in-flight one; then settle on it."""
    ledger = writer.ledger
    for key, expectation in list(ledger.values.items()):
        value = stored.value(key)
        if value == ABSENT:
            del ledger.values[key]  # what it is under is gone; that one's key says if rightly
            continue
        if not expectation.allows(value):
            report.fail(
                "lost",
                f"writer {writer.index}: {key} is {value!r}, acknowledged "
                f"{expectation.acked!r}"
                + (f", in flight {expectation.maybe!r}" if expectation.maybe else ""),
            )
        if key[-1] == "exists" and value is False:
            del ledger.values[key]
            continue
        ledger.values[key] = Expectation(value)
    # Learn the ids of creates that landed while their answer was lost.
    for key in ledger.values:
        if key[0] == "task" and key[2] == "exists":
            ledger.task_ids[key[1]] = stored.by_title[key[1]]["id"]
        elif key[0] == "subtask" and key[3] == "exists":
            task = stored.by_title[key[1]]
            subtask = next(s for s in task["subtasks"] if s["title"] == key[2])
            ledger.subtask_ids[key[1], key[2]] = subtask["id"]


def _check_phantoms(team: list[Writer], stored: Stored, report: Report) -> None:
    """Whatever bears a writer's mark must be something that writer sent."""
    known: set[Key] = set()
    for writer in team:
        known |= set(writer.ledger.values)
    for title, task in stored.by_title.items():
        if title.startswith("hot "):
            mine = [
                e["message"]
                for e in task["timeline"]
                if (e.get("message") or "").startswith("hot w")
            ]
            for message in mine:
                if ("hotnote", message) not in known:
                    report.fail("phantoms", f"timeline entry {message!r} nobody acknowledged")
            continue
        if ("task", title, "exists") not in known:
            report.fail("phantoms", f"task {title!r} that no writer sent")
            continue
        for entry in task["timeline"]:
            message = entry.get("message") or ""
            if message.startswith("note w") and ("note", title, message) not in known:
                report.fail("phantoms", f"timeline entry {message!r} of {title!r}")
        for subtask in task["subtasks"]:
            if ("subtask", title, subtask["title"], "exists") not in known:
                report.fail("phantoms", f"subtask {subtask['title']!r} of {title!r}")
    for session_id in stored.sessions:
        if session_id.startswith("sess-w") and ("session", session_id, "exists") not in known:
            report.fail("phantoms", f"session {session_id!r} that no writer sent")


def _check_invariants(stored: Stored, report: Report) -> None:
    from_tasks = {(s, t["id"]) for t in stored.tasks.values() for s in t["sessionIds"]}
    from_sessions = {(s["id"], t) for s in stored.sessions.values() for t in s["taskIds"]}
    for session, task in sorted(from_tasks ^ from_sessions):
        report.fail("invariant_failures", f"link {session} <-> {task} recorded on one side only")
    for session, task in from_tasks | from_sessions:
        if session not in stored.sessions or task not in stored.tasks:
            report.fail("invariant_failures", f"dangling link {session} <-> {task}")
    for task in stored.tasks.values():
        if len(set(task["sessionIds"])) != len(task["sessionIds"]):
            report.fail("invariant_failures", f"task {task['id']} lists a session twice")
        if task["status"] == "in_progress" and task["startedAt"] is None:
            report.fail("invariant_failures", f"task {task['id']} in progress without startedAt")
        if task["status"] == "completed" and task["completedAt"] is None:
            report.fail("invariant_failures", f"task {task['id']} completed without completedAt")
        if not task["timeline"] or task["timeline"][0]["type"] != "created":
            report.fail("invariant_failures", f"task {task['id']} timeline lost its start")
    for session in stored.sessions.values():
        if len(set(session["taskIds"])) != len(session["taskIds"]):
            report.fail("invariant_failures", f"session {session['id']} lists a task twice")
        if session["status"] in ("completed", "failed") and session["completedAt"] is None:
            report.fail("invariant_failures", f"session {session['id']} ended without completedAt")
    counts = stored.health.get("counts", {})
    if counts.get("tasks") != len(stored.tasks) or counts.get("sessions") != len(stored.sessions):
        report.fail("invariant_failures", f"/health counts {counts} disagree with the lists")


# -- the files ---------------------------------------------------------------------------


def _entity_files(data_dir: Path) -> Iterator[Path]:
    for folder in ("projects", "tasks", "sessions"):
        root = data_dir / folder
        if root.exists():
            yield from (p for p in root.rglob("*") if p.is_file())


def _check_files_after_kill(data_dir: Path, report: Report) -> None:
    """Right after the kill, before anything repairs it: every file in place is whole.
    Temp files (unfinished writes) and a torn last event line are allowed here."""
    for path in _entity_files(data_dir):
        if ".tmp-" in path.name:
            report.leftover_temp_files += 1
            continue
        try:
            json.loads(path.read_bytes())
        except ValueError as error:
            report.fail("unparsable", f"{path.relative_to(data_dir)} after the kill: {error}")
    raw = (data_dir / "events.jsonl").read_bytes() if (data_dir / "events.jsonl").exists() else b""
    lines = raw.split(b"\n")
    if lines[-1]:  # no newline at the end: the last write was cut short
        report.torn_event_lines += 1
    _check_event_lines(lines[:-1], report, "after the kill")


def _check_files_after_restart(data_dir: Path, report: Report) -> None:
    for path in _entity_files(data_dir):
        if ".tmp-" in path.name:
            report.fail("invariant_failures", f"temp file {path.name} survived the restart")
            continue
        try:
            json.loads(path.read_bytes())
        except ValueError as error:
            report.fail("unparsable", f"{path.relative_to(data_dir)}: {error}")
    quarantine = data_dir / ".quarantine"
    if quarantine.exists():
        for path in quarantine.iterdir():
            report.fail("unparsable", f"{path.name} was quarantined at start-up")
            path.unlink()  # report each once
    raw = (data_dir / "events.jsonl").read_bytes()
    lines = raw.split(b"\n")
    if lines[-1]:
        report.fail(
            "unparsable",
            f"events.jsonl still ends in a torn line after the restart: {lines[-1][:80]!r}",
            once=f"torn {lines[-1]!r}",
        )
    _check_event_lines(lines[:-1], report, "after the restart")


def _check_event_lines(lines: list[bytes], report: Report, when: str) -> None:
    previous = None
    for number, raw in enumerate(lines, 1):
        try:
            seq = json.loads(raw)["seq"]
        except (ValueError, KeyError, TypeError):
            report.fail(
                "unparsable",
                f"events.jsonl line {number} {when}: {raw[:80]!r}",
                once=f"line {raw!r}",
            )
            continue
        if previous is not None and seq != previous + 1:
            report.fail(
                "invariant_failures",
                f"events.jsonl line {number} {when}: seq {seq} after {previous}",
                once=f"seq {previous} {seq} {raw!r}",
            )
        previous = seq


def _last_logged_seq(data_dir: Path) -> int:
    lines = (data_dir / "events.jsonl").read_bytes().rstrip(b"\n").split(b"\n")
    for raw in reversed(lines):
        try:
            return int(json.loads(raw)["seq"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0
