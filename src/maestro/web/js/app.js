// Wires the pieces: the model (state.js), the live feed (live.js), the views,
// and the hash route. Every model change schedules one render.

import { api, paths } from "./api.js";
import { Actions } from "./actions.js";
import { fill, h } from "./dom.js";
import { LiveFeed } from "./live.js";
import { navigate, parseRoute } from "./router.js";
import { Model } from "./state.js";
import { UsageTotals } from "./usage.js";
import { Board } from "./views/board.js";
import { ConnectionIndicator } from "./views/connection.js";
import { deleteProjectDialog, projectDialog, taskDialog } from "./views/forms.js";
import { DesktopNotifications } from "./notifications.js";
import { Inbox } from "./views/inbox.js";
import { NotificationToggle } from "./views/notification-toggle.js";
import { Notices } from "./views/notices.js";
import { projectHeader, welcome } from "./views/project.js";
import { RunnersView } from "./views/runners.js";
import { SessionsView } from "./views/sessions.js";
import { Sidebar } from "./views/sidebar.js";
import { TaskDetail } from "./views/task-detail.js";

const $ = (id) => document.getElementById(id);

const model = new Model();
const notices = new Notices($("notices"));
const actions = new Actions(model, notices);
const usage = new UsageTotals(notices);
let route = parseRoute(window.location.hash);
let shownTaskId = null;

const createProject = async () => {
  const project = await projectDialog(actions);
  if (project) navigate({ projectId: project.id });
};

const sidebar = new Sidebar($("sidebar"), {
  onCreate: createProject,
  onEdit: (project) => projectDialog(actions, project),
  onDelete: (project) => deleteProjectDialog(actions, project),
});
const board = new Board(actions);
const inbox = new Inbox($("inbox-button"), $("inbox"), { actions, notices });
const sessions = new SessionsView(actions, { onOpenInbox: () => inbox.open() });
const runners = new RunnersView(notices);
const desktop = new DesktopNotifications({
  onApproval: (approval) => inbox.open(approval.id),
  onSession: (session) => navigate({ projectId: session.projectId, view: "sessions", sessionId: session.id }),
});
new NotificationToggle($("notifications-toggle"), desktop, notices);
const detail = new TaskDetail($("detail"), { model, actions, notices, usage });
const main = $("main");
const runnersLink = $("runners-link");
const mainHeader = h("div", { class: "main-header" });
const mainContent = h("div", { class: "main-content" });

function render() {
  const focused = document.activeElement;
  const focusKey = focused?.dataset?.focusKey;
  resolveRoute();
  inbox.render(model);
  const waiting = model.approvals.size;
  document.title = waiting ? `(${waiting}) Maestro` : "Maestro";
  sidebar.render(model, route);
  if (route.view === "runners") runnersLink.setAttribute("aria-current", "page");
  else runnersLink.removeAttribute("aria-current");
  renderMain();
  const closedTaskId = shownTaskId && !route.taskId ? shownTaskId : null;
  const opened = detail.render(route); // an opened detail takes the focus itself
  shownTaskId = route.taskId;
  document.body.classList.toggle("with-detail", Boolean(route.taskId));
  // Redrawn elements lose focus; give it to their replacement.
  if (closedTaskId) focusKeyed(`card-${closedTaskId}`);
  else if (!opened && focusKey && !focused.isConnected) focusKeyed(focusKey);
}

function focusKeyed(key) {
  document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
}

/** Fall back to the first project when the route names none, or one that is gone (#/runners names none). */
function resolveRoute() {
  if (!model.loaded || route.view === "runners") return;
  if (route.projectId && model.projects.has(route.projectId)) return;
  const first = model.projectList()[0];
  route = first ? { ...parseRoute(""), projectId: first.id } : parseRoute("");
  history.replaceState(null, "", first ? `#/projects/${encodeURIComponent(first.id)}` : "#/");
}

function renderMain() {
  const project = route.projectId ? model.projects.get(route.projectId) : null;
  if (!project || route.view !== "sessions") sessions.leave();
  if (route.view === "runners") {
    fill(mainHeader);
    runners.render(model);
    setContent(runners.el);
    return;
  }
  runners.leave();
  if (!project) {
    if (model.loaded) {
      fill(mainHeader);
      setContent(welcome(createProject));
    }
    return;
  }
  fill(
    mainHeader,
    projectHeader(project, route, {
      usage: usage.forProject(project),
      onNewTask: () => taskDialog(actions, model, { projectId: project.id }),
    }),
  );
  if (route.view === "sessions") {
    setContent(sessions.el); // on screen first, so a picked session can scroll into view
    sessions.render(model, project, route.sessionId);
  } else {
    board.render(model, project, route.taskId);
    setContent(board.el);
  }
}

function setContent(el) {
  if (main.firstChild !== mainHeader) main.replaceChildren(mainHeader, mainContent);
  if (mainContent.firstChild !== el || mainContent.childNodes.length !== 1) mainContent.replaceChildren(el);
}

let scheduled = false;
function scheduleRender() {
  if (scheduled) return;
  scheduled = true;
  const run = () => {
    if (!scheduled) return;
    scheduled = false;
    render();
  };
  requestAnimationFrame(run);
  setTimeout(run, 50); // rAF does not fire in a background tab
}

async function reload() {
  usage.invalidate();
  try {
    await model.reload();
  } catch (err) {
    notices.error("Could not load the board", err);
  }
}

const indicator = new ConnectionIndicator($("connection"), () => live.reconnectNow());
const live = new LiveFeed({
  onEvent: (message) => {
    usage.handle(message);
    desktop.handle(message, model); // before the model applies it: it compares with the version before
    model.handle(message);
  },
  onResync: reload,
  onState: (state, info) => indicator.show(state, info),
});

async function start() {
  // Nothing fails silently: an error no view caught still reaches the user.
  window.addEventListener("unhandledrejection", (event) => notices.error("Something went wrong", event.reason));
  model.addEventListener("change", scheduleRender);
  usage.addEventListener("change", scheduleRender);
  window.addEventListener("hashchange", () => {
    route = parseRoute(window.location.hash);
    render();
  });
  setInterval(scheduleRender, 30000); // keep "3 minutes ago" honest
  // Settle the token question (the server may ask for one) before the socket
  // opens, so the socket can carry it.
  try {
    await api.get(paths.projects());
  } catch (err) {
    notices.error("Could not reach the server", err);
  }
  live.start();
}

start();
