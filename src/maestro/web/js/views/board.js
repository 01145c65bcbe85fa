// The board: four status columns of task cards. A card moves by drag and drop
// or with its status <select> (the keyboard path). An auto-start task's card
// says what the dispatcher waits for, or when it started it. Cards are kept by
// task id and rebuilt only when what they show changed, so an open control is
// not torn down by an unrelated live update.

import { dispatchStatus } from "../dispatch.js";
import { h, select, srOnly } from "../dom.js";
import { SESSION_ATTENTION, TASK_STATUSES, ago, label } from "../format.js";
import { href } from "../router.js";
import { autoStartLine } from "./auto-start.js";

export class Board {
  constructor(actions) {
    this.actions = actions;
    this.model = null;
    this.cards = new Map(); // task id -> { signature, el }
    this.columns = new Map(); // status -> { list, count }
    this.dragging = null;
    this.el = h(
      "div",
      { class: "board", "data-testid": "board" },
      TASK_STATUSES.map(([status, title]) => this.column(status, title)),
    );
  }

  column(status, title) {
    const headingId = `column-title-${status}`;
    const count = h("span", { class: "count", "data-testid": "column-count" }, "0");
    const list = h("ol", { class: "card-list", "aria-labelledby": headingId });
    const section = h(
      "section",
      { class: `column column-${status}`, "data-testid": `column-${status}`, "data-status": status },
      h("h2", { class: "column-title", id: headingId }, h("span", { class: "dot" }), title, count),
      list,
    );
    section.addEventListener("dragover", (event) => {
      if (!this.dragging) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      section.classList.add("drop-target");
    });
    section.addEventListener("dragleave", (event) => {
      if (!section.contains(event.relatedTarget)) section.classList.remove("drop-target");
    });
    section.addEventListener("drop", (event) => {
      event.preventDefault();
      section.classList.remove("drop-target");
      const taskId = this.dragging ?? event.dataTransfer.getData("text/plain");
      this.dragging = null;
      const task = this.model?.tasks.get(taskId);
      if (task && task.status !== status) this.actions.setTaskStatus(taskId, status);
    });
    this.columns.set(status, { list, count });
    return section;
  }

  render(model, project, selectedTaskId) {
    this.model = model;
    const byStatus = new Map(TASK_STATUSES.map(([status]) => [status, []]));
    const seen = new Set();
    for (const task of model.tasksOf(project.id)) {
      seen.add(task.id);
      (byStatus.get(task.status) ?? byStatus.get("pending")).push(this.card(model, task, selectedTaskId));
    }
    for (const [status, cards] of byStatus) {
      const { list, count } = this.columns.get(status);
      cards.forEach((card, index) => {
        if (list.children[index] !== card) list.insertBefore(card, list.children[index] ?? null);
      });
      while (list.children.length > cards.length) list.lastElementChild.remove();
      count.textContent = String(cards.length);
    }
    for (const id of this.cards.keys()) if (!seen.has(id)) this.cards.delete(id);
    for (const time of this.el.querySelectorAll("time[data-ago]")) time.textContent = ago(Number(time.dataset.ago));
  }

  card(model, task, selectedTaskId) {
    const sessions = model.sessionsFor(task);
    const parent = task.parentId ? model.tasks.get(task.parentId) : null;
    const dispatch = dispatchStatus(model, task);
    const signature = JSON.stringify([
      task.updatedAt,
      task.id === selectedTaskId,
      sessions.map((s) => [s.id, s.status, s.attention]),
      parent?.title ?? null,
      dispatch,
    ]);
    const cached = this.cards.get(task.id);
    if (cached?.signature === signature) return cached.el;
    const el = this.buildCard(task, sessions, parent, dispatch, task.id === selectedTaskId);
    this.cards.set(task.id, { signature, el });
    return el;
  }

  buildCard(task, sessions, parent, dispatch, selected) {
    const done = task.subtasks.filter((s) => s.completed).length;
    const total = task.subtasks.length;
    const attention = attentionBadges(sessions);
    const card = h(
      "li",
      {
        class: ["card", selected ? "selected" : "", attention ? "needs-attention" : ""].filter(Boolean).join(" "),
        draggable: "true",
        "data-testid": "task-card",
        "data-task-id": task.id,
        "data-status": task.status,
      },
      h(
        "div",
        { class: "card-head" },
        h(
          "span",
          { class: `badge priority-${task.priority}`, "data-testid": "card-priority", title: "Priority" },
          label(task.priority),
        ),
        sessionBadges(sessions),
      ),
      attention,
      h(
        "a",
        {
          class: "card-title",
          href: href({ projectId: task.projectId, taskId: task.id }),
          "data-testid": "card-title",
          "data-focus-key": `card-${task.id}`,
          draggable: "false",
        },
        task.title,
      ),
      parent ? h("p", { class: "card-parent" }, "↳ ", parent.title) : null,
      autoStartLine(dispatch),
      total
        ? h(
            "div",
            {
              class: "progress",
              "data-testid": "card-progress",
              title: `${done} of ${total} subtasks done`,
            },
            h(
              "span",
              { class: "progress-bar", "aria-hidden": "true" },
              h("span", { style: `width: ${Math.round((100 * done) / total)}%` }),
            ),
            h("span", { class: "progress-text" }, `${done}/${total}`, srOnly(" subtasks done")),
          )
        : null,
      h(
        "label",
        { class: "card-status" },
        srOnly(`Status of ${task.title}`),
        select(
          {
            "data-testid": "card-status",
            "data-focus-key": `card-status-${task.id}`,
            onchange: async (event) => {
              const moved = await this.actions.setTaskStatus(task.id, event.target.value);
              // Refused: show the status the task really has.
              if (!moved) event.target.value = this.model.tasks.get(task.id)?.status ?? task.status;
            },
          },
          TASK_STATUSES,
          task.status,
        ),
      ),
    );
    card.addEventListener("dragstart", (event) => {
      this.dragging = task.id;
      event.dataTransfer.setData("text/plain", task.id);
      event.dataTransfer.effectAllowed = "move";
      card.classList.add("dragging");
    });
    card.addEventListener("dragend", () => {
      this.dragging = null;
      card.classList.remove("dragging");
      for (const section of this.el.querySelectorAll(".drop-target")) section.classList.remove("drop-target");
    });
    return card;
  }
}

/** What the task's sessions need from a person: "⚑ Approval needed", most urgent first. */
function attentionBadges(sessions) {
  const needing = sessions.filter((s) => s.attention);
  if (!needing.length) return null;
  return h(
    "div",
    {
      class: "card-attention",
      "data-testid": "card-attention",
      title: needing.map((s) => `${s.name || s.id}: ${s.attention}`).join("\n"),
    },
    SESSION_ATTENTION.filter(([kind]) => needing.some((s) => s.attention === kind)).map(([kind, text]) => {
      const n = needing.filter((s) => s.attention === kind).length;
      return h(
        "span",
        { class: `badge attention attention-${kind}`, "data-attention": kind },
        `⚑ ${text}${n > 1 ? ` (${n})` : ""}`,
      );
    }),
  );
}

/** One badge per session status: "1 running", "2 spawning". */
export function sessionBadges(sessions) {
  if (!sessions.length) return null;
  const counts = new Map();
  for (const session of sessions) counts.set(session.status, (counts.get(session.status) ?? 0) + 1);
  return h(
    "span",
    {
      class: "session-badges",
      "data-testid": "card-sessions",
      title: sessions.map((s) => `${s.name || s.id}: ${s.status}`).join("\n"),
    },
    [...counts].map(([status, n]) =>
      h("span", { class: `badge session-${status}` }, `● ${n} ${label(status).toLowerCase()}`),
    ),
  );
}
