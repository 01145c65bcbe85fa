"""``maestro project list|create|show|update|delete``"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from maestro.cli.output import JsonFlag, ServerOption, command, fields, say, table, when

app = typer.Typer(
    help="Projects: a name and the working directory agents run in.", no_args_is_help=True
)

ProjectArg = Annotated[str, typer.Argument(help="Project id")]


def show_project(project: dict[str, Any]) -> None:
    fields(
        project["name"],
        [
            ("id", project["id"]),
            ("workingDir", project["workingDir"]),
            ("description", project["description"]),
            ("created", when(project["createdAt"])),
            ("updated", when(project["updatedAt"])),
        ],
    )


@app.command("list")
def list_projects(json: JsonFlag = False, server: ServerOption = None) -> None:
    """List all projects, oldest first."""
    with command(json, server) as cmd:
        projects = cmd.client.get("/api/projects")
        cmd.done(
            projects,
            lambda ps: table(
                "Projects",
                ["id", "name", "workingDir", "created"],
                [(p["id"], p["name"], p["workingDir"], when(p["createdAt"])) for p in ps],
            ),
        )


@app.command("create")
def create_project(
    name: Annotated[str, typer.Argument(help="Project name")],
    working_dir: Annotated[
        str, typer.Option("--dir", "--working-dir", help="Where agents run")
    ] = "",
    description: Annotated[str, typer.Option(help="What the project is")] = "",
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Create a project."""
    with command(json, server) as cmd:
        body = {"name": name, "workingDir": working_dir, "description": description}
        project = cmd.client.post("/api/projects", body)
        cmd.done(project, lambda p: say(f"created project {p['id']} ({p['name']})"))


@app.command("show")
def show(project_id: ProjectArg, json: JsonFlag = False, server: ServerOption = None) -> None:
    """Show one project."""
    with command(json, server) as cmd:
        cmd.done(cmd.client.get(f"/api/projects/{project_id}"), show_project)


@app.command("update")
def update(
    project_id: ProjectArg,
    name: Annotated[str | None, typer.Option(help="New name")] = None,
    working_dir: Annotated[
        str | None, typer.Option("--dir", "--working-dir", help="New working directory")
    ] = None,
    description: Annotated[str | None, typer.Option(help="New description")] = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Change a project's name, working directory or description."""
    with command(json, server) as cmd:
        body = {"name": name, "workingDir": working_dir, "description": description}
        changes = {k: v for k, v in body.items() if v is not None}
        project = cmd.client.put(f"/api/projects/{project_id}", changes)
        cmd.done(project, lambda p: say(f"updated project {p['id']}"))


@app.command("delete")
def delete(project_id: ProjectArg, json: JsonFlag = False, server: ServerOption = None) -> None:
    """Delete a project (refused while it has tasks or sessions)."""
    with command(json, server) as cmd:
        result = cmd.client.delete(f"/api/projects/{project_id}")
        cmd.done(result, lambda r: say(f"deleted project {r['id']}"))
