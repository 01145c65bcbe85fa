// The WebSocket feed: one connection, reconnect with backoff, replay with
// ?since=<last seq seen> so nothing is missed while disconnected, and a full
// reload when the server answers resync_required (or when there is no seq to
// resume from). The reconnect also names the store that seq was counted in
// (?storeId=, learnt from /health): a replaced store that has reached the same
// seq holds other events, and the server then answers resync_required too.

import { getToken } from "./auth.js";

const MIN_DELAY_MS = 250;
const MAX_DELAY_MS = 3000;
const PING_EVERY_MS = 25000;

/** The server's WebSocket URL (next to the page), with the token and `params`. */
export function socketUrl(params = {}) {
  const url = new URL("ws", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  for (const [key, value] of Object.entries(params)) if (value != null) url.searchParams.set(key, value);
  const token = getToken();
  if (token) url.searchParams.set("token", token);
  return url.href;
}

export class LiveFeed {
  /**
   * onEvent(message): one event, in seq order, never twice.
   * onResync(): the local state may be stale; reload everything over REST.
   * onState(state, info): "connecting" | "connected" | "reconnecting".
   */
  constructor({ onEvent, onResync, onState }) {
    this.onEvent = onEvent;
    this.onResync = onResync;
    this.onState = onState;
    this.lastSeq = null;
    this.storeId = null;
    this.socket = null;
    this.attempt = 0;
    this.everConnected = false;
    this.timer = null;
    this.pinger = null;
  }

  start() {
    this.connect();
  }

  url() {
    if (this.lastSeq === null) return socketUrl();
    return socketUrl({ since: String(this.lastSeq), storeId: this.storeId });
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    this.setState(this.everConnected ? "reconnecting" : "connecting");
    const resuming = this.lastSeq !== null;
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      this.everConnected = true;
      this.setState("connected");
      this.pinger = setInterval(() => this.send({ type: "ping" }), PING_EVERY_MS);
      // Replay brings a resumed client up to date; a fresh one loads over REST
      // (events arriving during the load are queued by the model).
      if (!resuming) {
        this.learnStore();
        this.onResync();
      }
    });
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.receive(event.data);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      clearInterval(this.pinger);
      this.socket = null;
      this.scheduleReconnect();
    });
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.type === "pong") return;
    if (message.type === "resync_required") {
      this.lastSeq = message.data?.latestSeq ?? null;
      this.storeId = message.data?.storeId ?? null;
      this.onResync();
      return;
    }
    if (typeof message.seq === "number") {
      if (this.lastSeq !== null && message.seq <= this.lastSeq) return;
      this.lastSeq = message.seq;
    }
    this.onEvent(message);
  }

  /** Which store this connection's seqs count in (/health needs no token). */
  async learnStore() {
    try {
      const response = await fetch(new URL("health", window.location.href));
      if (response.ok) this.storeId = (await response.json()).storeId ?? null;
    } catch {
      // Unknown until the next full load; a reconnect then just omits storeId.
    }
  }

  scheduleReconnect() {
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.setState(this.everConnected ? "reconnecting" : "connecting", {
      retryAt: Date.now() + delay,
      attempt: this.attempt,
    });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Skip the backoff wait (the "Retry now" button). */
  reconnectNow() {
    if (this.socket === null) this.connect();
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  setState(state, info = {}) {
    this.state = state;
    this.onState(state, info);
  }
}
