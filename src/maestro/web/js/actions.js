// What the user can ask the server to do. Each action calls the REST API and
// puts the answer into the model at once (the WebSocket event that follows
// carries the same version). Actions used from dialogs let errors propagate
// so the dialog shows them; the others report them as notices.

import { api, paths } from "./api.js";

export class Actions {
  constructor(model, notices) {
    this.model = model;
    this.notices = notices;
  }

  /** Run `fn`; on failure show "what" and the server's message. */
  async attempt(what, fn) {
    try {
      return await fn();
    } catch (err) {
      this.notices.error(what, err);
      return null;
    }
  }

  // -- projects --------------------------------------------------------------

  async createProject(fields) {
    const project = await api.post(paths.projects(), fields);
    this.model.putProject(project);
    return project;
  }

  /** `fields.permissions`, when given, replaces the whole policy. */
  async updateProject(id, fields) {
    this.model.putProject(await api.patch(paths.project(id), fields));
  }

  async deleteProject(id) {
    await api.delete(paths.project(id));
    this.model.forgetProject(id);
  }

  // -- tasks -----------------------------------------------------------------

  async createTask(fields) {
    const task = await api.post(paths.tasks(), fields);
    this.model.putTask(task);
    return task;
  }

  async updateTask(id, fields) {
    let task;
    try {
      task = await api.patch(paths.task(id), fields);
    } catch (err) {
      if (Array.isArray(err.details?.cycle)) err.explanation = this.cycleInWords(err.details.cycle);
      throw err;
    }
    this.model.putTask(task);
    return task;
  }

  /** A refused dependency cycle (task ids, a → b: a depends on b) in titles. */
  cycleInWords(ids) {
    const titles = ids.map((id) => `“${this.model.tasks.get(id)?.title ?? id}”`);
    const [first, second, ...rest] = titles;
    return `${first} depends on ${second}${rest.map((t) => `, which depends on ${t}`).join("")}.`;
  }

  patchTask(id, fields, what = "Could not update the task") {
    return this.attempt(what, () => this.updateTask(id, fields));
  }

  setTaskStatus(id, status) {
    return this.patchTask(id, { status }, "Could not change the status");
  }

  async deleteTask(id, cascade = false) {
    await api.delete(paths.task(id) + (cascade ? "?cascade=true" : ""));
    this.model.forgetTask(id);
  }

  async addTimelineEntry(taskId, type, message) {
    this.model.putTask(await api.post(paths.timeline(taskId), { type, message }));
  }

  // -- subtasks (the answer is the subtask; fetch the task for its new version) --

  async refreshTask(taskId) {
    this.model.putTask(await api.get(paths.task(taskId)));
  }

  async addSubtask(taskId, title) {
    await api.post(paths.subtasks(taskId), { title });
    await this.refreshTask(taskId);
  }

  updateSubtask(taskId, id, fields) {
    return this.attempt("Could not update the subtask", async () => {
      await api.patch(paths.subtask(taskId, id), fields);
      await this.refreshTask(taskId);
    });
  }

  deleteSubtask(taskId, id) {
    return this.attempt("Could not delete the subtask", async () => {
      await api.delete(paths.subtask(taskId, id));
      await this.refreshTask(taskId);
    });
  }

  // -- sessions --------------------------------------------------------------

  async spawnWorker(fields) {
    const answer = await api.post(paths.spawn(), { ...fields, spawnSource: "ui" });
    this.model.putSession(answer.session);
    await this.attempt("Could not refresh the task", () =>
      Promise.all(fields.taskIds.map((id) => this.refreshTask(id))),
    );
    return answer.session;
  }

  unlinkSession(sessionId, taskId) {
    return this.attempt("Could not unlink the session", async () => {
      this.model.putSession(await api.delete(paths.sessionTask(sessionId, taskId)));
      await this.refreshTask(taskId);
    });
  }

  /**
   * Ask the agent of a finished session something more: a new session that
   * resumes its conversation, with the same tasks, skills, role, agent and model.
   */
  followUp(session, prompt) {
    const meta = session.metadata ?? {};
    const fields = { projectId: session.projectId, taskIds: session.taskIds, followUpOf: session.id, followUpPrompt: prompt };
    for (const key of ["skills", "role", "agent", "model"]) if (meta[key] != null) fields[key] = meta[key];
    return this.spawnWorker(fields);
  }

  async deleteSession(id) {
    await api.delete(paths.session(id));
    this.model.forgetSession(id);
  }

  // -- approvals -------------------------------------------------------------

  /** Allow or deny; the decided approval leaves the inbox at once (its event follows). */
  async decideApproval(id, { decision, message = "", remember = false }) {
    const body = { decision, decidedBy: "ui" };
    if (message) body.message = message;
    if (remember) body.remember = true;
    const approval = await api.post(paths.decision(id), body);
    this.model.putApproval(approval);
    return approval;
  }

  /** Decided elsewhere (a 409 said so): gone here too, before its event arrives. */
  forgetApproval(id) {
    this.model.putApproval({ id, status: "decided" });
  }

  skills() {
    return api.get(paths.skills());
  }
}
