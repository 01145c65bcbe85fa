// The sessions of a project: status, what needs a person (attention), role,
// agent, tasks, its git branch, start and last activity, what the agent spent
// (once it reported), what changed on its branch (once the agent exited), each
// session's events, its live activity pane, and for a finished one a follow-up
// box; "Active only" hides finished ones.
//
// Each session keeps its row element for as long as it is listed: the part
// that shows the session is redrawn when the session changes, while the
// activity pane (which holds a WebSocket while open) and the follow-up box (a
// draft being typed) stay where they are.

import { fill, h } from "../dom.js";
import {
  FINISHED_SESSION_STATUSES,
  absolute,
  ago,
  attentionLabel,
  cost,
  count,
  duration,
  label,
  tokenBreakdown,
} from "../format.js";
import { isDispatched } from "../dispatch.js";
import { href } from "../router.js";
import { ActivityPane } from "./activity.js";
import { FollowUpBox } from "./follow-up.js";
import { deleteSessionDialog } from "./forms.js";
import { branchLabel, changeSummary, worktreeNotes } from "./worktree.js";

const isActive = (session) => !FINISHED_SESSION_STATUSES.has(session.status);

export class SessionsView {
  /** onOpenInbox(): show the approvals waiting (from a session's attention badge). */
  constructor(actions, { onOpenInbox }) {
    this.actions = actions;
    this.onOpenInbox = onOpenInbox;
    this.activeOnly = false;
    this.openEvents = new Set(); // session ids whose events list is expanded
    this.openChanges = new Set(); // session ids whose changed files are listed
    this.rows = new Map(); // session id -> SessionRow
    this.selectedId = null;
    this.summary = h("span", { class: "muted", "data-testid": "sessions-count" });
    const filter = h("input", {
      type: "checkbox",
      "data-testid": "sessions-active-only",
      onchange: (event) => {
        this.activeOnly = event.target.checked;
        this.render(this.model, this.project, this.selectedId);
      },
    });
    this.list = h("div", { class: "session-list", "data-testid": "session-list" });
    this.empty = h("p", { class: "empty muted" });
    this.el = h(
      "section",
      { class: "sessions-view", "data-testid": "sessions-view", "aria-label": "Sessions" },
      h("div", { class: "sessions-toolbar" }, h("label", { class: "checkbox" }, filter, h("span", {}, "Active only")), this.summary),
      this.list,
    );
  }

  /** `selectedId`: the session the route points at (#/projects/<id>/sessions/<sid>). */
  render(model, project, selectedId = null) {
    this.model = model;
    this.project = project;
    const all = model.sessionsOf(project.id);
    const shown = this.activeOnly ? all.filter(isActive) : all;
    const active = all.filter(isActive).length;
    this.summary.textContent = `${all.length} session(s), ${active} active`;

    const listed = new Set(all.map((s) => s.id));
    for (const [id, row] of this.rows) {
      if (!listed.has(id)) {
        row.dispose();
        this.rows.delete(id);
      }
    }
    const els = shown.map((session) => {
      let row = this.rows.get(session.id);
      if (!row) {
        row = new SessionRow(session, this);
        this.rows.set(session.id, row);
      }
      row.update(session, session.id === selectedId);
      return row.el;
    });
    const shownIds = new Set(shown.map((s) => s.id));
    for (const [id, row] of this.rows) if (!shownIds.has(id)) row.hide();

    this.empty.textContent =
      this.activeOnly && all.length ? "No active sessions." : "No sessions yet. Open a task and spawn a worker.";
    const children = els.length ? els : [this.empty];
    children.forEach((el, index) => {
      if (this.list.children[index] !== el) this.list.insertBefore(el, this.list.children[index] ?? null);
    });
    while (this.list.children.length > children.length) this.list.lastElementChild.remove();
    for (const time of this.list.querySelectorAll("time[data-ago]")) time.textContent = ago(Number(time.dataset.ago));

    if (selectedId !== this.selectedId) {
      this.selectedId = selectedId;
      this.rows.get(selectedId)?.el.scrollIntoView({ block: "nearest" });
    }
  }

  /** The view left the screen: close the activity panes (and their sockets). */
  leave() {
    for (const row of this.rows.values()) row.hide();
  }
}

class SessionRow {
  constructor({ id: sessionId, projectId }, view) {
    this.id = sessionId;
    this.view = view;
    this.signature = null;
    this.body = h("div", { class: "session-body" });
    this.activity = new ActivityPane(sessionId, projectId);
    this.followUp = new FollowUpBox(sessionId, () => view.model.sessions.get(sessionId), view.actions);
    this.el = h(
      "article",
      { class: "session", "data-testid": "session-row", "data-session-id": sessionId },
      this.body,
      this.activity.el,
      this.followUp.el,
    );
  }

  update(session, selected) {
    const model = this.view.model;
    const tasks = session.taskIds.map((id) => model.tasks.get(id)).filter(Boolean);
    this.el.dataset.status = session.status;
    this.el.dataset.attention = session.attention ?? "";
    this.el.classList.toggle("selected", selected);
    this.followUp.el.hidden = !FINISHED_SESSION_STATUSES.has(session.status);
    const signature = JSON.stringify([session.lastActivity, session.status, session.attention, tasks.map((t) => [t.id, t.title])]);
    if (signature === this.signature) return;
    this.signature = signature;
    fill(this.body, this.content(session, tasks));
  }

  hide() {
    this.activity.close();
  }

  dispose() {
    this.activity.close();
    this.el.remove();
  }

  content(session, tasks) {
    const view = this.view;
    const meta = session.metadata ?? {};
    const events = [...session.events].reverse();
    const details = h(
      "details",
      { class: "session-events", "data-testid": "session-events", open: view.openEvents.has(session.id) },
      h("summary", { "data-focus-key": `session-events-${session.id}` }, `Events (${events.length})`),
      events.length
        ? h(
            "ol",
            {},
            events.map((event) =>
              h(
                "li",
                { "data-testid": "session-event" },
                time(event.timestamp),
                h("code", { class: "event-type" }, event.type),
                event.data == null ? null : h("span", { class: "event-data" }, summarize(event.data)),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No events."),
    );
    details.addEventListener("toggle", () => {
      if (details.open) view.openEvents.add(session.id);
      else view.openEvents.delete(session.id);
    });
    const followUpOf = meta.followUpOf ? view.model.sessions.get(meta.followUpOf) : null;
    return [
      h(
        "header",
        { class: "session-head" },
        h("h3", { "data-testid": "session-name" }, session.name || session.id),
        attentionBadge(session, view.onOpenInbox),
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
            onclick: () => deleteSessionDialog(view.actions, session),
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
        meta.branch ? item("Branch", branchLabel(session), null, "wide") : null,
        item("Started", time(session.startedAt), "session-started"),
        item("Last activity", time(session.lastActivity), "session-last-activity"),
        item("Id", h("code", {}, session.id)),
        meta.followUpOf
          ? item(
              "Follows up",
              h(
                "a",
                { href: href({ projectId: session.projectId, view: "sessions", sessionId: meta.followUpOf }) },
                followUpOf?.name || meta.followUpOf,
              ),
              "session-follow-up-of",
            )
          : null,
      ),
      isDispatched(session)
        ? h(
            "p",
            { class: "session-dispatch muted", "data-testid": "session-dispatch" },
            "Started by the auto-start dispatcher",
            meta.spawnReason ? ` (${meta.spawnReason})` : "",
          )
        : null,
      usageList(session),
      changeSummary(session, {
        open: view.openChanges.has(session.id),
        onToggle: (open) => (open ? view.openChanges.add(session.id) : view.openChanges.delete(session.id)),
      }),
      worktreeNotes(session),
      details,
    ];
  }
}

/** Why the session needs a person; an approval badge opens the inbox. */
function attentionBadge(session, onOpenInbox) {
  if (!session.attention) return null;
  const props = {
    class: `badge attention attention-${session.attention}`,
    "data-testid": "session-attention",
    "data-attention": session.attention,
  };
  const text = `⚑ ${attentionLabel(session.attention)}`;
  if (session.attention !== "approval") return h("span", props, text);
  return h(
    "button",
    { ...props, type: "button", title: "Open the inbox", "data-focus-key": `session-attention-${session.id}`, onclick: onOpenInbox },
    text,
  );
}

function time(ms) {
  return h("time", { datetime: ms ? new Date(ms).toISOString() : null, title: absolute(ms), "data-ago": ms }, ago(ms));
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
