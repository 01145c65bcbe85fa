// Labels and time formatting shared by the views. The words (statuses,
// priorities, timeline types) are the server's vocabulary
// (src/maestro/domain/vocabulary.py); tests/test_vocabulary.py fails when the
// two lists differ.

export const TASK_STATUSES = [
  ["pending", "Pending"],
  ["in_progress", "In progress"],
  ["blocked", "Blocked"],
  ["completed", "Completed"],
];

export const PRIORITIES = [
  ["high", "High"],
  ["medium", "Medium"],
  ["low", "Low"],
];

export const SESSION_STATUSES = [
  ["spawning", "Spawning"],
  ["running", "Running"],
  ["completed", "Completed"],
  ["failed", "Failed"],
];

export const FINISHED_SESSION_STATUSES = new Set(["completed", "failed"]);

/** A runner is active while its heartbeats come within its lease, else lost. */
export const RUNNER_STATUSES = [
  ["active", "Active"],
  ["lost", "Lost"],
];

/** Why a session needs a person now (its `attention`), most urgent first. */
export const SESSION_ATTENTION = [
  ["approval", "Approval needed"],
  ["input", "Input needed"],
  ["failed", "Failed"],
];

const attentionLabels = new Map(SESSION_ATTENTION);

export function attentionLabel(attention) {
  return attentionLabels.get(attention) ?? String(attention);
}

export const TIMELINE_TYPES = {
  created: { label: "Created", icon: "✦" },
  status_changed: { label: "Status", icon: "⇄" },
  session_started: { label: "Session started", icon: "▶" },
  session_ended: { label: "Session ended", icon: "■" },
  update: { label: "Update", icon: "•" },
  milestone: { label: "Milestone", icon: "★" },
  blocker: { label: "Blocker", icon: "⚠" },
};

const labels = new Map([...TASK_STATUSES, ...PRIORITIES, ...SESSION_STATUSES, ...RUNNER_STATUSES]);

export function label(value) {
  return labels.get(value) ?? String(value);
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "3 minutes ago"; absolute time goes in a title attribute (see `when`). */
export function ago(ms) {
  if (!ms) return "—";
  const seconds = Math.round((ms - Date.now()) / 1000);
  const steps = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [7, "day"],
    [Number.POSITIVE_INFINITY, "week"],
  ];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) return unit === "second" && Math.abs(value) < 10 ? "just now" : relative.format(value, unit);
    value = Math.round(value / size);
  }
  return new Date(ms).toLocaleString();
}

export function absolute(ms) {
  return ms ? new Date(ms).toLocaleString() : "";
}

/** 14:03:27, for lines of a live log. */
export function clock(ms) {
  return ms ? new Date(ms).toLocaleTimeString([], { hour12: false }) : "";
}

// -- approvals -------------------------------------------------------------------

/**
 * What an approval asks to touch, in full: [kind, text]. The command, file path
 * or URL when the input has one, else the whole input as indented JSON.
 */
export function approvalTarget(input) {
  if (input && typeof input === "object" && !Array.isArray(input)) {
    if (typeof input.command === "string") return ["Command", input.command];
    if (typeof input.file_path === "string") return ["File", input.file_path];
    if (typeof input.url === "string") return ["URL", input.url];
  }
  return ["Input", JSON.stringify(input, null, 2) ?? String(input)];
}

/** Cut long text for one line (a notification's title), with an ellipsis. */
export function truncate(text, length) {
  const line = String(text).replace(/\s+/g, " ").trim();
  return line.length > length ? `${line.slice(0, length - 1)}…` : line;
}

// -- usage and permissions -----------------------------------------------------

export const PERMISSION_MODES = [
  ["default", "Default", "Asks before edits and before commands the rules do not allow."],
  ["acceptEdits", "Accept edits", "Edits files without asking; commands follow the rules."],
  ["plan", "Plan", "Read-only: the agent plans and changes nothing."],
  ["bypassPermissions", "Bypass permissions (dangerous)", "Runs every command without asking."],
];

/** A project's `worktrees` setting: [value, label, what it does]. */
export const WORKTREE_MODES = [
  ["auto", "Auto", "A git worktree and branch per session when the working directory is in a git repository; else the directory itself."],
  ["on", "On", "A git worktree and branch per session; a working directory outside git fails the session."],
  ["off", "Off", "Every agent works in the working directory itself, as before worktrees."],
];

/** The agents a project or a spawn can name (`agent`). */
export const AGENTS = ["claude", "codex", "custom"];

const numbers = new Intl.NumberFormat();
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

/** 12,345 */
export function count(n) {
  return numbers.format(n ?? 0);
}

/** Dollars to the hundredth of a cent, $0.0123: one turn can cost less than a cent. */
export function cost(usd) {
  return usd == null ? "—" : `$${usd.toFixed(4)}`;
}

/** 4.2s, 3m 05s, 1h 02m 03s */
export function duration(ms) {
  if (ms == null) return "—";
  if (ms < 60000) return `${(ms / 1000).toFixed(1)}s`;
  const whole = Math.round(ms / 1000);
  const hours = Math.floor(whole / 3600);
  const minutes = String(Math.floor((whole % 3600) / 60)).padStart(2, "0");
  const seconds = String(whole % 60).padStart(2, "0");
  return hours ? `${hours}h ${minutes}m ${seconds}s` : `${Number(minutes)}m ${seconds}s`;
}

/** Every token the agent read or wrote, cache included. */
export function totalTokens(usage) {
  return (
    (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0) + (usage.cacheReadTokens ?? 0) + (usage.cacheWriteTokens ?? 0)
  );
}

/** "45.6K tokens", short enough for a header. */
export function tokensShort(usage) {
  return `${compact.format(totalTokens(usage))} tokens`;
}

/** "1,234 in · 567 out · 8,900 cache read · 120 cache write" */
export function tokenBreakdown(usage) {
  return [
    `${count(usage.inputTokens)} in`,
    `${count(usage.outputTokens)} out`,
    `${count(usage.cacheReadTokens)} cache read`,
    `${count(usage.cacheWriteTokens)} cache write`,
  ].join(" · ");
}

/** Whether a usage object (a session's or a roll-up's) records anything spent. */
export function spent(usage) {
  return Boolean(usage && (totalTokens(usage) || usage.costUsd || usage.turns));
}
