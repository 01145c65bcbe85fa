// Why an auto-start task has not started yet, or when it did. The runner's
// dispatcher decides (src/maestro/agents/runner/dispatch.py); this reads the
// same rule back from the model so a card can say so: an auto-start task that is
// pending, with no active session, whose dependencies are all completed and have
// no active session, never dispatched before, within the project's
// maxConcurrent. The answer is plain data, so a card can compare it with the one
// it shows.

import { FINISHED_SESSION_STATUSES } from "./format.js";

/** `metadata.spawnSource` of a session the dispatcher started. */
export const DISPATCH = "dispatch";

const isActive = (session) => !FINISHED_SESSION_STATUSES.has(session.status);
export const isDispatched = (session) => session.metadata?.spawnSource === DISPATCH;

/**
 * null for a task without autoStart, else one of:
 *   {state: "dispatched", sessionId, startedAt, reason}  its dispatched session
 *   {state: "failed", sessionId, startedAt, reason}      that session failed: the
 *       dispatcher tries once, so the task is left to a person
 *   {state: "idle", status}        not pending: the dispatcher leaves it alone
 *   {state: "busy"}                a session of its own is active already
 *   {state: "waiting", on: [{id, title, active}]}  dependencies not completed, or
 *       completed with a session still active (its branch is not final yet)
 *   {state: "ready", active, limit}  due; `active >= limit` when it waits for room
 */
export function dispatchStatus(model, task) {
  if (!task.autoStart) return null;
  const sessions = model.sessionsFor(task);
  const dispatched = sessions.filter(isDispatched).sort((a, b) => b.startedAt - a.startedAt)[0];
  if (dispatched) {
    return {
      state: dispatched.status === "failed" ? "failed" : "dispatched",
      sessionId: dispatched.id,
      startedAt: dispatched.startedAt,
      reason: dispatched.metadata?.spawnReason ?? null,
    };
  }
  if (task.status !== "pending") return { state: "idle", status: task.status };
  if (sessions.some(isActive)) return { state: "busy" };
  const on = [];
  for (const id of task.dependencies) {
    const dependency = model.tasks.get(id);
    if (!dependency) {
      on.push({ id, title: id, active: false });
    } else if (dependency.status !== "completed") {
      on.push({ id, title: dependency.title, active: false });
    } else if (model.sessionsFor(dependency).some(isActive)) {
      on.push({ id, title: dependency.title, active: true });
    }
  }
  if (on.length) return { state: "waiting", on };
  const project = model.projects.get(task.projectId);
  const active = model.sessionsOf(task.projectId).filter((s) => isDispatched(s) && isActive(s)).length;
  return { state: "ready", active, limit: project?.maxConcurrent ?? null };
}
