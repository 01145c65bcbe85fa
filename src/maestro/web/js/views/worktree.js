// A session's git worktree (docs/agents.md, "Worktrees"): its branch, from its
// metadata; once the agent exited, what changed on the branch (the last
// `worktree_summary` event: files with +added/−deleted lines, whether work left
// uncommitted was committed, whether the worktree was removed or kept); and the
// `worktree_note` events, what a person should know. Shown in the sessions view
// and in the task detail's sessions. Branch names and file paths come from
// agents: they are only ever inserted as text.

import { h } from "../dom.js";
import { count } from "../format.js";

export const WORKTREE_SUMMARY = "worktree_summary";
export const WORKTREE_NOTE = "worktree_note";

/** "maestro/ab12-parse-config from main", or null for a session without a branch. */
export function branchLabel(session, testid = "session-branch") {
  const meta = session.metadata ?? {};
  if (typeof meta.branch !== "string" || !meta.branch) return null;
  const merged = Array.isArray(meta.mergedBranches) ? meta.mergedBranches.map(String) : [];
  const title = [
    meta.worktree ? `Worktree: ${meta.worktree}` : null,
    meta.baseCommit ? `Base commit: ${meta.baseCommit}` : null,
    merged.length ? `Merged in: ${merged.join(", ")}` : null,
  ]
    .filter(Boolean)
    .join("\n");
  return h(
    "span",
    { class: "branch", "data-testid": testid, title: title || null },
    h("code", { class: "branch-name", "data-testid": `${testid}-name` }, meta.branch),
    meta.baseBranch ? [h("span", { class: "muted" }, " from "), h("code", { "data-testid": `${testid}-base` }, String(meta.baseBranch))] : null,
    merged.length ? h("span", { class: "muted" }, ` · ${merged.length} merged in`) : null,
  );
}

/**
 * What changed on the branch once the agent exited, or null before. `open` and
 * `onToggle(open)` keep the file list expanded across redraws.
 */
export function changeSummary(session, { open = false, onToggle = () => {} } = {}) {
  const data = lastEventData(session, WORKTREE_SUMMARY);
  if (!data) return null;
  const files = Array.isArray(data.files) ? data.files.filter((f) => f && typeof f === "object") : [];
  const added = numberOr(data.added, sum(files, "added"));
  const deleted = numberOr(data.deleted, sum(files, "deleted"));
  const headline = [
    `${count(files.length)} file${files.length === 1 ? "" : "s"} changed `,
    lines(added, deleted),
  ];
  const list = files.length
    ? h(
        "details",
        { class: "changed-files", "data-testid": "session-changes-files", open },
        h("summary", { title: data.head ? `Head: ${data.head}` : null }, headline),
        h(
          "ul",
          {},
          files.map((file) =>
            h(
              "li",
              { "data-testid": "changed-file" },
              h("code", { class: "changed-path", "data-testid": "changed-file-path" }, String(file.path ?? "")),
              lines(file.added, file.deleted),
            ),
          ),
        ),
      )
    : h("span", { "data-testid": "session-changes-files" }, "No files changed");
  if (files.length) list.addEventListener("toggle", () => onToggle(list.open));
  const worktree = data.worktree ?? session.metadata?.worktree;
  return h(
    "div",
    { class: "worktree-summary", "data-testid": "session-changes" },
    list,
    h(
      "div",
      { class: "worktree-state muted" },
      h(
        "span",
        { "data-testid": "session-leftovers" },
        data.committedLeftovers ? "work left uncommitted was committed" : "nothing left uncommitted",
      ),
      " · ",
      h(
        "span",
        { "data-testid": "session-worktree-state" },
        data.removed
          ? "worktree removed"
          : ["worktree kept", worktree ? [" at ", h("code", { "data-testid": "session-worktree-path" }, String(worktree))] : null],
      ),
    ),
  );
}

/** The `worktree_note` events, oldest first, as notes; null when there are none. */
export function worktreeNotes(session) {
  const notes = (session.events ?? []).filter((e) => e.type === WORKTREE_NOTE && e.data?.message != null);
  if (!notes.length) return null;
  return h(
    "ul",
    { class: "worktree-notes" },
    notes.map((note) =>
      h(
        "li",
        { class: "worktree-note", "data-testid": "session-worktree-note" },
        h("strong", { class: "note-mark" }, "Note:"),
        " ",
        String(note.data.message),
      ),
    ),
  );
}

function lastEventData(session, type) {
  const events = session.events ?? [];
  for (let i = events.length - 1; i >= 0; i--) {
    if (events[i].type === type && events[i].data && typeof events[i].data === "object") return events[i].data;
  }
  return null;
}

/** "+12 −3"; git counts no lines in a binary file, shown as "binary". */
function lines(added, deleted) {
  if (typeof added !== "number" || typeof deleted !== "number") {
    return h("span", { class: "line-counts muted" }, "binary");
  }
  return h(
    "span",
    { class: "line-counts", "aria-label": `${added} added, ${deleted} deleted` },
    h("span", { class: "lines-added" }, `+${count(added)}`),
    " ",
    h("span", { class: "lines-deleted" }, `−${count(deleted)}`),
  );
}

function numberOr(value, fallback) {
  return typeof value === "number" ? value : fallback;
}

function sum(files, key) {
  return files.reduce((total, file) => total + (typeof file[key] === "number" ? file[key] : 0), 0);
}
