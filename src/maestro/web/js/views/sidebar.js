// The projects sidebar: the list, and create / edit / delete.

import { fill, h } from "../dom.js";
import { href } from "../router.js";

export class Sidebar {
  constructor(root, { onCreate, onEdit, onDelete }) {
    this.root = root;
    this.onCreate = onCreate;
    this.onEdit = onEdit;
    this.onDelete = onDelete;
  }

  render(model, route) {
    const counts = new Map();
    for (const task of model.tasks.values()) counts.set(task.projectId, (counts.get(task.projectId) ?? 0) + 1);
    const projects = model.projectList();
    fill(
      this.root,
      h(
        "div",
        { class: "sidebar-head" },
        h("h2", {}, "Projects"),
        h(
          "button",
          {
            type: "button",
            class: "button small",
            "data-testid": "new-project",
            "data-focus-key": "new-project",
            onclick: () => this.onCreate(),
          },
          "+ New",
        ),
      ),
      projects.length
        ? h(
            "ul",
            { class: "project-list", "data-testid": "project-list" },
            projects.map((project) => this.item(project, counts.get(project.id) ?? 0, route)),
          )
        : h("p", { class: "muted" }, model.loaded ? "No projects yet." : "Loading…"),
    );
  }

  item(project, count, route) {
    const selected = project.id === route.projectId;
    return h(
      "li",
      {
        class: selected ? "project-item selected" : "project-item",
        "data-testid": "project-item",
        "data-project-id": project.id,
      },
      h(
        "a",
        {
          class: "project-link",
          href: href({ projectId: project.id }),
          "aria-current": selected ? "page" : null,
          "data-testid": "project-link",
          "data-focus-key": `project-${project.id}`,
        },
        h("span", { class: "project-name" }, project.name),
        h("span", { class: "count", title: `${count} task(s)` }, String(count)),
      ),
      h(
        "button",
        {
          type: "button",
          class: "icon-button",
          title: "Edit project",
          "aria-label": `Edit project ${project.name}`,
          "data-testid": "project-edit",
          "data-focus-key": `project-edit-${project.id}`,
          onclick: () => this.onEdit(project),
        },
        "✎",
      ),
      h(
        "button",
        {
          type: "button",
          class: "icon-button danger",
          title: "Delete project",
          "aria-label": `Delete project ${project.name}`,
          "data-testid": "project-delete",
          "data-focus-key": `project-delete-${project.id}`,
          onclick: () => this.onDelete(project),
        },
        "✕",
      ),
    );
  }
}
