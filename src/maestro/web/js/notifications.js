// Browser notifications (the Notification API), opt-in: an approval was asked
// for, a session completed or failed. They are off until the user turns them
// on (the bell in the top bar), which asks the browser's permission; the choice
// is kept in this browser's localStorage. Only what happens while the page
// watches is notified, never what it finds when it loads.

import { FINISHED_SESSION_STATUSES, approvalTarget, label, truncate } from "./format.js";

const KEY = "maestro.notifications";
const TITLE_LENGTH = 120;

export class DesktopNotifications extends EventTarget {
  /**
   * onApproval(approval), onSession(session): the user clicked the
   * notification (the tab has been focused already).
   */
  constructor({ onApproval, onSession }) {
    super();
    this.onApproval = onApproval;
    this.onSession = onSession;
  }

  get supported() {
    return typeof window.Notification === "function";
  }

  /** "granted" | "denied" | "default" | "unsupported" */
  get permission() {
    return this.supported ? window.Notification.permission : "unsupported";
  }

  /** The user turned them on (the browser may still refuse). */
  get wanted() {
    try {
      return localStorage.getItem(KEY) === "on";
    } catch {
      return false;
    }
  }

  get enabled() {
    return this.wanted && this.permission === "granted";
  }

  /** Turn on: asks the browser's permission (answered at once if given before). Returns it. */
  async enable() {
    if (!this.supported) return "unsupported";
    const permission = await window.Notification.requestPermission();
    if (permission === "granted") this.store("on");
    this.changed();
    return permission;
  }

  disable() {
    this.store("off");
    this.changed();
  }

  store(value) {
    try {
      localStorage.setItem(KEY, value);
    } catch {
      // Private mode without storage: the choice lasts as long as the page.
    }
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }

  /**
   * One WebSocket event, before the model applies it: a session's change of
   * status is told from the version the model had. Nothing is notified while
   * the model is (re)loading: what a load finds was not seen live.
   */
  handle({ type, data }, model) {
    if (!this.enabled || !model.live || !data) return;
    if (type === "approval:created") this.approvalAsked(data, model);
    else if (type === "session:updated") this.sessionChanged(data, model);
  }

  approvalAsked(approval, model) {
    const known = model.approvals.has(approval.id) || model.decided.has(approval.id);
    if (known || approval.expiresAt <= Date.now()) return; // a replayed, stale one
    const [, target] = approvalTarget(approval.input);
    const session = model.sessions.get(approval.sessionId);
    const project = model.projects.get(approval.projectId);
    this.show(
      truncate(`${approval.tool}: ${target}`, TITLE_LENGTH),
      {
        body: `${session?.name || approval.sessionId} asks for approval${project ? ` (${project.name})` : ""}`,
        tag: `maestro-approval-${approval.id}`, // one per approval, however many tabs are open
      },
      () => this.onApproval(approval),
    );
  }

  sessionChanged(session, model) {
    const before = model.sessions.get(session.id);
    if (!before || before.lastActivity > session.lastActivity) return;
    if (before.status === session.status || !FINISHED_SESSION_STATUSES.has(session.status)) return;
    const project = model.projects.get(session.projectId);
    this.show(
      `Session ${label(session.status).toLowerCase()}: ${truncate(session.name || session.id, TITLE_LENGTH)}`,
      { body: project ? project.name : "", tag: `maestro-session-${session.id}-${session.status}` },
      () => this.onSession(session),
    );
  }

  show(title, options, onClick) {
    let notification;
    try {
      notification = new window.Notification(title, options);
    } catch {
      return; // some browsers only notify from a service worker
    }
    notification.onclick = () => {
      window.focus();
      notification.close();
      onClick();
    };
  }
}
