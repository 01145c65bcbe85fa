"""``maestro``: the entry point and its command groups."""

from __future__ import annotations

import sys

import typer

from maestro.cli import (
    agent_init,
    data,
    output,
    projects,
    report,
    runner,
    serve,
    sessions,
    skills,
    subtasks,
    tasks,
)

app = typer.Typer(
    name="maestro",
    help="Run many AI coding agents on your projects' tasks and watch it all live.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.add_typer(projects.app, name="project")
app.add_typer(tasks.app, name="task")
app.add_typer(subtasks.app, name="subtask")
app.add_typer(sessions.app, name="session")
app.add_typer(report.app, name="report")
app.add_typer(skills.app, name="skill")
app.add_typer(agent_init.worker, name="worker")
app.add_typer(agent_init.orchestrator, name="orchestrator")
app.command("whoami")(agent_init.whoami)
app.command("hook", hidden=True)(agent_init.hook)
app.command("runner")(runner.runner)
app.add_typer(data.app, name="data")


@app.callback()
def _root() -> None:
    """Maestro: a server that stores projects, tasks and agent sessions, and the CLI
    that spawns and reports on agents."""


def main() -> None:
    """Run the command. Click's usage errors exit 1, not Click's 2, which this CLI
    reserves for "not found"; they are told apart by ``output.failed_on_purpose``."""
    try:
        app()
    except SystemExit as done:
        if done.code == 2 and not output.failed_on_purpose:
            sys.exit(1)
        raise
