"""The runners view (#/runners): every runner with its host, status, load and
labels, kept live by runner and session events."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import RunningServer
from tests.helpers import make_project, ok
from tests.ui.pages import MaestroPage, unique
from tests.ui.seed import claim, register_runner, spawned_session


def iso(ms: int) -> str:
    """A time as the page writes it in ``<time datetime>`` (JavaScript's toISOString)."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def test_the_top_bar_leads_to_the_runners_view(ui: MaestroPage) -> None:
    ui.open_runners()

    expect(ui.page).to_have_url(re.compile(r"#/runners$"))
    expect(ui.page.get_by_test_id("runners-link")).to_have_attribute("aria-current", "page")


def test_the_runners_address_opens_the_view_rather_than_a_project(
    page: Page, shared_server: RunningServer, api: httpx.Client
) -> None:
    make_project(api, name=unique("Elsewhere"))  # a project the page could fall back to

    ui = MaestroPage(page, shared_server.url).open("#/runners")

    expect(ui.page.get_by_test_id("runners-view")).to_be_visible()
    expect(ui.page).to_have_url(re.compile(r"#/runners$"))


def test_without_runners_the_view_says_how_to_start_one(page: Page, server: RunningServer) -> None:
    ui = MaestroPage(page, server.url).open()

    view = ui.open_runners()

    expect(view.get_by_test_id("runners-empty")).to_contain_text("maestro runner")
    expect(view.get_by_test_id("runner-row")).to_have_count(0)


def test_a_runner_shows_its_host_status_load_labels_and_last_seen(
    ui: MaestroPage, api: httpx.Client
) -> None:
    name = unique("Box")
    register_runner(api, name, host="gpu-01", capacity=4, labels=["gpu", "os=linux"])

    row = ui.runner_row(name)
    ui.open_runners()

    expect(row.get_by_test_id("runner-host")).to_have_text("gpu-01")
    expect(row.get_by_test_id("runner-status")).to_have_text("Active")
    expect(row.get_by_test_id("runner-load-text")).to_have_text("0 / 4 sessions")
    expect(row.get_by_test_id("runner-label")).to_have_text(["gpu", "os=linux"])
    expect(row.get_by_test_id("runner-last-seen")).to_have_text("just now")


def test_a_runner_registered_elsewhere_appears_without_a_reload(
    ui: MaestroPage, api: httpx.Client
) -> None:
    view = ui.open_runners()
    name = unique("Late")

    register_runner(api, name)

    expect(view.locator(ui.runner_row(name))).to_be_visible()


def test_a_claim_raises_the_load_live(ui: MaestroPage, api: httpx.Client) -> None:
    runner = register_runner(api, unique("Claims"), capacity=2)
    session_id = spawned_session(api, unique("Claimed"))
    ui.open_runners()
    load = ui.runner_row(runner["name"]).get_by_test_id("runner-load-text")
    expect(load).to_have_text("0 / 2 sessions")

    claim(api, session_id, runner["id"])

    expect(load).to_have_text("1 / 2 sessions")


def test_a_claimed_session_that_finishes_frees_its_slot_live(
    ui: MaestroPage, api: httpx.Client
) -> None:
    # No runner event comes with this: only the session's session:updated.
    runner = register_runner(api, unique("Frees"), capacity=1)
    session_id = spawned_session(api, unique("Finishing"))
    claim(api, session_id, runner["id"])
    ui.open_runners()
    load = ui.runner_row(runner["name"]).get_by_test_id("runner-load-text")
    expect(load).to_have_text("1 / 1 sessions")

    ok(api.patch(f"/api/sessions/{session_id}", json={"status": "completed"}))

    expect(load).to_have_text("0 / 1 sessions")


def test_a_deleted_runner_disappears_without_a_reload(ui: MaestroPage, api: httpx.Client) -> None:
    runner = register_runner(api, unique("Gone"))
    ui.open_runners()
    row = ui.runner_row(runner["name"])
    expect(row).to_be_visible()

    ok(api.delete(f"/api/runners/{runner['id']}"))

    expect(row).to_have_count(0)


def test_a_runner_whose_lease_runs_out_is_shown_lost_and_since_when(
    page: Page, server_factory: Callable[..., RunningServer]
) -> None:
    server = server_factory(MAESTRO_RUNNER_TIMEOUT="2")
    ui = MaestroPage(page, server.url).open()
    ui.open_runners()
    with httpx.Client(base_url=server.url, timeout=10) as api:
        register_runner(api, "Silent")  # and never a heartbeat
    row = ui.runner_row("Silent")
    expect(row.get_by_test_id("runner-status")).to_have_text("Active")

    expect(row).to_have_attribute("data-status", "lost", timeout=10_000)
    expect(row.get_by_test_id("runner-status")).to_have_text("Lost")
    expect(row.get_by_test_id("runner-lost-at")).to_have_text("just now")


def test_last_seen_follows_heartbeats_though_they_send_no_event(
    page: Page, shared_server: RunningServer, api: httpx.Client
) -> None:
    runner = register_runner(api, unique("Beating"))
    page.clock.install()  # to bring the view's next reload of the runners forward
    ui = MaestroPage(page, shared_server.url).open("#/runners")
    seen = ui.runner_row(runner["name"]).get_by_test_id("runner-last-seen").locator("time")
    expect(seen).to_have_attribute("datetime", iso(runner["lastSeen"]))

    time.sleep(0.01)  # a later millisecond
    beat = ok(api.post(f"/api/runners/{runner['id']}/heartbeat", json={}))["runner"]
    page.clock.fast_forward(20_000)

    expect(seen).to_have_attribute("datetime", iso(beat["lastSeen"]))
