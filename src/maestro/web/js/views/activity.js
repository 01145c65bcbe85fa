// A session's activity pane (in the sessions view): the agent's messages and
// tool calls, a line each, following live while the pane is open. Opening it
// starts the feed (and its WebSocket); closing it stops both. Only the last
// MAX_ENTRIES lines are kept, and the log scrolls along when it was at the
// bottom, so reading further up is not interrupted.

import { ActivityFeed } from "../activity.js";
import { h, srOnly } from "../dom.js";
import { absolute, clock } from "../format.js";

const MAX_ENTRIES = 1000;
const KIND_MARKS = { tool: "→", status: "●", assistant: "" };
const STATES = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  failed: "Could not load the activity",
};

export class ActivityPane {
  constructor(sessionId, projectId) {
    this.sessionId = sessionId;
    this.projectId = projectId;
    this.feed = null;
    this.count = 0;
    this.state = h("span", { class: "activity-state muted", "data-testid": "activity-state", role: "status" });
    this.log = h("ol", { class: "activity-log", "data-testid": "activity-log", tabindex: "0", "aria-label": "Activity" });
    this.empty = h("p", { class: "muted activity-empty", "data-testid": "activity-empty" }, "Nothing yet.");
    this.el = h(
      "details",
      { class: "session-activity", "data-testid": "session-activity" },
      h("summary", { "data-focus-key": `session-activity-${sessionId}` }, "Activity ", this.state),
      this.empty,
      this.log,
    );
    this.el.addEventListener("toggle", () => (this.el.open ? this.start() : this.stop()));
  }

  start() {
    if (this.feed) return;
    this.clear();
    this.feed = new ActivityFeed(this.sessionId, this.projectId, {
      onEntries: (entries) => this.append(entries),
      onRestart: () => this.clear(),
      onState: (state, err) => this.showState(state, err),
    });
    this.feed.start();
  }

  clear() {
    this.log.replaceChildren();
    this.count = 0;
    this.empty.hidden = false;
  }

  stop() {
    this.feed?.stop();
    this.feed = null;
    this.state.textContent = "";
  }

  /** Close the pane (and its socket): the session left the screen. */
  close() {
    this.el.open = false;
    this.stop();
  }

  showState(state, err) {
    this.state.dataset.state = state;
    this.state.textContent = `· ${STATES[state] ?? state}`;
    this.state.title = err ? `${err.message}${err.code ? ` (${err.code})` : ""}` : "";
  }

  append(entries) {
    const log = this.log;
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    for (const entry of entries) log.append(line(entry));
    this.count += entries.length;
    while (this.count > MAX_ENTRIES) {
      log.firstElementChild.remove();
      this.count -= 1;
    }
    this.empty.hidden = this.count > 0;
    if (atBottom) log.scrollTop = log.scrollHeight;
  }
}

function line(entry) {
  const kind = KIND_MARKS[entry.kind] === undefined ? "assistant" : entry.kind;
  const text = String(entry.text ?? "");
  return h(
    "li",
    { class: `activity-entry activity-${kind}`, "data-testid": "activity-entry", "data-kind": kind, "data-index": entry.index },
    h("time", { datetime: entry.at ? new Date(entry.at).toISOString() : null, title: absolute(entry.at) }, clock(entry.at)),
    // The agent's side already starts its lines with the mark; others may not.
    h("span", { class: "activity-mark", "aria-hidden": "true" }, text.trimStart().startsWith(KIND_MARKS[kind]) ? "" : KIND_MARKS[kind]),
    kind === "tool" ? srOnly("Tool call: ") : null,
    h("span", { class: "activity-text", "data-testid": "activity-text", title: text.length > 80 ? text.slice(0, 2000) : null }, text),
  );
}
