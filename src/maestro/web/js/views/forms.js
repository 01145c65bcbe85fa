// The create / edit / delete / spawn dialogs of each entity.

import { h } from "../dom.js";
import { PERMISSION_MODES, PRIORITIES, TASK_STATUSES } from "../format.js";
import { checkboxGroup, confirmDialog, openDialog, selectField, textArea, textField } from "./dialogs.js";

/** New project, or edit `project` with its permission policy. */
export function projectDialog(actions, project = null) {
  return openDialog({
    title: project ? `Edit project ${project.name}` : "New project",
    testid: "project-dialog",
    submitLabel: project ? "Save" : "Create project",
    body: [
      textField("Name", "name", { value: project?.name ?? "", required: true, testid: "project-name" }),
      textField("Working directory", "workingDir", {
        value: project?.workingDir ?? "",
        placeholder: "/home/me/code/my-app",
        hint: "Where spawned agents start.",
        testid: "project-working-dir",
      }),
      textArea("Description", "description", { value: project?.description ?? "", rows: 3, testid: "project-description" }),
      project
        ? permissionsFields(project.permissions)
        : h(
            "p",
            { class: "hint", "data-testid": "project-permissions-note" },
            "Agents get the default permissions; edit the project to change them.",
          ),
    ],
    onSubmit: ({ mode, allow, deny, ...fields }) =>
      project
        ? actions.updateProject(project.id, { ...fields, permissions: { mode, allow: rules(allow), deny: rules(deny) } })
        : actions.createProject(fields),
  });
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

/** A textarea's rules: one per line, blank lines ignored. */
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
  const parentOptions = [
    ["", "None (a root task)"],
    ...model.tasksOf(projectId).map((t) => [t.id, t.title]),
  ];
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
  ];
  if (!task) body.push(selectField("Parent task", "parentId", parentOptions, { value: parentId ?? "", testid: "task-parent" }));
  return openDialog({
    title: task ? "Edit task" : parentId ? "New child task" : "New task",
    testid: "task-dialog",
    submitLabel: task ? "Save" : "Create task",
    body,
    onSubmit: (values) => {
      if (!task) {
        const { parentId: parent, ...rest } = values;
        return actions.createTask({ ...rest, projectId, parentId: parent || null });
      }
      // Send only what changed: an unchanged status must not add a timeline entry.
      const changed = Object.fromEntries(Object.entries(values).filter(([key, value]) => task[key] !== value));
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

const AGENTS = ["claude", "codex", "custom"];

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
        selectField("Agent", "agent", AGENTS.map((a) => [a, a]), { value: "claude", testid: "spawn-agent" }),
      ),
      textField("Model", "model", { placeholder: "the agent's default", testid: "spawn-model" }),
      textField("Session name", "sessionName", { placeholder: task.title, testid: "spawn-name" }),
    ],
    onSubmit: (values, form) => {
      const body = {
        projectId: task.projectId,
        taskIds: [task.id],
        skills: [...form.querySelectorAll("input[name=skills]:checked")].map((input) => input.value),
        role: values.role,
        agent: values.agent,
      };
      if (values.model.trim()) body.model = values.model.trim();
      if (values.sessionName.trim()) body.sessionName = values.sessionName.trim();
      return actions.spawnWorker(body);
    },
  });
}
