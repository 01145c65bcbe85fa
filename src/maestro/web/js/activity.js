// One session's live activity log: what its agent says and which tools it
// calls, a line each (docs/api.md, "Live activity"). The log so far comes from
// GET /api/sessions/:id/activity; what follows comes through a WebSocket of its
// own, opened with ?sessionId=<id> (session:activity frames; docs/events.md).
// The socket opens first and the log is read once it is open, so nothing falls
// between the two; entries are kept in `index` order, each once. A gap in the
// indexes (the server skipped frames for a slow client) or a reconnect reads
// again from the last index held (?since=); a log that restarted (the server's
// `next` fell below what is held) is read again from the start.

import { api, paths } from "./api.js";
import { socketUrl } from "./live.js";

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 5000;

export class ActivityFeed {
  /**
   * onEntries(entries): new entries, oldest first, never one twice.
   * onRestart(): the server's log started again; what was shown is gone there.
   * onState(state, error): "connecting" | "live" | "reconnecting" | "failed".
   */
  constructor(sessionId, projectId, { onEntries, onRestart, onState }) {
    this.sessionId = sessionId;
    this.projectId = projectId;
    this.onRestart = onRestart;
    this.onEntries = onEntries;
    this.onState = onState;
    this.lastIndex = null; // the highest index held; null before the first read
    this.socket = null;
    this.loading = false;
    this.buffered = [];
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }

  connect() {
    this.onState(this.attempt ? "reconnecting" : "connecting");
    // The socket carries the event stream too; the project filter keeps that small.
    const socket = new WebSocket(socketUrl({ sessionId: this.sessionId, projectId: this.projectId }));
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (this.socket === socket) this.load();
    });
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.receive(event.data);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      const delay = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
      this.attempt += 1;
      this.onState("reconnecting");
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  async load() {
    if (this.loading) return;
    this.loading = true;
    try {
      let answer = await api.get(paths.activity(this.sessionId, this.lastIndex ?? 0));
      if (this.lastIndex !== null && answer.next <= this.lastIndex && !this.stopped) {
        this.lastIndex = null;
        this.onRestart();
        answer = await api.get(paths.activity(this.sessionId, 0));
      }
      if (this.stopped) return;
      this.accept(answer.entries);
      // Held up to what the log has, even when it had nothing: the next frame
      // should start at `next`, and a later one shows a gap.
      this.lastIndex = Math.max(this.lastIndex ?? 0, answer.next - 1);
      this.attempt = 0;
      this.onState("live");
    } catch (err) {
      if (!this.stopped) this.onState("failed", err);
    } finally {
      this.loading = false;
      const buffered = this.buffered;
      this.buffered = [];
      if (!this.stopped) this.accept(buffered); // the read is as recent as it gets: no gap check
    }
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.event !== "session:activity" || message.data?.sessionId !== this.sessionId) return;
    const entries = message.data.entries ?? [];
    if (this.loading) this.buffered.push(...entries);
    else this.take(entries);
  }

  /** Entries from frames: a gap before them is filled by reading the log again. */
  take(entries) {
    if (!entries.length) return;
    const first = Math.min(...entries.map((e) => e.index));
    if (this.lastIndex !== null && first > this.lastIndex + 1) {
      this.buffered.push(...entries);
      this.load();
      return;
    }
    this.accept(entries);
  }

  accept(entries) {
    const fresh = entries
      .filter((e) => typeof e?.index === "number" && (this.lastIndex === null || e.index > this.lastIndex))
      .sort((a, b) => a.index - b.index)
      .filter((e, i, list) => i === 0 || e.index !== list[i - 1].index);
    if (!fresh.length) return;
    this.lastIndex = fresh[fresh.length - 1].index;
    this.onEntries(fresh);
  }
}
