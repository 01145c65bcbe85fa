"""The session events Maestro's own tools write (``PATCH /api/sessions/:id``
``events``). The server stores any event type; these are the ones the runner,
``worker init``, the hooks and ``maestro report`` write, named once."""

from __future__ import annotations

SPAWN_FAILED = "spawn_failed"
"""The runner could not open the terminal (data: ``reason``)."""
INIT_FAILED = "init_failed"
"""``worker init`` refused to start the agent (data: ``reason``)."""
SKILL_MISSING = "skill_missing"
AGENT_STARTED = "agent_started"
"""data: ``agent``, ``cwd``, ``program``, ``permissionMode``."""
AGENT_EXITED = "agent_exited"
"""data: ``exitCode``, and ``reason`` when the agent failed."""
AGENT_RESULT = "agent_result"
"""The agent's final answer (data: ``isError``, ``text``, ``turns``)."""
PERMISSION_DENIED = "permission_denied"
"""A tool call the project's policy did not allow (data: ``tool``, ``input``,
``rule``, ``policy``)."""
REPORTS_FAILED = "reports_failed"
"""The agent ran ``maestro report`` and none reached the server."""
NO_REPORTS = "no_reports"
"""The agent finished without reporting anything (a warning)."""
AGENT_SESSION_START = "agent_session_start"
AGENT_SESSION_END = "agent_session_end"
FILE_MODIFIED = "file_modified"
WORKTREE_CREATED = "worktree_created"
"""The session's git worktree (data: ``worktree``, ``branch``, ``baseBranch``,
``baseCommit``, ``mergedBranches``)."""
WORKTREE_NOTE = "worktree_note"
"""Something a person should know about the worktree (data: ``message``)."""
WORKTREE_SUMMARY = "worktree_summary"
"""When the agent exited: the branch's head and changed files with line counts
(data: ``branch``, ``head``, ``baseCommit``, ``committedLeftovers``, ``files``
[``path``, ``added``, ``deleted``], ``added``, ``deleted``, ``removed``, ``worktree``)."""
RUNNER_LOST = "runner_lost"
"""The server failed the running session: its runner missed its heartbeats (data:
``runnerId``, ``runner``, ``host``, ``reason``)."""
REPORT_PREFIX = "report:"
"""``report:progress``, ``report:complete``...: what ``maestro report`` adds."""


def failed(event_type: str, data: dict[str, object]) -> dict[str, object]:
    """The ``PATCH /api/sessions/:id`` body that marks a session failed, with the
    reason recorded as an event of ``event_type`` (the runner's ``spawn_failed``,
    ``worker init``'s ``init_failed``...)."""
    return {"status": "failed", "events": [{"type": event_type, "data": data}]}
