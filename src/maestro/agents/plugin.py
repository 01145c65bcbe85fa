"""The Claude Code plugin folder Maestro hands to each Claude session.

It carries the session's skills (``skills/<name>/SKILL.md``, as Claude Code
loads them) and hooks that report back without the agent doing anything: the
start and end of the Claude session become session events (the start also
records Claude's own session id), every Write/Edit/NotebookEdit is recorded
as a ``file_modified`` session event, and a tool call the policy does not allow
is put to a person as an approval (``agents.approval``), the agent waiting for
the decision. Hooks never change the session's status:
``worker init`` owns it, deciding from the agent's exit and its final result.

``claude plugin validate --strict`` accepts the folder (a test checks it).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from maestro import __version__
from maestro.agents.approval import MAX_WAIT_SECONDS
from maestro.skills import Skill


def hook_command(event: str) -> str:
    """The shell command a hook runs: this very installation of maestro."""
    return f"{shlex.quote(sys.executable)} -m maestro hook {event}"


HOOK_TIMEOUT_SECONDS = 30
"""A hook is one short HTTP call; if the server is away, the agent goes on."""

FILE_TOOLS = "Write|Edit|NotebookEdit"
APPROVAL_SLACK_SECONDS = 300


def hooks_config() -> dict[str, object]:
    def run(event: str, timeout: float = HOOK_TIMEOUT_SECONDS) -> list[dict[str, object]]:
        return [{"type": "command", "command": hook_command(event), "timeout": int(timeout)}]

    return {
        "hooks": {
            "SessionStart": [{"hooks": run("session-start")}],
            "SessionEnd": [{"hooks": run("session-end")}],
            "PostToolUse": [{"matcher": FILE_TOOLS, "hooks": run("file-modified")}],
            # The hook ends itself when the approval's deadline has passed; Claude
            # Code's own timeout (a denial) is only the backstop.
            "PermissionRequest": [
                {"hooks": run("permission-request", MAX_WAIT_SECONDS + APPROVAL_SLACK_SECONDS)}
            ],
        }
    }


README = """# Maestro session plugin

Made by `maestro worker init` for one Maestro session and passed to Claude Code
with `--plugin-dir`. It carries the skills the session was spawned with, and
hooks that tell the Maestro server when the Claude session starts and ends and
which files the agent writes or edits, so the board shows them live. It is
rewritten for every session; edit the skills in Maestro, not here.
"""


def write_plugin(folder: Path, skills: Iterable[Skill]) -> Path:
    """(Re)create the plugin folder; returns it."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / ".claude-plugin").mkdir(parents=True)
    manifest = {
        "name": "maestro",
        "version": __version__,
        "description": "Maestro session skills and progress hooks",
        "author": {"name": "Maestro"},
        "license": "MIT",
    }
    (folder / ".claude-plugin" / "plugin.json").write_text(json.dumps(manifest, indent=2))
    (folder / "README.md").write_text(README)
    (folder / "hooks").mkdir()
    (folder / "hooks" / "hooks.json").write_text(json.dumps(hooks_config(), indent=2))
    for skill in skills:
        shutil.copytree(skill.path, folder / "skills" / skill.name)
    return folder
