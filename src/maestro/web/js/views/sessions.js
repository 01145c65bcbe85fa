// The sessions of a project: status, role, agent, tasks, start and last
// activity, what the agent spent (once it reported), and each session's events;
// "Active only" hides finished ones.

import { fill, h } from "../dom.js";
import { FINISHED_SESSION_STATUSES, absolute, ago, cost, count, duration, label, tokenBreakdown } from "../format.js";
import { href } from "../router.js";
import { deleteSessionDialog } from "./forms.js";

const isActive = (session) => !FINISHED_SESSION_STATUSES.has(session.status);

export class SessionsView {
  constructor(actions) {
    this.actions = actions;
    this.activeOnly = false;
    this.openEvents = new Set(); // session ids whose events list is expanded
    this.summary = h("span", { class: "muted", "data-testid": "sessions-count" });
    const filter = h("input", {
      type: "checkbox",
      "data-testid": "sessions-active-only",
      onchange: (event) => {
        this.activeOnly = event.target.checked;
        this.render(this.model, this.project);
      },
    });
    this.list = h("div", { class: "session-list", "data-testid": "session-list" });
    this.el = h(
      "section",
      { class: "sessions-view", "data-testid": "sessions-view", "aria-label": "Sessions" },
      h("div", { class: "sessions-toolbar" }, h("label", { class: "checkbox" }, filter, h("span", {}, "Active only")), this.summary),
      this.list,
    );
  }

  render(model, project) {
    this.model = model;
    this.project = project;
    const all = model.sessionsOf(project.id);
    const shown = this.activeOnly ? all.filter(isActive) : all;
    const active = all.filter(isActive).length;
    this.summary.textContent = `${all.length} session(s), ${active} active`;
    fill(
      this.list,
      shown.length
        ? shown.map((s) => this.row(model, s))
        : h(
            "p",
            { class: "empty muted" },
            this.activeOnly && all.length ? "No active sessions." : "No sessions yet. Open a task and spawn a worker.",
          ),
    );
  }

  row(model, session) {
    const meta = session.metadata ?? {};
    const events = [...session.events].reverse();
    const details = h(
      "details",
      { class: "session-events", "data-testid": "session-events", open: this.openEvents.has(session.id) },
      h("summary", { "data-focus-key": `session-events-${session.id}` }, `Events (${events.length})`),
      events.length
        ? h(
            "ol",
            {},
            events.map((event) =>
              h(
                "li",
                { "data-testid": "session-event" },
                h("time", { datetime: new Date(event.timestamp).toISOString(), title: absolute(event.timestamp) }, ago(event.timestamp)),
                h("code", { class: "event-type" }, event.type),
                event.data == null ? null : h("span", { class: "event-data" }, summarize(event.data)),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No events."),
    );
    details.addEventListener("toggle", () => {
      if (details.open) this.openEvents.add(session.id);
      else this.openEvents.delete(session.id);
    });
    const tasks = session.taskIds.map((id) => model.tasks.get(id)).filter(Boolean);
    return h(
      "article",
      { class: "session", "data-testid": "session-row", "data-session-id": session.id, "data-status": session.status },
      h(
        "header",
        { class: "session-head" },
        h("h3", { "data-testid": "session-name" }, session.name || session.id),
        h("span", { class: `badge session-${session.status}`, "data-testid": "session-status" }, label(session.status)),
        h(
          "button",
          {
            type: "button",
            class: "icon-button danger",
            "aria-label": `Delete session ${session.name || session.id}`,
            title: "Delete session",
            "data-focus-key": `session-delete-${session.id}`,
            "data-testid": "session-delete",
            onclick: () => deleteSessionDialog(this.actions, session),
          },
          "✕",
        ),
      ),
      h(
        "dl",
        { class: "session-meta" },
        item("Role", meta.role ?? "—", "session-role"),
        item("Agent", [meta.agent ?? session.agentId ?? "—", meta.model].filter(Boolean).join(" · "), "session-agent"),
        item(
          "Tasks",
          tasks.length
            ? tasks.map((t, i) => [i ? ", " : "", h("a", { href: href({ projectId: t.projectId, taskId: t.id }) }, t.title)])
            : "—",
          "session-tasks",
        ),
        item("Started", h("time", { title: absolute(session.startedAt) }, ago(session.startedAt)), "session-started"),
        item("Last activity", h("time", { title: absolute(session.lastActivity) }, ago(session.lastActivity)), "session-last-activity"),
        item("Id", h("code", {}, session.id)),
      ),
      usageList(session),
      details,
    );
  }
}

/** Tokens, cost, turns, duration, model and the agent's own session id, when known. */
function usageList(session) {
  const usage = session.usage;
  if (!usage && !session.agentSessionId) return null;
  return h(
    "dl",
    { class: "session-meta session-usage", "data-testid": "session-usage" },
    usage
      ? [
          item("Cost", cost(usage.costUsd), "session-cost"),
          item("Tokens", tokenBreakdown(usage), "session-tokens", "wide"),
          item("Turns", count(usage.turns), "session-turns"),
          item("Duration", duration(usage.durationMs), "session-duration"),
          item("Model", usage.model ?? "—", "session-model"),
          usage.permissionDenials
            ? item("Permission denials", count(usage.permissionDenials), "session-denials")
            : null,
        ]
      : null,
    session.agentSessionId ? item("Agent session", h("code", {}, session.agentSessionId), "session-agent-session") : null,
  );
}

function item(term, value, testid, className) {
  return h("div", { class: className }, h("dt", {}, term), h("dd", { "data-testid": testid }, value));
}

function summarize(data) {
  if (typeof data === "string") return data;
  const text = JSON.stringify(data);
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}
