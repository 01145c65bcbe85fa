"""Crash torture in CI: a short run of ``tests/stress/torture.py`` (the full 200
cycles: ``benchmarks/crash_torture.py``), and the crash that torture can only
hit by luck: a kill in the middle of an event log append."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningServer
from tests.e2e.wsclient import events_after
from tests.stress.torture import torture

CYCLES = 15

pytestmark = pytest.mark.json_only


@pytest.mark.timeout(150)
def test_kill_9_at_random_moments_loses_no_acknowledged_write(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    report = torture(server, cycles=CYCLES, seed=CYCLES)
    with capsys.disabled():
        print(f"\n{report.summary()}")
    assert report.ok, "\n".join(report.failures)
    assert report.writes_checked > 50 * CYCLES, "the writers hardly wrote anything"


def test_an_event_appended_after_a_torn_log_line_survives_the_next_restart(
    server: RunningServer,
) -> None:
    """A kill in the middle of an append leaves the log's last line cut short (a
    write of more than a page can stop part-way on SIGKILL). The next start must
    not let the next event's line run on from that stump: it would be unreadable
    at the start after, its ``seq`` handed out a second time."""
    with httpx.Client(base_url=server.url, timeout=10) as api:
        api.post("/api/projects", json={"name": "Before"}).raise_for_status()
    server.kill()
    with (server.data_dir / "events.jsonl").open("ab") as log:
        log.write(b'{"seq":2,"projectId":"proj_torn","frame":"{\\"type\\":\\"proj')
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        api.post("/api/projects", json={"name": "After"}).raise_for_status()
    server.stop()
    server.start()

    after = events_after(server.ws_url, 1)
    assert [(e["seq"], e["data"]["name"]) for e in after] == [(2, "After")]
    assert httpx.get(f"{server.url}/health").json()["latestSeq"] == 2
