// Labels and time formatting shared by the views.

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

export const TIMELINE_TYPES = {
  created: { label: "Created", icon: "✦" },
  status_changed: { label: "Status", icon: "⇄" },
  session_started: { label: "Session started", icon: "▶" },
  session_ended: { label: "Session ended", icon: "■" },
  update: { label: "Update", icon: "•" },
  milestone: { label: "Milestone", icon: "★" },
  blocker: { label: "Blocker", icon: "⚠" },
};

const labels = new Map([...TASK_STATUSES, ...PRIORITIES, ...SESSION_STATUSES]);

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
