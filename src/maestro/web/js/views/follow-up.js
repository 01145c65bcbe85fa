// "Send follow-up" on a finished session (in the sessions view): ask its agent
// something more. The server starts a new session that resumes the earlier
// one's conversation (POST /api/sessions/spawn with followUpOf and
// followUpPrompt); it appears in the list through the live feed.

import { h } from "../dom.js";
import { showError } from "./dialogs.js";

export class FollowUpBox {
  /** `session()` answers the session as the model has it now. */
  constructor(sessionId, session, actions) {
    this.session = session;
    this.actions = actions;
    const id = `follow-up-${sessionId}`;
    this.text = h("textarea", {
      id,
      rows: 3,
      placeholder: "What should the agent do next?",
      "data-testid": "follow-up-text",
      "data-focus-key": id,
    });
    this.error = h("p", { class: "dialog-error", role: "alert", "data-testid": "follow-up-error", hidden: true });
    this.done = h("p", { class: "muted", role: "status", "data-testid": "follow-up-done" });
    this.send = h("button", { type: "submit", class: "button primary", "data-testid": "follow-up-send" }, "Send follow-up");
    const form = h(
      "form",
      { class: "follow-up-form" },
      h("label", { for: id, class: "sr-only" }, "Follow-up for the agent"),
      this.text,
      this.error,
      h("div", { class: "follow-up-actions" }, this.done, this.send),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.el = h(
      "details",
      { class: "session-follow-up", "data-testid": "session-follow-up" },
      h("summary", { "data-focus-key": `${id}-summary` }, "Send follow-up"),
      form,
    );
  }

  async submit() {
    const prompt = this.text.value.trim();
    this.error.hidden = true;
    this.done.textContent = "";
    if (!prompt) {
      this.showError({ message: "Write what the agent should do next." });
      this.text.focus();
      return;
    }
    this.send.disabled = true;
    try {
      const session = await this.actions.followUp(this.session(), prompt);
      this.text.value = "";
      this.done.textContent = `Started ${session.name || session.id}.`;
    } catch (err) {
      this.showError(err);
    } finally {
      this.send.disabled = false;
    }
  }

  showError(err) {
    showError(this.error, err);
  }
}
