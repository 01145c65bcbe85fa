// The MAESTRO_TOKEN, asked for once and kept in this browser (localStorage).

import { h } from "./dom.js";
import { openDialog } from "./views/dialogs.js";

const KEY = "maestro.token";
let pending = null;

// A server that generated its admin token prints a URL carrying it (/?token=...):
// keep the token, once, and take it out of the address bar and the history.
const here = new URL(window.location.href);
if (here.searchParams.has("token")) {
  const offered = here.searchParams.get("token").trim();
  try {
    if (offered) setToken(offered);
  } catch {
    // No storage in this browser: the dialog will ask for the token.
  }
  here.searchParams.delete("token");
  history.replaceState(history.state, "", here);
}

export function getToken() {
  try {
    return localStorage.getItem(KEY) ?? "";
  } catch {
    return "";
  }
}

function setToken(token) {
  localStorage.setItem(KEY, token);
}

/** Ask for the token (one dialog even when many requests are refused at once). */
export function askForToken({ refused }) {
  pending ??= openDialog({
    title: "This Maestro server needs a token",
    testid: "token-dialog",
    cancellable: false,
    submitLabel: "Connect",
    body: [
      h(
        "p",
        {},
        refused
          ? "The token this browser had was refused. Enter the server's MAESTRO_TOKEN."
          : "The server was started with MAESTRO_TOKEN. Enter it once; this browser remembers it.",
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "token-input" }, "Token"),
        h("input", {
          id: "token-input",
          type: "password",
          name: "token",
          required: true,
          autocomplete: "current-password",
          "data-testid": "token-input",
        }),
      ),
    ],
    onSubmit: ({ token }) => setToken(token.trim()),
  }).finally(() => {
    pending = null;
  });
  return pending;
}
