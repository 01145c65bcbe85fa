// The runners (#/runners): every `maestro runner` the server knows, with its
// host, status (a lost one says since when), load against its capacity, labels
// and when it was last heard from.
//
// Load is counted here, from the sessions the page holds, rather than read from
// the runner's `load`: that one is only as of the runner's last event, while a
// claim or a claimed session finishing changes the load with a session event
// and no runner event. The page already holds every session, kept current by
// those events, so counting them (the server's rule: claimed by the runner,
// `metadata.runnerId`, and not finished) follows every change at once and
// costs no request. `lastSeen` is the one thing no event brings (heartbeats are
// silent), so while the view is on screen it reloads the runners every
// REFRESH_MS.

import { fill, h, srOnly } from "../dom.js";
import { FINISHED_SESSION_STATUSES, absolute, ago, label } from "../format.js";

const REFRESH_MS = 15000;

export class RunnersView {
  constructor(notices) {
    this.notices = notices;
    this.model = null;
    this.timer = null;
    this.el = h("section", { class: "runners-view", "data-testid": "runners-view", "aria-labelledby": "runners-title" });
  }

  render(model) {
    this.model = model;
    if (!this.timer && model.live) {
      this.refresh();
      this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    }
    const runners = model.runnerList();
    const active = runners.filter((runner) => runner.status === "active").length;
    const loads = loadsByRunner(model.sessions.values());
    fill(
      this.el,
      h(
        "header",
        { class: "runners-header" },
        h("h1", { id: "runners-title" }, "Runners"),
        runners.length
          ? h("span", { class: "muted", "data-testid": "runners-count" }, `${runners.length} runner(s), ${active} active`)
          : null,
      ),
      runners.length ? table(runners, loads) : model.loaded ? empty() : h("p", { class: "empty" }, "Loading…"),
    );
  }

  /** The view left the screen: stop asking for the runners. */
  leave() {
    clearInterval(this.timer);
    this.timer = null;
  }

  async refresh() {
    try {
      await this.model.refreshRunners();
    } catch (err) {
      // Out of reach: the connection indicator says so already, every 15 s would be noise.
      if (err.status !== 0) this.notices.error("Could not load the runners", err);
    }
  }
}

/** runner id -> how many of its claimed sessions are not finished. */
function loadsByRunner(sessions) {
  const loads = new Map();
  for (const session of sessions) {
    const runnerId = session.metadata?.runnerId;
    if (runnerId && !FINISHED_SESSION_STATUSES.has(session.status)) loads.set(runnerId, (loads.get(runnerId) ?? 0) + 1);
  }
  return loads;
}

function table(runners, loads) {
  const columns = ["Name", "Host", "Status", "Load", "Labels", "Last seen"];
  return h(
    "table",
    { class: "runner-table", "data-testid": "runner-list" },
    h("thead", {}, h("tr", {}, columns.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, runners.map((runner) => row(runner, loads.get(runner.id) ?? 0))),
  );
}

function row(runner, load) {
  const lost = runner.status === "lost";
  return h(
    "tr",
    {
      class: lost ? "runner lost" : "runner",
      "data-testid": "runner-row",
      "data-runner-id": runner.id,
      "data-status": runner.status,
    },
    h("th", { scope: "row", "data-testid": "runner-name" }, runner.name),
    h("td", { "data-testid": "runner-host" }, runner.host),
    h(
      "td",
      {},
      h("span", { class: `badge runner-${runner.status}`, "data-testid": "runner-status" }, label(runner.status)),
      lost && runner.lostAt ? h("span", { class: "runner-lost-at", "data-testid": "runner-lost-at" }, " ", time(runner.lostAt)) : null,
    ),
    h("td", {}, loadBar(load, runner.capacity)),
    h(
      "td",
      { "data-testid": "runner-labels" },
      runner.labels.length ? runner.labels.map((text) => h("code", { class: "runner-label", "data-testid": "runner-label" }, text)) : "—",
    ),
    h("td", { "data-testid": "runner-last-seen" }, time(runner.lastSeen)),
  );
}

/** "2 / 4" and a bar; full when every slot is busy. */
function loadBar(load, capacity) {
  const share = capacity > 0 ? Math.min(1, load / capacity) : 1;
  return h(
    "div",
    {
      class: load >= capacity ? "progress runner-load full" : "progress runner-load",
      "data-testid": "runner-load",
      title: `${load} of ${capacity} session slot(s) busy`,
    },
    h("span", { class: "progress-bar", "aria-hidden": "true" }, h("span", { style: `width: ${Math.round(100 * share)}%` })),
    h("span", { class: "progress-text", "data-testid": "runner-load-text" }, `${load} / ${capacity}`, srOnly(" sessions")),
  );
}

function time(ms) {
  return h("time", { datetime: ms ? new Date(ms).toISOString() : null, title: absolute(ms) }, ago(ms));
}

function empty() {
  return h(
    "div",
    { class: "runners-empty", "data-testid": "runners-empty" },
    h("p", {}, "No runners yet. A runner opens the agents' terminals on its machine; start one where agents should work:"),
    h("pre", {}, h("code", {}, "maestro runner")),
    h(
      "p",
      { class: "muted" },
      "Until one runs, spawned sessions wait as Spawning. ",
      h("code", {}, "maestro runner --help"),
      " tells how to give it a name, a capacity and labels.",
    ),
  );
}
