"""Skills: folders holding a ``SKILL.md`` (YAML front matter + Markdown
instructions), the layout Claude Code uses for its own skills.

Built-in skills ship in the package (``maestro/skills``); extra ones come from
``MAESTRO_SKILLS_DIR``. A user skill with a built-in's name replaces it, so the
default worker instructions can be customised without forking Maestro.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BUILTIN_DIR = Path(__file__).resolve().parent


class SkillFormatError(ValueError):
    """A SKILL.md that cannot be read; the message names the file."""


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    source: str  # "builtin" or "user"
    path: Path
    instructions: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, str]:
        return {"name": self.name, "description": self.description, "source": self.source}

    def detail(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "instructions": self.instructions,
            "metadata": self.metadata,
            "path": str(self.path),
        }


def parse_skill(folder: Path, source: str) -> Skill:
    """Read ``folder/SKILL.md``: front matter between ``---`` lines, then Markdown."""
    path = folder / "SKILL.md"
    text = path.read_text(encoding="utf-8")
    meta: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        parts = text.split("\n---", 1)
        if len(parts) != 2:
            raise SkillFormatError(f"{path}: the front matter has no closing '---' line")
        try:
            loaded = yaml.safe_load(parts[0].removeprefix("---")) or {}
        except yaml.YAMLError as error:
            raise SkillFormatError(
                f"{path}: the front matter is not valid YAML ({error})"
            ) from None
        if not isinstance(loaded, dict):
            raise SkillFormatError(f"{path}: the front matter must be a YAML mapping")
        meta = loaded
        body = parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""
    name = str(meta.pop("name", folder.name))
    description = str(meta.pop("description", ""))
    return Skill(name, description, source, folder, body.strip() + "\n", meta)


def _scan(root: Path, source: str, found: dict[str, Skill], problems: list[str]) -> None:
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if (folder / "SKILL.md").is_file():
            try:
                skill = parse_skill(folder, source)
            except (OSError, UnicodeDecodeError, SkillFormatError) as error:
                problems.append(str(error))
                continue
            found[skill.name] = skill


def discover(extra_dir: Path | None = None) -> tuple[dict[str, Skill], list[str]]:
    """All skills by name (user skills override built-ins), and unreadable ones."""
    found: dict[str, Skill] = {}
    problems: list[str] = []
    _scan(BUILTIN_DIR, "builtin", found, problems)
    if extra_dir is not None:
        _scan(extra_dir, "user", found, problems)
    return found, problems
