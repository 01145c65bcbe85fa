"""``maestro skill list|show``: the skills this machine has, read from disk
(built-in ones and those in ``MAESTRO_SKILLS_DIR``) — the same ones
``maestro worker init`` hands to the agent."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from maestro.cli.errors import EXIT_NOT_FOUND, CommandError
from maestro.cli.output import JsonFlag, ServerOption, command, console, errors, fields, table
from maestro.config import user_skills_dir
from maestro.skills import Skill, discover

app = typer.Typer(
    help="Skills: instructions (SKILL.md folders) handed to agents.", no_args_is_help=True
)


def known_skills() -> dict[str, Skill]:
    """Every readable skill by name; unreadable ones are reported on stderr."""
    skills, problems = discover(user_skills_dir())
    for problem in problems:
        errors.print(
            f"[yellow]warning:[/yellow] skipped a skill: {escape(problem)}", highlight=False
        )
    return skills


@app.command("list")
def list_skills(json: JsonFlag = False, server: ServerOption = None) -> None:
    """List the available skills: built-in and from MAESTRO_SKILLS_DIR."""
    with command(json, server) as cmd:
        summaries = [s.summary() for s in sorted(known_skills().values(), key=lambda s: s.name)]
        cmd.done(
            summaries,
            lambda ss: table(
                "Skills",
                ["name", "description", "source"],
                [(s["name"], s["description"], s["source"]) for s in ss],
            ),
        )


def show_skill(skill: dict[str, Any]) -> None:
    fields(
        skill["name"],
        [
            ("description", skill["description"]),
            ("source", skill["source"]),
            ("path", skill["path"]),
        ],
    )
    console.print()
    console.print(skill["instructions"], markup=False, highlight=False)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Skill name")],
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Show a skill and the instructions it gives the agent."""
    with command(json, server) as cmd:
        skill = known_skills().get(name)
        if skill is None:
            raise CommandError(
                f"skill {name} not found; `maestro skill list` shows the available ones",
                code="SKILL_NOT_FOUND",
                exit_code=EXIT_NOT_FOUND,
            )
        cmd.done(skill.detail(), show_skill)
