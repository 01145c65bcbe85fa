// Hash routes, so the static server needs no rewrite rules and links can be shared:
//   #/projects/<id>                 the board
//   #/projects/<id>/tasks/<taskId>  the board with a task's detail open
//   #/projects/<id>/sessions        the sessions of the project
//   #/projects/<id>/sessions/<sid>  the same, with one session picked out
//   #/runners                       the runners and their load (no project)

export function parseRoute(hash) {
  const parts = hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter(Boolean)
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
  const route = { projectId: null, view: "board", taskId: null, sessionId: null };
  if (parts[0] === "runners") {
    route.view = "runners";
  } else if (parts[0] === "projects" && parts[1]) {
    route.projectId = parts[1];
    if (parts[2] === "tasks" && parts[3]) route.taskId = parts[3];
    else if (parts[2] === "sessions") {
      route.view = "sessions";
      route.sessionId = parts[3] ?? null;
    }
  }
  return route;
}

export function href({ projectId = null, view = "board", taskId = null, sessionId = null }) {
  if (view === "runners") return "#/runners";
  if (!projectId) return "#/";
  const base = `#/projects/${encodeURIComponent(projectId)}`;
  if (taskId) return `${base}/tasks/${encodeURIComponent(taskId)}`;
  if (sessionId) return `${base}/sessions/${encodeURIComponent(sessionId)}`;
  return view === "sessions" ? `${base}/sessions` : base;
}

export function navigate(route, { replace = false } = {}) {
  const target = href(route);
  if (replace) {
    history.replaceState(null, "", target);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else if (window.location.hash !== target) {
    window.location.hash = target;
  }
}
