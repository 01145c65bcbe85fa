// The REST client: adds the token, sends JSON, and turns the server's error body
// {"error": true, "code", "message"} into an ApiError whose message is readable.

import { askForToken, getToken } from "./auth.js";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function request(method, path, body) {
  for (;;) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "NETWORK_ERROR", "Cannot reach the Maestro server. Is it running?");
    }
    if (response.status === 401) {
      await askForToken({ refused: Boolean(token) });
      continue;
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const message =
        data?.message ?? `The server answered ${response.status} ${response.statusText}`.trim();
      throw new ApiError(response.status, data?.code ?? `HTTP_${response.status}`, message, data?.details);
    }
    return data;
  }
}

const enc = encodeURIComponent;

function withQuery(path, params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null)).toString();
  return query ? `${path}?${query}` : path;
}

// Relative paths, so the UI also works when served under a path prefix.
export const api = {
  get: (path) => request("GET", path),
  post: (path, body = {}) => request("POST", path, body),
  put: (path, body) => request("PUT", path, body),
  patch: (path, body) => request("PATCH", path, body),
  delete: (path) => request("DELETE", path),
};

export const paths = {
  projects: () => "api/projects",
  project: (id) => `api/projects/${enc(id)}`,
  projectUsage: (id) => `api/projects/${enc(id)}/usage`,
  tasks: () => "api/tasks",
  task: (id) => `api/tasks/${enc(id)}`,
  taskUsage: (id) => `api/tasks/${enc(id)}/usage`,
  timeline: (id) => `api/tasks/${enc(id)}/timeline`,
  subtasks: (taskId) => `api/tasks/${enc(taskId)}/subtasks`,
  subtask: (taskId, id) => `api/tasks/${enc(taskId)}/subtasks/${enc(id)}`,
  sessions: () => "api/sessions",
  session: (id) => `api/sessions/${enc(id)}`,
  sessionTask: (id, taskId) => `api/sessions/${enc(id)}/tasks/${enc(taskId)}`,
  spawn: () => "api/sessions/spawn",
  activity: (id, since) => withQuery(`api/sessions/${enc(id)}/activity`, { since }),
  approvals: (filters = {}) => withQuery("api/approvals", filters),
  decision: (id) => `api/approvals/${enc(id)}/decision`,
  skills: () => "api/skills",
  runners: () => "api/runners",
};
