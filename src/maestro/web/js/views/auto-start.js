// One line on an auto-start task (its card, its detail): what the dispatcher
// waits for, or when it started the task. The state comes from dispatch.js.
// Task titles and the spawn reason are inserted as text.

import { h, srOnly } from "../dom.js";
import { absolute, ago } from "../format.js";

const MARKS = { waiting: "◷", ready: "●", dispatched: "▶", failed: "⚠", busy: "■" };

/** The line for `status` (dispatchStatus's answer), or null when there is nothing to say. */
export function autoStartLine(status, testid = "card-dispatch") {
  if (!status || status.state === "idle") return null;
  const [text, title] = describe(status);
  return h(
    "p",
    { class: `auto-start auto-start-${status.state}`, "data-testid": testid, "data-state": status.state, title },
    h("span", { class: "auto-start-mark", "aria-hidden": "true" }, MARKS[status.state]),
    srOnly("Auto-start: "),
    h("span", { "data-testid": "dispatch-text" }, text),
  );
}

function describe(status) {
  switch (status.state) {
    case "waiting": {
      const names = status.on.map((d) => (d.active ? `${d.title} (session still active)` : d.title)).join(", ");
      return [`waiting on: ${names}`, `Auto-start: dispatched once these are completed and their sessions ended: ${names}`];
    }
    case "ready": {
      const full = status.limit != null && status.active >= status.limit;
      return [
        full ? `ready to dispatch · queued (${status.active}/${status.limit} running)` : "ready to dispatch",
        full
          ? "Auto-start: every dependency is completed; the project's dispatched sessions are at its limit (maxConcurrent)."
          : "Auto-start: every dependency is completed; a runner following the server starts it.",
      ];
    }
    case "dispatched":
      return [
        ["dispatched ", agoTime(status.startedAt)],
        [`Auto-start: dispatched ${absolute(status.startedAt)}`, status.reason].filter(Boolean).join("\n"),
      ];
    case "failed":
      return [
        "dispatch failed · left to you",
        [
          "Auto-start: the dispatched session failed. The dispatcher tries once; start it again with Spawn worker.",
          status.reason,
        ]
          .filter(Boolean)
          .join("\n"),
      ];
    case "busy":
      return ["not dispatched: a session is active", "Auto-start: a session of this task is active already."];
    default:
      return [status.state, ""];
  }
}

/** A time whose "3 minutes ago" the view refreshes (time[data-ago]). */
function agoTime(ms) {
  return h("time", { datetime: new Date(ms).toISOString(), "data-ago": ms }, ago(ms));
}
