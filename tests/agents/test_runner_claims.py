"""Several runners on one server, their rules in process: each claims before it
opens (so each session is opened once), claims only when it has a free slot,
leaves what asks for labels it lacks, keeps its registration across restarts,
and gives back what it had not opened when it stops.

The queues run against a real ``maestro serve`` with launchers that only record
what they open (``test_runner.FakeLauncher``); real runner processes are in
``tests/e2e/test_runners.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from maestro.agents.runner import NameTaken, RunnerLease, RunnerState, SpawnQueue
from maestro.client import MaestroClient
from tests.agents.test_runner import FakeLauncher, Spawner, session, spawn_session
from tests.conftest import RunningServer

pytestmark = pytest.mark.slow  # a server process

__all__ = ["spawn_session"]  # a fixture, used by the tests below


@pytest.fixture
def client(server: RunningServer) -> Iterator[MaestroClient]:
    with MaestroClient(server.url, retries=0) as made:
        yield made


def runner_queue(
    client: MaestroClient,
    home: Path,
    name: str,
    capacity: int = 2,
    labels: tuple[str, ...] = (),
) -> tuple[SpawnQueue, FakeLauncher]:
    """A runner's queue as ``maestro runner --name NAME`` makes it, with its own
    ``MAESTRO_HOME``, registered."""
    state = RunnerState(home, client.url).load()
    lease = RunnerLease(client, state, capacity, name, labels)
    launcher = FakeLauncher()
    queue = SpawnQueue(client, state, launcher, capacity, runner_env={}, lease=lease)
    lease.register()
    return queue, launcher


def look(*queues: SpawnQueue) -> None:
    """What each runner does on a tick: catch up with the pending spawns, open."""
    for queue in queues:
        queue.catch_up()
        queue.pump()


def test_two_runners_open_each_session_once_within_their_capacity(
    client: MaestroClient, tmp_path: Path, spawn_session: Spawner
) -> None:
    ids = [spawn_session() for _ in range(6)]
    one, opened_one = runner_queue(client, tmp_path / "one", "one")
    two, opened_two = runner_queue(client, tmp_path / "two", "two")

    look(one, two)

    assert len(opened_one.session_ids) == len(opened_two.session_ids) == 2
    assert not set(opened_one.session_ids) & set(opened_two.session_ids)
    # The other two wait unclaimed, for whichever runner has a slot first.
    left = [s for s in ids if s not in opened_one.session_ids + opened_two.session_ids]
    assert [client.get_session(s).metadata.get("runnerId") for s in left] == [None, None]

    for terminal in opened_two.terminals.values():
        terminal.finish()
    look(two, one)
    while len(opened_one.session_ids) + len(opened_two.session_ids) < len(ids):
        for terminal in [*opened_one.terminals.values(), *opened_two.terminals.values()]:
            terminal.finish()
        look(one, two)

    opened = opened_one.session_ids + opened_two.session_ids
    assert sorted(opened) == sorted(ids)  # every one, once
    for session_id in opened_one.session_ids:
        assert client.get_session(session_id).metadata["runnerId"] == one.lease.runner_id


def test_a_spawn_another_runner_claimed_is_not_opened(
    client: MaestroClient, http: httpx.Client, tmp_path: Path, spawn_session: Spawner
) -> None:
    session_id = spawn_session()
    one, opened_one = runner_queue(client, tmp_path / "one", "one")
    two, opened_two = runner_queue(client, tmp_path / "two", "two")
    one.catch_up()
    two.catch_up()  # both queued it

    one.pump()
    two.pump()

    assert opened_one.session_ids == [session_id] and opened_two.session_ids == []
    assert not two.waiting
    two.catch_up()  # and it is not queued again
    assert not two.waiting


def test_a_runner_leaves_spawns_whose_labels_it_lacks(
    client: MaestroClient, tmp_path: Path, spawn_session: Spawner
) -> None:
    needs_gpu = spawn_session(runnerLabels=["gpu"])
    anyone = spawn_session()
    plain, opened_plain = runner_queue(client, tmp_path / "plain", "plain", capacity=4)
    gpu, opened_gpu = runner_queue(client, tmp_path / "gpu", "gpu", 4, ("gpu", "os=linux"))

    look(plain, gpu)

    assert opened_plain.session_ids == [anyone]
    assert opened_gpu.session_ids == [needs_gpu]


def test_a_restarted_runner_takes_back_its_registration_and_opens_what_it_claimed(
    client: MaestroClient, tmp_path: Path, spawn_session: Spawner
) -> None:
    session_id = spawn_session()
    before, _ = runner_queue(client, tmp_path / "one", "one")
    # It claimed, then died before the terminal opened.
    client.claim_session(session_id, before.lease.runner_id or "")
    other, opened_other = runner_queue(client, tmp_path / "two", "two")
    look(other)
    assert opened_other.session_ids == []

    after, opened_after = runner_queue(client, tmp_path / "one", "one")
    look(after)

    assert after.lease.runner_id == before.lease.runner_id
    assert opened_after.session_ids == [session_id]


def test_a_second_runner_of_the_same_name_on_the_same_host_is_refused(
    client: MaestroClient, tmp_path: Path
) -> None:
    runner_queue(client, tmp_path / "one", "twin")

    with pytest.raises(NameTaken, match="start this one with --name NAME"):
        runner_queue(client, tmp_path / "two", "twin")


def test_a_runner_reports_its_open_sessions_and_gives_back_the_rest_when_it_stops(
    client: MaestroClient, http: httpx.Client, tmp_path: Path, spawn_session: Spawner
) -> None:
    opened_id = spawn_session()
    queue, _ = runner_queue(client, tmp_path / "one", "one", capacity=1)
    look(queue)
    queue.lease.beat(queue.running_ids())
    runner = client.get_runner(queue.lease.runner_id or "")
    assert (runner.sessions, runner.load) == ((opened_id,), 1)
    # Claimed, not opened (as if it stopped between the two).
    waiting = spawn_session()
    client.claim_session(waiting, runner.id)

    queue.release()

    assert client.list_runners() == []
    assert "runnerId" not in session(http, waiting)["metadata"]
    # Its terminal is open (the agent about to start): still this runner's.
    assert session(http, opened_id)["metadata"]["runnerId"] == runner.id
