"""The Claude Code plugin folder Maestro hands to each Claude session.

It carries the session's skills (``skills/<name>/SKILL.md``, as Claude Code
loads them) and hooks that report back without the agent doing anything:
session start marks the session ``running``, session end ``completed``, and every
Write/Edit is recorded as a ``file_modified`` session event.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from maestro import __version__
from maestro.agents.skills import Skill


def hook_command(event: str) -> str:
    """The shell command a hook runs: this very installation of maestro."""
    return f"{shlex.quote(sys.executable)} -m maestro hook {event}"


def hooks_config() -> dict[str, object]:
    def run(event: str) -> list[dict[str, object]]:
        return [{"type": "command", "command": hook_command(event)}]

    return {
        "hooks": {
            "SessionStart": [{"hooks": run("session-start")}],
            "SessionEnd": [{"hooks": run("session-end")}],
            "PostToolUse": [{"matcher": "Write|Edit|MultiEdit", "hooks": run("file-modified")}],
        }
    }


def write_plugin(folder: Path, skills: Iterable[Skill]) -> Path:
    """(Re)create the plugin folder; returns it."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / ".claude-plugin").mkdir(parents=True)
    manifest = {
        "name": "maestro",
        "version": __version__,
        "description": "Maestro session skills and progress hooks",
    }
    (folder / ".claude-plugin" / "plugin.json").write_text(json.dumps(manifest, indent=2))
    (folder / "hooks").mkdir()
    (folder / "hooks" / "hooks.json").write_text(json.dumps(hooks_config(), indent=2))
    for skill in skills:
        shutil.copytree(skill.path, folder / "skills" / skill.name)
    return folder
