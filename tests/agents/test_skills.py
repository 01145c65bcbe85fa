"""Skills: SKILL.md folders, built in or from MAESTRO_SKILLS_DIR."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from maestro.skills import SkillFormatError, discover, parse_skill


def write_skill(root: Path, folder: str, text: str) -> Path:
    (root / folder).mkdir(parents=True)
    (root / folder / "SKILL.md").write_text(text)
    return root / folder


def test_builtin_skills_are_the_worker_and_the_orchestrator() -> None:
    skills, problems = discover(None)
    assert {"maestro-worker", "maestro-orchestrator"} <= set(skills)
    assert problems == []
    assert all(s.source == "builtin" and s.description for s in skills.values())


def test_builtin_worker_skill_names_the_report_commands() -> None:
    skills, _ = discover(None)
    text = skills["maestro-worker"].instructions
    for command in ("maestro report progress", "maestro report blocked",
                    "maestro report complete", "maestro subtask done"):  # fmt: skip
        assert command in text


def test_front_matter_fields_are_read_and_extra_fields_kept(tmp_path: Path) -> None:
    folder = write_skill(
        tmp_path, "deploy", "---\nname: deploy\ndescription: Ship it\nowner: ops\n---\n# Steps\n"
    )
    skill = parse_skill(folder, "user")
    assert (skill.name, skill.description, skill.metadata) == (
        "deploy",
        "Ship it",
        {"owner": "ops"},
    )
    assert skill.instructions == "# Steps\n"


def test_a_user_skill_overrides_a_builtin_of_the_same_name(tmp_path: Path) -> None:
    write_skill(tmp_path, "mine", "---\nname: maestro-worker\ndescription: Custom\n---\nHi\n")
    skills, _ = discover(tmp_path)
    assert skills["maestro-worker"].source == "user"


def test_an_unreadable_skill_is_reported_not_fatal(tmp_path: Path) -> None:
    write_skill(tmp_path, "broken", "---\nname: [unclosed\n---\nbody\n")
    write_skill(tmp_path, "fine", "---\nname: fine\ndescription: ok\n---\nbody\n")
    skills, problems = discover(tmp_path)
    assert "fine" in skills and "broken" not in skills
    assert len(problems) == 1 and "broken" in problems[0]


def test_front_matter_without_a_closing_line_is_a_format_error(tmp_path: Path) -> None:
    folder = write_skill(tmp_path, "open", "---\nname: open\n")
    with pytest.raises(SkillFormatError, match="closing"):
        parse_skill(folder, "user")


def test_server_lists_skills_with_name_description_source(api: httpx.Client) -> None:
    listed = api.get("/api/skills").json()
    names = [s["name"] for s in listed]
    assert "maestro-worker" in names
    assert set(listed[0]) == {"name", "description", "source"}


def test_server_shows_one_skill_with_its_instructions(api: httpx.Client) -> None:
    skill = api.get("/api/skills/maestro-orchestrator").json()
    assert "maestro session spawn" in skill["instructions"]


def test_server_answers_404_for_an_unknown_skill(api: httpx.Client) -> None:
    response = api.get("/api/skills/no-such-skill")
    assert response.status_code == 404
    assert response.json()["code"] == "SKILL_NOT_FOUND"
