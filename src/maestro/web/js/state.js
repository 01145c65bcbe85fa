// The in-memory model: projects, tasks, sessions and runners by id, and the
// pending approvals of every project, filled from REST and kept current by
// WebSocket events (which carry full entities). It holds no rules of its own: it keeps
// the newest version of each entity it is given.

import { api, paths } from "./api.js";

const PRIORITY_RANK = { high: 0, medium: 1, low: 2 };

export class Model extends EventTarget {
  constructor() {
    super();
    this.projects = new Map();
    this.tasks = new Map();
    this.sessions = new Map();
    this.approvals = new Map(); // the pending ones only
    this.runners = new Map();
    this.loaded = false;
    this.loading = 0; // generation of the reload in flight, 0 when none
    this.generation = 0;
    this.queue = [];
    this.deleted = new Set();
    this.decided = new Set(); // approvals no longer pending: a late copy must not bring one back
  }

  // -- loading --------------------------------------------------------------

  /** Load everything over REST. Events that arrive meanwhile are applied after. */
  async reload() {
    const generation = ++this.generation;
    this.loading = generation;
    try {
      const [projects, tasks, sessions, approvals, runners] = await Promise.all([
        api.get(paths.projects()),
        api.get(paths.tasks()),
        api.get(paths.sessions()),
        api.get(paths.approvals({ status: "pending" })),
        api.get(paths.runners()),
      ]);
      if (generation !== this.generation) return; // a newer reload won
      this.projects = byId(projects);
      this.tasks = byId(tasks);
      this.sessions = byId(sessions);
      this.approvals = byId(approvals);
      this.runners = byId(runners);
      this.deleted.clear();
      this.decided.clear();
      this.loaded = true;
    } finally {
      if (generation === this.generation) {
        this.loading = 0;
        const queued = this.queue;
        this.queue = [];
        for (const message of queued) this.applyEvent(message);
        this.changed();
      }
    }
  }

  /**
   * Load the runners again. Their heartbeats move `lastSeen` without an event
   * (docs/events.md), so a view showing it asks now and then; everything else
   * about a runner comes with its events.
   */
  async refreshRunners() {
    if (!this.live) return;
    const generation = this.generation;
    const runners = await api.get(paths.runners());
    if (generation !== this.generation || this.loading) return; // a reload replaced them
    for (const runner of runners) this.putRunner(runner, false);
    this.changed();
  }

  // -- events ---------------------------------------------------------------

  /** One WebSocket event (see docs/events.md). */
  handle(message) {
    if (this.loading) {
      this.queue.push(message);
      return;
    }
    this.applyEvent(message);
    this.changed();
  }

  applyEvent({ type, data }) {
    switch (type) {
      case "project:created":
      case "project:updated":
        this.putProject(data, false);
        break;
      case "project:deleted":
        this.remove(this.projects, data.id);
        this.dropApprovals((a) => a.projectId === data.id);
        break;
      case "task:created":
      case "task:updated":
        this.putTask(data, false);
        break;
      case "task:deleted":
        this.remove(this.tasks, data.id);
        break;
      case "session:created":
      case "session:updated":
        this.putSession(data, false);
        break;
      case "session:deleted":
        this.remove(this.sessions, data.id);
        // A session's approvals go with it, without events of their own.
        this.dropApprovals((a) => a.sessionId === data.id);
        break;
      case "approval:created":
      case "approval:decided":
        this.putApproval(data, false);
        break;
      case "runner:created":
      case "runner:updated":
        this.putRunner(data, false);
        break;
      case "runner:deleted":
        this.remove(this.runners, data.id);
        break;
      default:
        // Link and subtask events are always followed by the full entity
        // (task:updated / session:updated), so there is nothing to do here.
        break;
    }
  }

  // -- writes (from events and from REST answers) ----------------------------

  putProject(project, notify = true) {
    this.put(this.projects, project, "updatedAt", notify);
  }

  putTask(task, notify = true) {
    this.put(this.tasks, task, "updatedAt", notify);
  }

  putSession(session, notify = true) {
    this.put(this.sessions, session, "lastActivity", notify);
  }

  putRunner(runner, notify = true) {
    this.put(this.runners, runner, "updatedAt", notify);
  }

  /** Keep the newest version: the server makes every mutation move the version forward. */
  put(map, entity, versionKey, notify) {
    if (!entity?.id || this.deleted.has(entity.id)) return;
    const current = map.get(entity.id);
    if (current && current[versionKey] > entity[versionKey]) return;
    map.set(entity.id, entity);
    if (notify) this.changed();
  }

  /** Keep a pending approval; forget one that is decided or expired, for good. */
  putApproval(approval, notify = true) {
    if (!approval?.id) return;
    if (approval.status === "pending" && !this.decided.has(approval.id)) {
      this.approvals.set(approval.id, approval);
    } else {
      this.decided.add(approval.id);
      this.approvals.delete(approval.id);
    }
    if (notify) this.changed();
  }

  dropApprovals(test) {
    for (const approval of [...this.approvals.values()]) {
      if (test(approval)) this.approvals.delete(approval.id);
    }
  }

  remove(map, id, notify = false) {
    this.deleted.add(id);
    map.delete(id);
    if (notify) this.changed();
  }

  forgetProject(id) {
    this.remove(this.projects, id, true);
  }

  forgetTask(id) {
    this.remove(this.tasks, id, true);
  }

  forgetSession(id) {
    this.remove(this.sessions, id, true);
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }

  // -- reads ----------------------------------------------------------------

  projectList() {
    return [...this.projects.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  tasksOf(projectId) {
    return [...this.tasks.values()]
      .filter((t) => t.projectId === projectId)
      .sort(
        (a, b) =>
          (PRIORITY_RANK[a.priority] ?? 1) - (PRIORITY_RANK[b.priority] ?? 1) ||
          a.createdAt - b.createdAt,
      );
  }

  childrenOf(taskId) {
    return [...this.tasks.values()]
      .filter((t) => t.parentId === taskId)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  sessionsOf(projectId) {
    return [...this.sessions.values()]
      .filter((s) => s.projectId === projectId)
      .sort((a, b) => b.startedAt - a.startedAt);
  }

  sessionsFor(task) {
    return task.sessionIds.map((id) => this.sessions.get(id)).filter(Boolean);
  }

  /** Every runner, oldest first (as the server lists them). */
  runnerList() {
    return [...this.runners.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Pending approvals of every project, oldest first (the order they were asked in). */
  pendingApprovals() {
    return [...this.approvals.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /** Whether the model is current: loaded, and no reload is replacing it. */
  get live() {
    return this.loaded && !this.loading;
  }
}

function byId(list) {
  return new Map(list.map((entity) => [entity.id, entity]));
}
