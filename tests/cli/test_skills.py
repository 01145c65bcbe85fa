"""``maestro skill list|show``: skills on this machine, built-in and user."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cli


def write_skill(root: Path, name: str, description: str, body: str) -> None:
    folder = root / name
    folder.mkdir()
    (folder / "SKILL.md").write_text(
        f"---\nname: {name}\ndescription: {description}\n---\n{body}\n", encoding="utf-8"
    )


def test_list_has_builtin_and_user_skills(cli: Cli, skills_dir: Path) -> None:
    write_skill(skills_dir, "reviewer", "Reviews diffs", "Read the diff.")
    result = cli("skill", "list", "--json")
    assert result.code == 0, result.stderr
    by_name = {s["name"]: s for s in result.data}
    assert by_name["reviewer"] == {
        "name": "reviewer",
        "description": "Reviews diffs",
        "source": "user",
    }
    assert by_name["maestro-worker"]["source"] == "builtin"
    assert by_name["maestro-orchestrator"]["source"] == "builtin"


def test_show_gives_the_instructions(cli: Cli, skills_dir: Path) -> None:
    write_skill(skills_dir, "reviewer", "Reviews diffs", "Read the diff, then comment.")
    machine = cli("skill", "show", "reviewer", "--json")
    assert machine.code == 0, machine.stderr
    assert machine.data["instructions"] == "Read the diff, then comment.\n"
    assert machine.data["source"] == "user"
    human = cli("skill", "show", "reviewer")
    assert "Read the diff, then comment." in human.stdout


def test_a_user_skill_replaces_the_builtin_of_the_same_name(cli: Cli, skills_dir: Path) -> None:
    write_skill(skills_dir, "maestro-worker", "Custom worker", "Our own rules.")
    result = cli("skill", "show", "maestro-worker", "--json")
    assert result.data["source"] == "user"
    assert result.data["instructions"] == "Our own rules.\n"


def test_unknown_skill_is_not_found(cli: Cli) -> None:
    machine = cli("skill", "show", "no-such-skill", "--json")
    assert machine.code == 2
    assert machine.json["error"] == "SKILL_NOT_FOUND"
    human = cli("skill", "show", "no-such-skill")
    assert human.code == 2
    assert human.stderr.strip().splitlines() == [
        "error: skill no-such-skill not found; `maestro skill list` shows the available ones"
    ]
