// The create / edit / delete / spawn dialogs of each entity.

import { h } from "../dom.js";
import { AGENTS, PERMISSION_MODES, PRIORITIES, TASK_STATUSES, WORKTREE_MODES, label } from "../format.js";
import {
  checkboxField,
  checkboxGroup,
  confirmDialog,
  numberField,
  openDialog,
  selectField,
  textArea,
  textField,
} from "./dialogs.js";

/** New project, or edit `project` with its session settings and permission policy. */
export function projectDialog(actions, project = null) {
  const shown = asText(project ? pick(project, SETTING_KEYS) : SETTING_DEFAULTS);
  const before = readSettings(shown);
  return openDialog({
    title: project ? `Edit project ${project.name}` : "New project",
    testid: "project-dialog",
    submitLabel: project ? "Save" : "Create project",
    wide: true,
    body: [
      textField("Name", "name", { value: project?.name ?? "", required: true, testid: "project-name" }),
      textField("Working directory", "workingDir", {
        value: project?.workingDir ?? "",
        placeholder: "/home/me/code/my-app",
        hint: "Where spawned agents start.",
        testid: "project-working-dir",
      }),
      textArea("Description", "description", { value: project?.description ?? "", rows: 3, testid: "project-description" }),
      settingsFields(shown),
      project
        ? permissionsFields(project.permissions)
        : h(
            "p",
            { class: "hint", "data-testid": "project-permissions-note" },
            "Agents get the default permissions; edit the project to change them.",
          ),
    ],
    onSubmit: ({ mode, allow, deny, ...values }) => {
      const { name, workingDir, description } = values;
      // Only the settings changed here are sent: a new project gets the server's
      // defaults for the others, and an edit leaves them as the server has them.
      const settings = readSettings(values);
      const changed = Object.fromEntries(
        SETTING_KEYS.filter((key) => JSON.stringify(settings[key]) !== JSON.stringify(before[key])).map((key) => [
          key,
          settings[key],
        ]),
      );
      const fields = { name, workingDir, description, ...changed };
      return project
        ? actions.updateProject(project.id, { ...fields, permissions: { mode, allow: rules(allow), deny: rules(deny) } })
        : actions.createProject(fields);
    },
  });
}

// A project's session settings (docs/api.md, "Project settings"). The defaults
// are what a new project's dialog shows; the server checks every value.
const SETTING_KEYS = [
  "worktrees",
  "baseBranch",
  "setupCommand",
  "setupTimeout",
  "worktreeInclude",
  "agent",
  "model",
  "maxConcurrent",
];
const SETTING_DEFAULTS = {
  worktrees: "auto",
  baseBranch: null,
  setupCommand: null,
  setupTimeout: 600,
  worktreeInclude: [],
  agent: null,
  model: null,
  maxConcurrent: 2,
};

/** How the project's sessions run: worktree, setup, agent and model, auto-start limit.
 * `settings` are as the fields show them (asText). */
function settingsFields(settings) {
  const explain = h("p", { class: "hint", "data-testid": "project-worktrees-hint" });
  const modeField = selectField(
    "Worktrees",
    "worktrees",
    WORKTREE_MODES.map(([value, text]) => [value, text]),
    { value: settings.worktrees, testid: "project-worktrees" },
  );
  const control = modeField.querySelector("select");
  const showExplanation = () => {
    explain.textContent = WORKTREE_MODES.find(([v]) => v === control.value)?.[2] ?? "";
  };
  control.addEventListener("change", showExplanation);
  modeField.append(explain);
  showExplanation();
  return h(
    "fieldset",
    { class: "field settings", "data-testid": "project-settings" },
    h("legend", {}, "Sessions"),
    h("p", { class: "hint" }, "How the project's agents run. maestro runner and worker init act on these."),
    modeField,
    h(
      "div",
      { class: "field-row" },
      textField("Base branch", "baseBranch", {
        value: settings.baseBranch,
        placeholder: "the checked-out branch",
        hint: "Worktrees start from it. Empty: the branch checked out in the working directory.",
        testid: "project-base-branch",
      }),
      numberField("Setup timeout (seconds)", "setupTimeout", {
        value: settings.setupTimeout,
        hint: "How long the setup command may run.",
        testid: "project-setup-timeout",
      }),
    ),
    textArea("Setup command", "setupCommand", {
      value: settings.setupCommand,
      rows: 2,
      hint: "Run in each new worktree before the agent starts (sh -c), e.g. npm ci. Empty: none.",
      testid: "project-setup-command",
    }),
    textArea("Untracked files to copy", "worktreeInclude", {
      value: settings.worktreeInclude,
      rows: 2,
      hint: "One glob per line, e.g. .env or config/*.local; besides those the repository's .worktreeinclude lists.",
      testid: "project-worktree-include",
    }),
    h(
      "div",
      { class: "field-row" },
      selectField("Agent", "agent", [["", "Default (claude)"], ...AGENTS.map((a) => [a, a])], {
        value: settings.agent,
        hint: "For spawns that name none.",
        testid: "project-agent",
      }),
      textField("Model", "model", {
        value: settings.model,
        placeholder: "the agent's default",
        hint: "For spawns of the project's agent that name none.",
        testid: "project-model",
      }),
      numberField("Auto-start limit", "maxConcurrent", {
        value: settings.maxConcurrent,
        hint: "Dispatched sessions at once.",
        testid: "project-max-concurrent",
      }),
    ),
  );
}

/** The settings as the form has them, in the API's terms (empty text is null: the default). */
function readSettings(values) {
  const text = (value) => value.trim() || null;
  const number = (value) => (value.trim() === "" ? null : Number(value));
  return {
    worktrees: values.worktrees,
    baseBranch: text(values.baseBranch),
    setupCommand: text(values.setupCommand),
    setupTimeout: number(values.setupTimeout),
    worktreeInclude: rules(values.worktreeInclude),
    agent: values.agent || null,
    model: text(values.model),
    maxConcurrent: number(values.maxConcurrent),
  };
}

/** Settings as the form's fields show them: text, "" for null, globs one per line. */
function asText(settings) {
  return Object.fromEntries(
    SETTING_KEYS.map((key) => {
      const value = settings[key];
      return [key, Array.isArray(value) ? value.join("\n") : value == null ? "" : String(value)];
    }),
  );
}

function pick(object, keys) {
  return Object.fromEntries(keys.map((key) => [key, object[key] ?? SETTING_DEFAULTS[key]]));
}

/**
 * What the project's agents may do without asking: the mode, and Claude Code
 * permission rules one per line. Saved as a whole policy with the project.
 */
function permissionsFields(policy = {}) {
  const mode = policy.mode ?? "acceptEdits";
  const explain = h("p", { class: "hint", "data-testid": "permissions-mode-hint" });
  const modeField = selectField(
    "Mode",
    "mode",
    PERMISSION_MODES.map(([value, text]) => [value, text]),
    { value: mode, testid: "permissions-mode" },
  );
  const control = modeField.querySelector("select");
  const showExplanation = () => {
    const [value, , text] = PERMISSION_MODES.find(([v]) => v === control.value) ?? [control.value, "", ""];
    explain.textContent = text;
    explain.classList.toggle("danger-text", value === "bypassPermissions");
  };
  control.addEventListener("change", showExplanation);
  modeField.append(explain);
  showExplanation();
  return h(
    "fieldset",
    { class: "field permissions", "data-testid": "project-permissions" },
    h("legend", {}, "Permissions"),
    h("p", { class: "hint" }, "What agents may do without asking. A deny rule wins over an allow rule."),
    modeField,
    textArea("Allowed rules", "allow", {
      value: (policy.allow ?? []).join("\n"),
      rows: 5,
      hint: "One per line, e.g. Bash(npm test:*), Edit, WebFetch(domain:example.com).",
      testid: "permissions-allow",
    }),
    textArea("Denied rules", "deny", {
      value: (policy.deny ?? []).join("\n"),
      rows: 3,
      hint: "One per line, e.g. Bash(git push:*).",
      testid: "permissions-deny",
    }),
  );
}

/** A textarea's rules (or globs): one per line, blank lines ignored. */
function rules(text) {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
}

export function deleteProjectDialog(actions, project) {
  return confirmDialog({
    title: `Delete project ${project.name}?`,
    message: "The project is removed for good. The server refuses while it still has tasks or sessions.",
    confirmLabel: "Delete project",
    onConfirm: () => actions.deleteProject(project.id),
  });
}

/** New task (optionally a child of `parentId`), or edit `task`. */
export function taskDialog(actions, model, { projectId, task = null, parentId = null }) {
  const others = model.tasksOf(projectId).filter((t) => t.id !== task?.id);
  const parentOptions = [["", "None (a root task)"], ...others.map((t) => [t.id, t.title])];
  const dependencies = task?.dependencies ?? [];
  const body = [
    textField("Title", "title", { value: task?.title ?? "", required: true, testid: "task-title" }),
    textArea("Description", "description", { value: task?.description ?? "", testid: "task-description" }),
    h(
      "div",
      { class: "field-row" },
      selectField("Priority", "priority", PRIORITIES, { value: task?.priority ?? "medium", testid: "task-priority" }),
      selectField("Status", "status", TASK_STATUSES, { value: task?.status ?? "pending", testid: "task-status" }),
    ),
    textArea("Initial prompt", "initialPrompt", {
      value: task?.initialPrompt ?? "",
      rows: 3,
      hint: "Given to the agent that works on this task.",
      testid: "task-initial-prompt",
    }),
    checkboxGroup(
      "Depends on",
      "dependencies",
      others.map((t) => [t.id, t.title, label(t.status)]),
      dependencies,
      { testid: "task-dependencies", empty: "No other tasks in this project.", scroll: true },
    ),
    checkboxField("Auto-start", "autoStart", {
      checked: Boolean(task?.autoStart),
      hint: "A runner spawns a worker for it once every task it depends on is completed.",
      testid: "task-auto-start",
    }),
  ];
  if (!task) body.push(selectField("Parent task", "parentId", parentOptions, { value: parentId ?? "", testid: "task-parent" }));
  return openDialog({
    title: task ? "Edit task" : parentId ? "New child task" : "New task",
    testid: "task-dialog",
    submitLabel: task ? "Save" : "Create task",
    body,
    onSubmit: ({ autoStart: _checkbox, dependencies: _last, ...values }, form) => {
      const autoStart = form.elements.namedItem("autoStart").checked;
      const ticked = new Set([...form.querySelectorAll("input[name=dependencies]:checked")].map((input) => input.value));
      // Kept dependencies keep their order (branches are merged in it); new ones follow.
      const chosen = [...dependencies.filter((id) => ticked.has(id)), ...[...ticked].filter((id) => !dependencies.includes(id))];
      if (!task) {
        const { parentId: parent, ...rest } = values;
        return actions.createTask({ ...rest, projectId, parentId: parent || null, autoStart, dependencies: chosen });
      }
      // Send only what changed: an unchanged status must not add a timeline entry.
      const changed = Object.fromEntries(Object.entries(values).filter(([key, value]) => task[key] !== value));
      if (autoStart !== Boolean(task.autoStart)) changed.autoStart = autoStart;
      if (JSON.stringify(chosen) !== JSON.stringify(dependencies)) changed.dependencies = chosen;
      return actions.updateTask(task.id, changed);
    },
  });
}

export function deleteTaskDialog(actions, task, childCount) {
  const body = [h("p", {}, `“${task.title}” and its subtasks and timeline are removed for good.`)];
  if (childCount) {
    body.push(
      h(
        "label",
        { class: "checkbox" },
        h("input", { type: "checkbox", name: "cascade", value: "yes", "data-testid": "delete-cascade" }),
        h("span", {}, `Also delete its ${childCount} child task(s)`),
      ),
    );
  }
  return openDialog({
    title: "Delete task?",
    testid: "confirm-dialog",
    body,
    danger: true,
    submitLabel: "Delete task",
    onSubmit: (values) => actions.deleteTask(task.id, values.cascade === "yes"),
  });
}

export function deleteSessionDialog(actions, session) {
  return confirmDialog({
    title: "Delete session?",
    message: `“${session.name || session.id}” is removed and unlinked from its tasks. A running agent is not stopped.`,
    confirmLabel: "Delete session",
    onConfirm: () => actions.deleteSession(session.id),
  });
}

export async function spawnDialog(actions, notices, task) {
  let skills = [];
  try {
    skills = await actions.skills();
  } catch (err) {
    notices.error("Could not list the skills", err);
  }
  const skillOptions = skills.length
    ? skills.map((s) => [s.name, s.name, s.description])
    : [["maestro-worker", "maestro-worker"]];
  // Left to the project (its `agent` and `model` settings) unless chosen here.
  const project = actions.model.projects.get(task.projectId);
  const projectAgent = project?.agent ?? "claude";
  const modelHint = project?.model ? `the project's: ${project.model} (with ${projectAgent})` : "the agent's default";
  return openDialog({
    title: `Spawn a worker for “${task.title}”`,
    testid: "spawn-dialog",
    submitLabel: "Spawn",
    body: [
      h(
        "p",
        { class: "muted" },
        "Creates a session in state spawning; a running ",
        h("code", {}, "maestro runner"),
        " opens its terminal.",
      ),
      checkboxGroup("Skills", "skills", skillOptions, ["maestro-worker"]),
      h(
        "div",
        { class: "field-row" },
        selectField("Role", "role", [["worker", "Worker"], ["orchestrator", "Orchestrator"]], { value: "worker", testid: "spawn-role" }),
        selectField("Agent", "agent", [["", `Project's (${projectAgent})`], ...AGENTS.map((a) => [a, a])], {
          value: "",
          testid: "spawn-agent",
        }),
      ),
      textField("Model", "model", { placeholder: modelHint, testid: "spawn-model" }),
      textField("Session name", "sessionName", { placeholder: task.title, testid: "spawn-name" }),
    ],
    onSubmit: (values, form) => {
      const body = {
        projectId: task.projectId,
        taskIds: [task.id],
        skills: [...form.querySelectorAll("input[name=skills]:checked")].map((input) => input.value),
        role: values.role,
      };
      if (values.agent) body.agent = values.agent;
      if (values.model.trim()) body.model = values.model.trim();
      if (values.sessionName.trim()) body.sessionName = values.sessionName.trim();
      return actions.spawnWorker(body);
    },
  });
}
