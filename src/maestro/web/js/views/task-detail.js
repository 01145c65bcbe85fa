// The task detail panel: fields (auto-start among them, with what the
// dispatcher waits for), what its agents spent (with its child tasks'),
// subtasks checklist, dependencies, child tasks, linked sessions (with their
// branches and what changed on them), spawn, and the timeline (newest first). The panel's frame and
// its input forms are built once per task, so a live update never wipes what
// the user is typing; the lists inside are redrawn when the task changes.

import { dispatchStatus } from "../dispatch.js";
import { fill, h, select } from "../dom.js";
import {
  PRIORITIES,
  TASK_STATUSES,
  TIMELINE_TYPES,
  absolute,
  ago,
  attentionLabel,
  cost,
  count,
  duration,
  label,
  spent,
  tokenBreakdown,
  tokensShort,
} from "../format.js";
import { href, navigate } from "../router.js";
import { autoStartLine } from "./auto-start.js";
import { deleteTaskDialog, spawnDialog, taskDialog } from "./forms.js";
import { branchLabel, changeSummary, worktreeNotes } from "./worktree.js";

const NOTE_TYPES = [
  ["update", "Update"],
  ["milestone", "Milestone"],
  ["blocker", "Blocker"],
];

export class TaskDetail {
  constructor(root, { model, actions, notices, usage }) {
    this.root = root;
    this.model = model;
    this.actions = actions;
    this.notices = notices;
    this.usageTotals = usage;
    this.taskId = null;
    this.signature = null;
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.task) {
        event.preventDefault();
        navigate({ projectId: this.task.projectId });
      }
    });
  }

  get task() {
    return this.taskId ? this.model.tasks.get(this.taskId) : null;
  }

  /** Show the task of the route (or hide). Returns true when it just opened. */
  render(route) {
    const model = this.model;
    if (!route.taskId) {
      this.root.hidden = true;
      this.taskId = null;
      return false;
    }
    this.root.hidden = false;
    const task = model.tasks.get(route.taskId);
    if (!task) {
      this.taskId = null;
      fill(
        this.root,
        h(
          "div",
          { class: "detail-missing" },
          h("p", {}, model.loaded ? "This task does not exist (it may have been deleted)." : "Loading…"),
          h("a", { href: href({ projectId: route.projectId }) }, "Back to the board"),
        ),
      );
      return false;
    }
    const opened = this.taskId !== task.id;
    if (opened) {
      this.taskId = task.id;
      this.signature = null;
      this.shownUsage = undefined;
      this.usageTotals.refreshTask(task.id);
      this.build(task);
    }
    this.update(task);
    if (opened) this.title.focus();
    return opened;
  }

  // -- the frame, built once per task -----------------------------------------

  build(task) {
    const actions = this.actions;
    this.title = h("h2", { class: "detail-title", tabindex: "-1", "data-testid": "detail-title" });
    this.status = select(
      {
        "data-testid": "detail-status",
        onchange: (e) => this.revertIfRefused(e.target, "status", actions.setTaskStatus(this.taskId, e.target.value)),
      },
      TASK_STATUSES,
    );
    this.priority = select(
      {
        "data-testid": "detail-priority",
        onchange: (e) =>
          this.revertIfRefused(
            e.target,
            "priority",
            actions.patchTask(this.taskId, { priority: e.target.value }, "Could not change the priority"),
          ),
      },
      PRIORITIES,
    );
    this.autoStart = h("input", {
      type: "checkbox",
      "data-testid": "detail-auto-start",
      onchange: async (e) => {
        const saved = await actions.patchTask(this.taskId, { autoStart: e.target.checked }, "Could not change auto-start");
        if (!saved && this.task) e.target.checked = Boolean(this.task.autoStart);
      },
    });
    this.dispatch = h("div", { class: "detail-dispatch" });
    this.openChanges = new Set(); // session ids whose changed files are listed
    this.dates = h("p", { class: "detail-dates muted" });
    this.usage = h("p", { class: "detail-usage", "data-testid": "detail-usage", hidden: true });
    this.parent = h("p", { class: "detail-parent" });
    this.description = h("div", { class: "description", "data-testid": "detail-description" });
    this.prompt = h("details", { class: "initial-prompt" });
    this.subtaskCount = h("span", { class: "count" });
    this.subtasks = h("ol", { class: "subtasks", "data-testid": "subtask-list" });
    this.dependencies = h("ul", { class: "links", "data-testid": "dependency-list" });
    this.dependencyPicker = h("select", { "data-testid": "dependency-select", "aria-label": "Task to depend on" });
    this.children = h("ul", { class: "links", "data-testid": "child-list" });
    this.sessions = h("ul", { class: "links", "data-testid": "detail-sessions" });
    this.timeline = h("ol", { class: "timeline", "data-testid": "timeline" });

    fill(
      this.root,
      h(
        "header",
        { class: "detail-header" },
        this.title,
        h(
          "a",
          {
            class: "icon-button",
            href: href({ projectId: task.projectId }),
            "aria-label": "Close task detail",
            title: "Close (Esc)",
            "data-testid": "detail-close",
          },
          "×",
        ),
      ),
      h(
        "div",
        { class: "detail-fields" },
        h("label", {}, h("span", {}, "Status"), this.status),
        h("label", {}, h("span", {}, "Priority"), this.priority),
        h(
          "label",
          { class: "detail-toggle", title: "A runner spawns a worker once every task it depends on is completed." },
          h("span", {}, "Auto-start"),
          this.autoStart,
        ),
      ),
      this.dispatch,
      h(
        "div",
        { class: "detail-actions" },
        h("button", { type: "button", class: "button", "data-testid": "detail-edit", onclick: () => this.edit() }, "Edit"),
        h(
          "button",
          { type: "button", class: "button primary", "data-testid": "spawn-worker", onclick: () => this.spawn() },
          "Spawn worker",
        ),
        h(
          "button",
          { type: "button", class: "button danger-outline", "data-testid": "detail-delete", onclick: () => this.remove() },
          "Delete",
        ),
      ),
      this.parent,
      this.dates,
      this.usage,
      this.description,
      this.prompt,
      section("Subtasks", this.subtaskCount, this.subtasks, this.subtaskForm()),
      section("Dependencies", null, this.dependencies, this.dependencyForm()),
      section(
        "Child tasks",
        null,
        this.children,
        h(
          "button",
          {
            type: "button",
            class: "button small",
            "data-testid": "add-child",
            onclick: () => taskDialog(actions, this.model, { projectId: this.task.projectId, parentId: this.taskId }),
          },
          "+ Child task",
        ),
      ),
      section("Sessions", null, this.sessions),
      section("Timeline", null, this.noteForm(), this.timeline),
    );
  }

  subtaskForm() {
    const input = h("input", {
      type: "text",
      name: "title",
      required: true,
      placeholder: "Add a subtask…",
      "aria-label": "New subtask",
      "data-testid": "subtask-input",
      autocomplete: "off",
    });
    const form = h(
      "form",
      { class: "inline-form", "data-testid": "subtask-form" },
      input,
      h("button", { type: "submit", class: "button small", "data-testid": "subtask-add" }, "Add"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      // Clear at once, so the next one can be typed while this one is saved.
      const title = input.value;
      input.value = "";
      input.focus();
      try {
        await this.actions.addSubtask(this.taskId, title);
      } catch (err) {
        if (!input.value) input.value = title;
        this.notices.error("Could not add the subtask", err);
      }
    });
    return form;
  }

  dependencyForm() {
    const form = h(
      "form",
      { class: "inline-form" },
      this.dependencyPicker,
      h("button", { type: "submit", class: "button small", "data-testid": "dependency-add" }, "Add"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const id = this.dependencyPicker.value;
      if (!id) return;
      this.actions.patchTask(
        this.taskId,
        { dependencies: [...this.task.dependencies, id] },
        "Could not add the dependency",
      );
    });
    return form;
  }

  noteForm() {
    const type = select({ name: "type", "aria-label": "Entry type", "data-testid": "note-type" }, NOTE_TYPES, "update");
    const message = h("input", {
      type: "text",
      name: "message",
      required: true,
      placeholder: "Add a note to the timeline…",
      "aria-label": "Timeline note",
      "data-testid": "note-input",
      autocomplete: "off",
    });
    const form = h(
      "form",
      { class: "inline-form" },
      type,
      message,
      h("button", { type: "submit", class: "button small", "data-testid": "note-add" }, "Add"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = message.value;
      message.value = "";
      try {
        await this.actions.addTimelineEntry(this.taskId, type.value, text);
      } catch (err) {
        if (!message.value) message.value = text;
        this.notices.error("Could not add to the timeline", err);
      }
    });
    return form;
  }

  // -- the contents, redrawn when they changed --------------------------------

  update(task) {
    this.renderUsage(task);
    const model = this.model;
    const sessions = model.sessionsFor(task);
    const children = model.childrenOf(task.id);
    const related = [...task.dependencies, task.parentId].map((id) => model.tasks.get(id));
    const dispatch = dispatchStatus(model, task);
    for (const time of this.root.querySelectorAll("time[data-ago]")) time.textContent = ago(Number(time.dataset.ago));
    const signature = JSON.stringify([
      task.updatedAt,
      dispatch,
      sessions.map((s) => [s.id, s.status, s.attention, s.lastActivity]),
      children.map((c) => [c.id, c.updatedAt]),
      related.map((t) => t && [t.id, t.updatedAt]),
      model.tasksOf(task.projectId).length,
    ]);
    if (signature === this.signature) return;
    this.signature = signature;

    this.title.textContent = task.title;
    if (this.status.value !== task.status) this.status.value = task.status;
    if (this.priority.value !== task.priority) this.priority.value = task.priority;
    this.autoStart.checked = Boolean(task.autoStart);
    fill(this.dispatch, autoStartLine(dispatch, "detail-dispatch"));
    const parent = task.parentId ? model.tasks.get(task.parentId) : null;
    fill(this.parent, parent ? ["Child of ", taskLink(parent)] : []);
    this.parent.hidden = !parent;
    fill(
      this.dates,
      stamp("Created", task.createdAt),
      task.startedAt ? [" · ", stamp("started", task.startedAt)] : null,
      task.completedAt ? [" · ", stamp("completed", task.completedAt)] : null,
    );
    fill(this.description, task.description ? task.description : h("span", { class: "muted" }, "No description."));
    this.prompt.hidden = !task.initialPrompt;
    fill(this.prompt, h("summary", {}, "Initial prompt"), h("pre", {}, task.initialPrompt));

    this.renderSubtasks(task);
    this.renderDependencies(task);
    fill(
      this.children,
      children.length ? children.map((child) => h("li", {}, statusBadge(child.status), taskLink(child))) : empty("No child tasks."),
    );
    fill(
      this.sessions,
      sessions.length ? sessions.map((s) => this.sessionItem(task, s)) : empty("No sessions yet. Spawn a worker to start one."),
    );
    this.renderTimeline(task);
  }

  /** "Usage: $0.0123 · 12.3K tokens · 7 turns · …" for the task and its descendants. */
  renderUsage(task) {
    const rollup = this.usageTotals.forTask(task);
    if (rollup === this.shownUsage) return;
    this.shownUsage = rollup;
    const usage = rollup?.usage;
    this.usage.hidden = !spent(usage);
    if (this.usage.hidden) return;
    const tasks = rollup.taskIds.length;
    fill(
      this.usage,
      h("span", { class: "detail-usage-label" }, "Usage "),
      h("strong", { "data-testid": "detail-usage-cost" }, cost(usage.costUsd)),
      h("span", { title: `${tokenBreakdown(usage)} tokens` }, ` · ${tokensShort(usage)}`),
      ` · ${count(usage.turns)} turns · ${duration(usage.durationMs)}`,
      h(
        "span",
        { class: "muted", "data-testid": "detail-usage-scope" },
        ` · ${rollup.sessions} session(s) in ${tasks} task(s)${tasks > 1 ? " incl. child tasks" : ""}`,
      ),
    );
  }

  renderSubtasks(task) {
    const subtasks = [...task.subtasks].sort((a, b) => a.order - b.order);
    const done = subtasks.filter((s) => s.completed).length;
    this.subtaskCount.textContent = subtasks.length ? `${done}/${subtasks.length}` : "";
    const last = subtasks.length - 1;
    fill(
      this.subtasks,
      subtasks.length
        ? subtasks.map((s, index) => {
            const id = `subtask-${s.id}`;
            const move = (order) => this.actions.updateSubtask(task.id, s.id, { order });
            return h(
              "li",
              { class: s.completed ? "subtask done" : "subtask", "data-testid": "subtask", "data-subtask-id": s.id },
              h("input", {
                type: "checkbox",
                id,
                checked: s.completed,
                "data-testid": "subtask-toggle",
                "data-focus-key": `subtask-toggle-${s.id}`,
                onchange: (e) => this.actions.updateSubtask(task.id, s.id, { completed: e.target.checked }),
              }),
              h("label", { for: id, class: "subtask-title", "data-testid": "subtask-title" }, s.title),
              iconButton("↑", `Move “${s.title}” up`, `subtask-up-${s.id}`, "subtask-up", index === 0, () => move(index - 1)),
              iconButton("↓", `Move “${s.title}” down`, `subtask-down-${s.id}`, "subtask-down", index === last, () => move(index + 1)),
              iconButton("✕", `Delete subtask “${s.title}”`, `subtask-delete-${s.id}`, "subtask-delete", false, () =>
                this.actions.deleteSubtask(task.id, s.id),
              ),
            );
          })
        : empty("No subtasks."),
    );
  }

  renderDependencies(task) {
    const model = this.model;
    fill(
      this.dependencies,
      task.dependencies.length
        ? task.dependencies.map((id) => {
            const dep = model.tasks.get(id);
            return h(
              "li",
              { "data-testid": "dependency" },
              dep ? [statusBadge(dep.status), taskLink(dep)] : h("code", {}, id),
              iconButton("✕", `Remove dependency on “${dep?.title ?? id}”`, `dependency-remove-${id}`, "dependency-remove", false, () =>
                this.actions.patchTask(
                  task.id,
                  { dependencies: task.dependencies.filter((d) => d !== id) },
                  "Could not remove the dependency",
                ),
              ),
            );
          })
        : empty("Depends on nothing."),
    );
    const candidates = model
      .tasksOf(task.projectId)
      .filter((t) => t.id !== task.id && !task.dependencies.includes(t.id));
    const chosen = this.dependencyPicker.value;
    fill(
      this.dependencyPicker,
      h("option", { value: "" }, candidates.length ? "Choose a task…" : "No other tasks"),
      candidates.map((t) => h("option", { value: t.id, selected: t.id === chosen }, t.title)),
    );
  }

  sessionItem(task, session) {
    const meta = session.metadata ?? {};
    const branch = branchLabel(session, "detail-session-branch");
    const changes = changeSummary(session, {
      open: this.openChanges.has(session.id),
      onToggle: (open) => (open ? this.openChanges.add(session.id) : this.openChanges.delete(session.id)),
    });
    const notes = worktreeNotes(session);
    return h(
      "li",
      { class: "detail-session", "data-testid": "detail-session", "data-session-id": session.id },
      h("span", { class: `badge session-${session.status}`, "data-testid": "detail-session-status" }, label(session.status)),
      h("a", { href: href({ projectId: session.projectId, view: "sessions", sessionId: session.id }) }, session.name || session.id),
      session.attention
        ? h(
            "span",
            { class: `badge attention attention-${session.attention}`, "data-testid": "detail-session-attention" },
            `⚑ ${attentionLabel(session.attention)}`,
          )
        : null,
      h("span", { class: "muted" }, [meta.role, meta.agent ?? session.agentId].filter(Boolean).join(" · ")),
      iconButton("✕", `Unlink session “${session.name || session.id}”`, `session-unlink-${session.id}`, "session-unlink", false, () =>
        this.actions.unlinkSession(session.id, task.id),
      ),
      branch || changes || notes ? h("div", { class: "detail-session-worktree" }, branch, changes, notes) : null,
    );
  }

  renderTimeline(task) {
    const entries = task.timeline
      .map((entry, index) => [entry, index])
      .sort((a, b) => b[0].timestamp - a[0].timestamp || b[1] - a[1]);
    fill(
      this.timeline,
      entries.map(([entry]) => {
        const kind = TIMELINE_TYPES[entry.type] ?? { label: entry.type, icon: "•" };
        return h(
          "li",
          { class: `timeline-entry tl-${entry.type}`, "data-testid": "timeline-entry", "data-type": entry.type },
          h("span", { class: "tl-icon", "aria-hidden": "true" }, kind.icon),
          h(
            "div",
            { class: "tl-body" },
            h("span", { class: "tl-type" }, kind.label),
            entry.message ? h("span", { class: "tl-message" }, entry.message) : null,
            h(
              "span",
              { class: "tl-meta muted" },
              h("time", { datetime: new Date(entry.timestamp).toISOString(), title: absolute(entry.timestamp) }, ago(entry.timestamp)),
              entry.sessionId ? [" · ", h("code", {}, entry.sessionId)] : null,
            ),
          ),
        );
      }),
    );
  }

  // -- actions ----------------------------------------------------------------

  /** After a refused change, show the value the task really has again. */
  async revertIfRefused(control, field, pending) {
    if (!(await pending) && this.task) control.value = this.task[field];
  }

  edit() {
    const task = this.task;
    if (task) taskDialog(this.actions, this.model, { projectId: task.projectId, task });
  }

  spawn() {
    const task = this.task;
    if (task) {
      spawnDialog(this.actions, this.notices, task).then((session) => {
        if (session) this.notices.info(`Session “${session.name}” is spawning; a runner will open its terminal.`);
      });
    }
  }

  async remove() {
    const task = this.task;
    if (!task) return;
    const deleted = await deleteTaskDialog(this.actions, task, this.model.childrenOf(task.id).length);
    if (deleted) navigate({ projectId: task.projectId });
  }
}

function section(title, extra, ...content) {
  return h("section", { class: "detail-section" }, h("h3", {}, title, extra ? [" ", extra] : null), content);
}

function taskLink(task) {
  return h("a", { href: href({ projectId: task.projectId, taskId: task.id }), "data-focus-key": `link-${task.id}` }, task.title);
}

function statusBadge(status) {
  return h("span", { class: `badge status-${status}` }, label(status));
}

function stamp(text, ms) {
  return h("span", {}, `${text} `, h("time", { datetime: new Date(ms).toISOString(), title: absolute(ms) }, ago(ms)));
}

function empty(text) {
  return h("li", { class: "empty muted" }, text);
}

function iconButton(text, ariaLabel, focusKey, testid, disabled, onclick) {
  return h(
    "button",
    {
      type: "button",
      class: "icon-button",
      "aria-label": ariaLabel,
      title: ariaLabel,
      disabled,
      "data-focus-key": focusKey,
      "data-testid": testid,
      onclick,
    },
    text,
  );
}
