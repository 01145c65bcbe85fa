// The bell in the top bar: turns browser notifications on and off. Turning
// them on asks the browser's permission (once; a refusal is the browser's to
// undo, in its site settings).

const TITLES = {
  on: "Browser notifications are on: approvals asked for, sessions finished. Click to turn them off.",
  off: "Notify me in this browser when an approval is asked for or a session finishes",
  blocked: "This browser blocks Maestro's notifications; allow them in the site settings, then click again",
  unsupported: "This browser cannot show notifications",
};

export class NotificationToggle {
  constructor(button, notifications, notices) {
    this.button = button;
    this.notifications = notifications;
    this.notices = notices;
    button.addEventListener("click", () => this.toggle());
    notifications.addEventListener("change", () => this.render());
    this.render();
  }

  state() {
    const n = this.notifications;
    if (!n.supported) return "unsupported";
    if (n.enabled) return "on";
    return n.permission === "denied" ? "blocked" : "off";
  }

  render() {
    const state = this.state();
    this.button.dataset.state = state;
    this.button.setAttribute("aria-pressed", String(state === "on"));
    this.button.title = TITLES[state];
    this.button.disabled = state === "unsupported";
  }

  async toggle() {
    if (this.notifications.enabled) {
      this.notifications.disable();
      return;
    }
    const permission = await this.notifications.enable();
    if (permission === "granted") this.notices.info("Browser notifications are on.");
    else if (permission === "denied") {
      this.notices.info("The browser refused notifications. Allow them in its site settings to turn them on.");
    }
    this.render();
  }
}
