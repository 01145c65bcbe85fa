// What agents spent, summed by the server per task (with its descendants) and
// per project: GET /api/tasks/:id/usage and /api/projects/:id/usage. Only the
// totals a view asks for are fetched. A session event marks its project's
// totals stale; the next render that asks for one refetches it, at most once
// per DEBOUNCE_MS, so a burst of events costs one request.

import { api, paths } from "./api.js";

const DEBOUNCE_MS = 300;

export class UsageTotals extends EventTarget {
  constructor(notices) {
    super();
    this.notices = notices;
    this.entries = new Map(); // "task:<id>" | "project:<id>" -> entry
  }

  /** The roll-up of a task and its descendants, or null until it has loaded. */
  forTask(task) {
    return this.get(`task:${task.id}`, task.projectId, paths.taskUsage(task.id));
  }

  /** The roll-up of a whole project, or null until it has loaded. */
  forProject(project) {
    return this.get(`project:${project.id}`, project.id, paths.projectUsage(project.id));
  }

  /** Reopening a task shows fresh totals (its children may have changed meanwhile). */
  refreshTask(taskId) {
    const entry = this.entries.get(`task:${taskId}`);
    if (entry) entry.stale = true;
  }

  /** One WebSocket event: sessions change what their project's totals add up to. */
  handle({ type, data }) {
    if (!type.startsWith("session:")) return;
    for (const entry of this.entries.values()) {
      if (!data?.projectId || entry.projectId === data.projectId) entry.stale = true;
    }
  }

  /** After a full reload every total may be out of date. */
  invalidate() {
    for (const entry of this.entries.values()) entry.stale = true;
  }

  get(key, projectId, path) {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { projectId, value: null, stale: true, timer: null, loading: false };
      this.entries.set(key, entry);
    }
    if (entry.stale && !entry.timer && !entry.loading) {
      // The first load goes at once; refreshes wait for the burst to settle.
      entry.timer = setTimeout(() => this.load(entry, path), entry.value ? DEBOUNCE_MS : 0);
    }
    return entry.value;
  }

  async load(entry, path) {
    entry.timer = null;
    entry.stale = false; // an event during the request marks it stale again
    entry.loading = true;
    try {
      entry.value = await api.get(path);
    } catch (err) {
      // A task or project deleted meanwhile has no totals; anything else is told.
      if (err.status !== 404) this.notices.error("Could not load the usage totals", err);
    } finally {
      entry.loading = false;
    }
    this.dispatchEvent(new Event("change"));
  }
}
