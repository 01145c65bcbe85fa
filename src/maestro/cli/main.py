"""``maestro``: the entry point and its command groups."""

from __future__ import annotations

import sys

import typer

from maestro.cli import (
    agent_commands,
    agent_init,
    approvals,
    data,
    output,
    projects,
    runner,
    serve,
    sessions,
    skills,
    subtasks,
    tasks,
    tokens,
    worktrees,
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
app.add_typer(approvals.app, name="approval")
app.add_typer(skills.app, name="skill")
app.add_typer(agent_init.worker, name="worker")
app.add_typer(agent_init.orchestrator, name="orchestrator")
app.add_typer(runner.app, name="runner")
app.add_typer(data.app, name="data")
app.add_typer(worktrees.app, name="worktree")
app.add_typer(tokens.app, name="token")


def _register_agent_command(name: str, help: str) -> None:
    """List an agent command in ``maestro --help`` and hand its arguments, ``--help``
    included, to its one definition in ``agent_commands`` (the entry point,
    ``maestro.cli:main``, sends these names there before Typer is even imported)."""

    def run(ctx: typer.Context) -> None:
        raise typer.Exit(agent_commands.main([name, *ctx.args]))

    app.command(
        name,
        help=help,
        hidden=name in agent_commands.HIDDEN,
        add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(run)


for _name, _help in agent_commands.summaries().items():
    _register_agent_command(_name, _help)


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
