// The connection indicator in the top bar (role=status, so changes are announced).

import { h } from "../dom.js";

const LABELS = {
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Disconnected — reconnecting…",
};

export class ConnectionIndicator {
  constructor(root, onRetry) {
    this.root = root;
    this.label = root.querySelector(".label");
    this.retry = h(
      "button",
      { type: "button", class: "button small", hidden: true, "data-testid": "reconnect-now", onclick: onRetry },
      "Retry now",
    );
    root.after(this.retry);
  }

  show(state, { attempt } = {}) {
    this.root.dataset.state = state;
    this.root.title = state === "connected" ? "Receiving live updates" : "";
    let text = LABELS[state] ?? state;
    if (state === "reconnecting" && attempt > 1) text = `Disconnected — reconnecting (attempt ${attempt})…`;
    if (this.label.textContent !== text) this.label.textContent = text;
    this.retry.hidden = state !== "reconnecting";
  }
}
