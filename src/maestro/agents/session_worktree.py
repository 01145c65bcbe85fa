"""A session's worktree, as ``worker init`` uses it: decided from the project's
settings, prepared before the agent starts (branches of completed dependencies
merged in), recorded on the session, and concluded when the agent exits.

The git work itself is ``agents.worktree``; this module reads the server and
tells it what happened (the session's ``metadata`` and events, a ``blocker`` on
the tasks when a merge conflicts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from maestro.agents import worktree as wt
from maestro.agents.errors import AgentError
from maestro.client import ClientError, MaestroClient
from maestro.config import maestro_home
from maestro.domain import session_events as se

DEFAULT_SETUP_TIMEOUT = 600.0


def wanted(project: Mapping[str, Any], working_dir: Path) -> Path | None:
    """The repository to make the session's worktree in, or None for none:
    ``worktrees`` ``off``; ``auto`` (the default) outside a git repository."""
    setting = project.get("worktrees") or "auto"
    if setting == "off":
        return None
    repo = wt.repository_of(working_dir)
    if repo is None and setting == "on":
        raise wt.WorktreeError(
            f"the project's worktrees setting is 'on' but its working directory "
            f"{working_dir} is not in a git repository; make it one or set worktrees "
            "to 'auto' or 'off'",
            code="NOT_A_REPOSITORY",
        )
    return repo


def dependency_branches(client: MaestroClient, tasks: Sequence[Mapping[str, Any]]) -> list[str]:
    """The branches of the session's tasks' dependencies, in dependency order: each
    dependency's most recent completed session that worked on a branch."""
    branches: list[str] = []
    for task in tasks:
        for dependency in task.get("dependencies") or []:
            # Within the task's project: a session's token reads only that one.
            sessions = client.list_sessions(
                task.get("projectId"), task_id=dependency, status="completed"
            )
            made = [s.metadata.get("branch") for s in sessions if s.metadata.get("branch")]
            if made and made[-1] not in branches:
                branches.append(str(made[-1]))
    return branches


def open_worktree(
    client: MaestroClient,
    session_id: str,
    project: Mapping[str, Any],
    tasks: Sequence[Mapping[str, Any]],
    working_dir: Path,
    env: Mapping[str, str],
    log: IO[bytes],
    earlier: Mapping[str, Any] | None = None,
) -> tuple[wt.Worktree | None, Path]:
    """Prepare the session's worktree (when the project wants one) and run the
    setup command in it: the worktree, and where the agent runs. A follow-up
    (``earlier``: the earlier session's metadata) goes on in the earlier
    session's worktree and branch."""
    repo = wanted(project, working_dir)
    if repo is None:
        return None, working_dir
    first = tasks[0] if tasks else {"id": session_id, "title": "session"}
    path = maestro_home(env) / "worktrees" / str(project["id"]) / session_id
    earlier_tree = (earlier or {}).get("worktree")
    try:
        if earlier is not None and earlier_tree and earlier.get("branch"):
            tree = wt.reopen(
                repo,
                Path(str(earlier_tree)),
                str(earlier["branch"]),
                str(earlier.get("baseBranch") or ""),
                str(earlier.get("baseCommit") or ""),
            )
        else:
            tree = wt.prepare(
                repo,
                path,
                wt.branch_for(repo, str(first["id"]), str(first.get("title") or "")),
                project.get("baseBranch") or None,
                dependency_branches(client, tasks),
                project.get("worktreeInclude") or [],
            )
    except wt.MergeConflict as conflict:
        _blocked(client, session_id, tasks, conflict)
        raise
    events: list[dict[str, Any]] = [{"type": se.WORKTREE_CREATED, "data": tree.metadata()}]
    events += [{"type": se.WORKTREE_NOTE, "data": {"message": note}} for note in tree.notes]
    client.update_session(session_id, {"metadata": tree.metadata(), "events": events})
    setup = project.get("setupCommand")
    if setup:
        timeout = float(project.get("setupTimeout") or DEFAULT_SETUP_TIMEOUT)
        wt.run_setup(tree.path, str(setup), timeout, log)
    return tree, tree.path / working_dir.relative_to(repo)


def _blocked(
    client: MaestroClient,
    session_id: str,
    tasks: Sequence[Mapping[str, Any]],
    conflict: wt.MergeConflict,
) -> None:
    """A ``blocker`` on each task naming the branch and files that conflict."""
    for task in tasks:
        try:
            client.add_timeline_event(
                str(task["id"]),
                {"type": "blocker", "message": conflict.message, "sessionId": session_id},
            )
        except ClientError:
            continue


def close_worktree(session_id: str, tree: wt.Worktree, completed: bool) -> dict[str, Any]:
    """Commit the agent's leftovers, and remove the worktree if the session
    completed (kept, for inspection, if it failed): the session event saying so
    (``worktree_summary``, or a ``worktree_note`` when git failed). Done before
    the session is marked finished, so whoever reads its branch then (a
    dependent task's worktree) finds all of its work."""
    try:
        summary = wt.conclude(tree, completed, f"Maestro: work left uncommitted by {session_id}")
    except AgentError as error:
        return {"type": se.WORKTREE_NOTE, "data": {"message": error.message}}
    data = {**summary.data(), "removed": completed, "worktree": str(tree.path)}
    return {"type": se.WORKTREE_SUMMARY, "data": data}
