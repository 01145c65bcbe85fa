// Messages for the user: errors from the server (role=alert, kept until
// dismissed) and short confirmations (polite, fade after a few seconds).

import { h } from "../dom.js";

const INFO_MS = 5000;

export class Notices {
  constructor(root) {
    this.root = root;
  }

  error(what, err) {
    const message = err?.message || String(err ?? "");
    this.show(
      "error",
      [
        h("strong", {}, what),
        h("span", { class: "notice-message", "data-testid": "notice-message" }, message),
        err?.code ? h("span", { class: "error-code" }, err.code) : null,
        err?.explanation ? h("span", { class: "notice-explanation" }, err.explanation) : null,
      ],
      0,
    );
  }

  info(text) {
    this.show("info", [h("span", { class: "notice-message" }, text)], INFO_MS);
  }

  show(kind, content, timeoutMs) {
    const close = h("button", { type: "button", class: "icon-button", "aria-label": "Dismiss" }, "×");
    const notice = h(
      "div",
      { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status", "data-testid": `notice-${kind}` },
      h("div", { class: "notice-body" }, content),
      close,
    );
    close.addEventListener("click", () => notice.remove());
    this.root.append(notice);
    if (timeoutMs) setTimeout(() => notice.remove(), timeoutMs);
    // Keep the stack short: the oldest go first.
    while (this.root.children.length > 4) this.root.firstElementChild.remove();
  }
}
