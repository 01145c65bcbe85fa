// The inbox: the approvals waiting for a person, across every project. A
// badge in the top bar counts them; it opens a panel listing each with its
// session, tasks, tool and what it would touch, in full, and Allow, Allow and
// remember, Deny, with a message for the agent. It is event-driven: whoever
// decides, here, in another browser or from the CLI, the approval leaves every
// open page at once.
//
// An approval's input comes from an agent, so it is untrusted: like everything
// else in the UI it is only ever inserted as text.

import { fill, h } from "../dom.js";
import { absolute, ago, approvalTarget } from "../format.js";
import { href } from "../router.js";
import { showError } from "./dialogs.js";

export class Inbox {
  constructor(button, panel, { actions, notices }) {
    this.button = button;
    this.panel = panel;
    this.actions = actions;
    this.notices = notices;
    this.count = button.querySelector(".inbox-count");
    this.items = new Map(); // approval id -> ApprovalItem, kept so a draft message survives live updates
    this.heading = h("h2", { id: "inbox-title", tabindex: "-1" }, "Approvals");
    this.list = h("div", { class: "inbox-list", "data-testid": "inbox-list" });
    this.empty = h("p", { class: "empty muted", "data-testid": "inbox-empty" }, "Nothing is waiting for you.");
    fill(
      panel,
      h(
        "header",
        { class: "inbox-head" },
        this.heading,
        h(
          "button",
          {
            type: "button",
            class: "icon-button",
            "aria-label": "Close the inbox",
            title: "Close",
            "data-testid": "inbox-close",
            onclick: () => this.close(),
          },
          "✕",
        ),
      ),
      this.empty,
      this.list,
    );
    panel.setAttribute("aria-labelledby", "inbox-title");
    button.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.close();
      }
    });
    // Following a link leaves the inbox for what it names.
    panel.addEventListener("click", (event) => {
      if (event.target.closest("a[href]")) this.close({ focusButton: false });
    });
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  /** Open the panel; with `approvalId`, bring that approval into view. */
  open(approvalId = null) {
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    if (this.model) this.render(this.model);
    const item = approvalId && this.items.get(approvalId);
    if (item) {
      item.el.scrollIntoView({ block: "nearest" });
      item.focus();
    } else {
      this.heading.focus();
    }
  }

  close({ focusButton = true } = {}) {
    if (!this.isOpen) return;
    const hadFocus = this.panel.contains(document.activeElement);
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    if (hadFocus && focusButton) this.button.focus();
  }

  render(model) {
    this.model = model;
    const pending = model.pendingApprovals();
    const n = pending.length;
    this.count.textContent = String(n);
    this.button.classList.toggle("has-pending", n > 0);
    this.button.setAttribute("aria-label", `Inbox: ${n} approval${n === 1 ? "" : "s"} waiting`);
    this.heading.textContent = n ? `Approvals waiting (${n})` : "Approvals";
    this.empty.hidden = n > 0;

    const ids = new Set(pending.map((a) => a.id));
    for (const [id, item] of this.items) {
      if (ids.has(id)) continue;
      // Decided (here or anywhere): gone. Keep the keyboard user in the list.
      if (item.el.contains(document.activeElement)) this.heading.focus();
      item.el.remove();
      this.items.delete(id);
    }
    pending.forEach((approval, index) => {
      let item = this.items.get(approval.id);
      if (!item) {
        item = new ApprovalItem(approval, this.actions, this.notices);
        this.items.set(approval.id, item);
      }
      item.refresh(model);
      if (this.list.children[index] !== item.el) this.list.insertBefore(item.el, this.list.children[index] ?? null);
    });
  }
}

/** One pending approval. Built once (an approval does not change while it is pending). */
class ApprovalItem {
  constructor(approval, actions, notices) {
    this.approval = approval;
    this.actions = actions;
    this.notices = notices;
    this.contextSignature = null;
    const [kind, target] = approvalTarget(approval.input);
    const idBase = `approval-${approval.id}`;
    this.asked = h("time", { datetime: new Date(approval.createdAt).toISOString(), title: absolute(approval.createdAt) });
    this.expires = h("time", { datetime: new Date(approval.expiresAt).toISOString(), title: absolute(approval.expiresAt) });
    this.context = h("dl", { class: "approval-context" });
    this.message = h("input", {
      type: "text",
      id: `${idBase}-message`,
      autocomplete: "off",
      placeholder: "Message for the agent",
      "data-testid": "approval-message",
      "data-focus-key": `${idBase}-message`,
    });
    this.error = h("p", { class: "dialog-error", role: "alert", "data-testid": "approval-error", hidden: true });
    const button = (text, className, testid, title, decision, remember) =>
      h("button", { type: "button", class: className, "data-testid": testid, title, onclick: () => this.decide(decision, remember) }, text);
    this.buttons = [
      button("Allow", "button primary", "approval-allow", "Let the agent go ahead, this once", "allow", false),
      button(
        "Allow and remember",
        "button",
        "approval-allow-remember",
        "Allow, and add a rule to the project's permissions so this is not asked again",
        "allow",
        true,
      ),
      button("Deny", "button danger-outline", "approval-deny", "Refuse; the agent reads the message, if any", "deny", false),
    ];
    this.el = h(
      "article",
      { class: "approval", "data-testid": "approval", "data-approval-id": approval.id, "aria-labelledby": `${idBase}-tool` },
      h(
        "header",
        { class: "approval-head" },
        h("span", { class: "badge approval-tool", id: `${idBase}-tool`, "data-testid": "approval-tool" }, approval.tool),
        h("span", { class: "approval-kind muted", "data-testid": "approval-kind" }, kind),
        h("span", { class: "approval-times muted", "data-testid": "approval-times" }, "asked ", this.asked, " · expires ", this.expires),
      ),
      h("pre", { class: "approval-target", "data-testid": "approval-target" }, target),
      approval.reason ? h("p", { class: "approval-reason", "data-testid": "approval-reason" }, approval.reason) : null,
      this.context,
      h(
        "div",
        { class: "approval-decide" },
        h("label", { for: this.message.id, class: "sr-only" }, "Message for the agent (optional)"),
        this.message,
        this.buttons,
      ),
      this.error,
    );
  }

  focus() {
    this.buttons[0].focus();
  }

  /** The names around it (session, tasks, project) and the relative times. */
  refresh(model) {
    const approval = this.approval;
    this.asked.textContent = ago(approval.createdAt);
    this.expires.textContent = ago(approval.expiresAt);
    const project = model.projects.get(approval.projectId);
    const session = model.sessions.get(approval.sessionId);
    const tasks = approval.taskIds.map((id) => [id, model.tasks.get(id)?.title ?? null]);
    const signature = JSON.stringify([project?.name, session?.name, tasks]);
    if (signature === this.contextSignature) return; // links stay put under the keyboard
    this.contextSignature = signature;
    const projectId = approval.projectId;
    fill(
      this.context,
      entry("Project", project ? h("a", { href: href({ projectId }) }, project.name) : h("code", {}, projectId), "approval-project"),
      entry(
        "Session",
        h(
          "a",
          { href: href({ projectId, view: "sessions", sessionId: approval.sessionId }), title: approval.sessionId },
          session?.name || approval.sessionId,
        ),
        "approval-session",
      ),
      entry(
        "Tasks",
        tasks.length
          ? tasks.map(([id, title], i) => [
              i ? ", " : "",
              title === null ? h("code", { title: "deleted" }, id) : h("a", { href: href({ projectId, taskId: id }) }, title),
            ])
          : "—",
        "approval-tasks",
      ),
    );
  }

  async decide(decision, remember) {
    for (const b of this.buttons) b.disabled = true;
    this.error.hidden = true;
    try {
      await this.actions.decideApproval(this.approval.id, { decision, remember, message: this.message.value.trim() });
    } catch (err) {
      if (err.code === "APPROVAL_DECIDED" || err.code === "APPROVAL_NOT_FOUND") {
        // Someone else was first (or the session went): nothing left to decide.
        const what =
          err.code === "APPROVAL_DECIDED"
            ? `already decided elsewhere${err.details?.status ? ` (${err.details.status})` : ""}`
            : "no longer exists (its session was deleted)";
        this.notices.info(`${this.approval.tool}: ${what}.`);
        this.actions.forgetApproval(this.approval.id);
        return;
      }
      showError(this.error, err);
      for (const b of this.buttons) b.disabled = false;
    }
  }
}

function entry(term, value, testid) {
  return h("div", {}, h("dt", {}, term), h("dd", { "data-testid": testid }, value));
}
