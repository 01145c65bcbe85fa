// The header of the main area: the selected project, what its agents spent, its
// views and "New task".

import { h } from "../dom.js";
import { cost, count, spent, tokenBreakdown, tokensShort } from "../format.js";
import { href } from "../router.js";

/** `usage` is the project's roll-up (GET /api/projects/:id/usage), or null while it loads. */
export function projectHeader(project, route, { usage, onNewTask }) {
  const tab = (text, view) =>
    h(
      "a",
      {
        class: "tab",
        href: href({ projectId: project.id, view }),
        "aria-current": route.view === view ? "page" : null,
        "data-testid": `tab-${view}`,
        "data-focus-key": `tab-${view}`,
      },
      text,
    );
  return h(
    "header",
    { class: "project-header" },
    h(
      "div",
      { class: "project-heading" },
      h("h1", { "data-testid": "project-title" }, project.name),
      project.workingDir ? h("code", { class: "working-dir", title: "Working directory" }, project.workingDir) : null,
      usageSummary(usage),
    ),
    project.description ? h("p", { class: "project-description muted" }, project.description) : null,
    h(
      "div",
      { class: "project-toolbar" },
      h("nav", { class: "tabs", "aria-label": "Project views" }, tab("Board", "board"), tab("Sessions", "sessions")),
      h(
        "button",
        {
          type: "button",
          class: "button primary",
          "data-testid": "new-task",
          "data-focus-key": "new-task",
          onclick: onNewTask,
        },
        "+ New task",
      ),
    ),
  );
}

function usageSummary(rollup) {
  if (!spent(rollup?.usage)) return null;
  const { usage, sessions } = rollup;
  return h(
    "span",
    {
      class: "project-usage muted",
      "data-testid": "project-usage",
      title: `${tokenBreakdown(usage)} tokens · ${count(usage.turns)} turns · ${sessions} session(s)`,
    },
    h("strong", {}, cost(usage.costUsd)),
    ` · ${tokensShort(usage)}`,
  );
}

export function welcome(onCreate) {
  return h(
    "div",
    { class: "welcome" },
    h("h1", {}, "Welcome to Maestro"),
    h("p", {}, "Projects hold the tasks your agents work on. Create one to get a board."),
    h(
      "button",
      { type: "button", class: "button primary", "data-testid": "welcome-new-project", onclick: onCreate },
      "Create a project",
    ),
  );
}
