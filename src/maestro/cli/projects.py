"""``maestro project list|create|show|update|delete|permissions|usage``"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from maestro.cli.defaults import nullable
from maestro.cli.errors import CommandError
from maestro.cli.output import (
    JsonFlag,
    ServerOption,
    command,
    errors,
    fields,
    say,
    table,
    when,
)
from maestro.cli.usage import show_rollup
from maestro.domain.models import PermissionPolicy, Project
from maestro.domain.vocabulary import AGENT_NAMES

app = typer.Typer(
    help="Projects: a name and the working directory agents run in.", no_args_is_help=True
)

ProjectArg = Annotated[str, typer.Argument(help="Project id")]

# What each permission mode lets a spawned Claude Code do without asking.
MODES = {
    "default": "asks before edits and commands the rules do not allow",
    "acceptEdits": "edits files without asking; commands follow the rules",
    "plan": "read-only: plans, changes nothing",
    "bypassPermissions": "DANGEROUS: runs every command without asking",
}
DEFAULT_MODE = PermissionPolicy().mode


WorktreesOption = Annotated[
    str | None,
    typer.Option(help="auto (in a git repository), on or off: a git worktree per session"),
]
BaseBranchOption = Annotated[
    str | None,
    typer.Option(help="Branch worktrees start from (`null`: the one checked out in --dir)"),
]
SetupCommandOption = Annotated[
    str | None, typer.Option(help="Shell command run in each new worktree first (`null`: none)")
]
SetupTimeoutOption = Annotated[
    int | None, typer.Option(help="Seconds the setup command may take (default 600)")
]
IncludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--include",
        help="Glob of untracked files (.env) to copy into worktrees (repeatable; replaces "
        "the list; --include '' empties it)",
    ),
]
AgentOption = Annotated[
    str | None,
    typer.Option(help=f"Default agent of spawns naming none: {', '.join(AGENT_NAMES)} (`null`)"),
]
ModelOption = Annotated[str | None, typer.Option(help="Default model of spawns (`null`)")]
MaxConcurrentOption = Annotated[
    int | None, typer.Option(help="Dispatched sessions active at once (default 2)")
]


def settings_body(
    worktrees: str | None,
    base_branch: str | None,
    setup_command: str | None,
    setup_timeout: int | None,
    include: list[str] | None,
    agent: str | None,
    model: str | None,
    max_concurrent: int | None,
) -> dict[str, Any]:
    """The settings given on the command line, as the API takes them: an option
    not given is left out; ``null`` (or an empty value) clears a text setting."""
    body: dict[str, Any] = {
        key: value
        for key, value in (
            ("worktrees", worktrees),
            ("setupTimeout", setup_timeout),
            ("maxConcurrent", max_concurrent),
        )
        if value is not None
    }
    for key, text in (
        ("baseBranch", base_branch),
        ("setupCommand", setup_command),
        ("agent", agent),
        ("model", model),
    ):
        if text is not None:
            body[key] = nullable(text)
    if include is not None:
        body["worktreeInclude"] = [pattern for pattern in include if pattern.strip()]
    return body


def policy_pairs(policy: PermissionPolicy) -> list[tuple[str, Any]]:
    """The rows of a field view for a permission policy: mode, allow, deny."""
    mode = policy.mode
    explained = f"{mode} ({MODES[mode]})" if mode in MODES else mode
    return [
        ("mode", explained),
        ("allow", "\n".join(policy.allow)),
        ("deny", "\n".join(policy.deny)),
    ]


def show_project(project: Project) -> None:
    fields(
        project.name,
        [
            ("id", project.id),
            ("workingDir", project.working_dir),
            ("description", project.description),
            ("created", when(project.created_at)),
            ("updated", when(project.updated_at)),
            ("worktrees", project.worktrees),
            ("baseBranch", project.base_branch or "(the checked-out branch)"),
            ("setupCommand", project.setup_command),
            ("setupTimeout", f"{project.setup_timeout}s"),
            ("worktreeInclude", "\n".join(project.worktree_include)),
            ("agent", project.agent or "(claude)"),
            ("model", project.model),
            ("maxConcurrent", project.max_concurrent),
            *policy_pairs(project.permissions),
        ],
    )


def changed_policy(
    policy: PermissionPolicy,
    allow: list[str],
    deny: list[str],
    remove: list[str],
    mode: str | None,
) -> dict[str, Any]:
    """``policy`` with rules added (once each), rules removed from both lists, and
    the mode set; the server validates the result."""
    allowed = [r for r in policy.allow if r not in remove]
    denied = [r for r in policy.deny if r not in remove]
    allowed += [r for r in dict.fromkeys(allow) if r not in allowed]
    denied += [r for r in dict.fromkeys(deny) if r not in denied]
    return {"mode": mode or policy.mode, "allow": allowed, "deny": denied}


@app.command("list")
def list_projects(json: JsonFlag = False, server: ServerOption = None) -> None:
    """List all projects, oldest first."""
    with command(json, server) as cmd:
        projects = cmd.client.list_projects()
        cmd.done(
            projects,
            lambda ps: table(
                "Projects",
                ["id", "name", "workingDir", "created"],
                [(p.id, p.name, p.working_dir, when(p.created_at)) for p in ps],
            ),
        )


@app.command("create")
def create_project(
    name: Annotated[str, typer.Argument(help="Project name")],
    working_dir: Annotated[
        str, typer.Option("--dir", "--working-dir", help="Where agents run")
    ] = "",
    description: Annotated[str, typer.Option(help="What the project is")] = "",
    worktrees: WorktreesOption = None,
    base_branch: BaseBranchOption = None,
    setup_command: SetupCommandOption = None,
    setup_timeout: SetupTimeoutOption = None,
    include: IncludeOption = None,
    agent: AgentOption = None,
    model: ModelOption = None,
    max_concurrent: MaxConcurrentOption = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Create a project (its worktree and dispatch settings: docs/agents.md)."""
    with command(json, server) as cmd:
        body = {"name": name, "workingDir": working_dir, "description": description}
        body |= settings_body(
            worktrees,
            base_branch,
            setup_command,
            setup_timeout,
            include,
            agent,
            model,
            max_concurrent,
        )
        project = cmd.client.create_project(body)
        cmd.done(project, lambda p: say(f"created project {p.id} ({p.name})"))


@app.command("show")
def show(project_id: ProjectArg, json: JsonFlag = False, server: ServerOption = None) -> None:
    """Show one project."""
    with command(json, server) as cmd:
        cmd.done(cmd.client.get_project(project_id), show_project)


@app.command("update")
def update(
    project_id: ProjectArg,
    name: Annotated[str | None, typer.Option(help="New name")] = None,
    working_dir: Annotated[
        str | None, typer.Option("--dir", "--working-dir", help="New working directory")
    ] = None,
    description: Annotated[str | None, typer.Option(help="New description")] = None,
    worktrees: WorktreesOption = None,
    base_branch: BaseBranchOption = None,
    setup_command: SetupCommandOption = None,
    setup_timeout: SetupTimeoutOption = None,
    include: IncludeOption = None,
    agent: AgentOption = None,
    model: ModelOption = None,
    max_concurrent: MaxConcurrentOption = None,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Change a project's name, working directory, description or settings; only
    the options given change (`null` clears a setting)."""
    with command(json, server) as cmd:
        body = {"name": name, "workingDir": working_dir, "description": description}
        changes: dict[str, Any] = {k: v for k, v in body.items() if v is not None}
        changes |= settings_body(
            worktrees,
            base_branch,
            setup_command,
            setup_timeout,
            include,
            agent,
            model,
            max_concurrent,
        )
        project = cmd.client.update_project(project_id, changes)
        cmd.done(project, lambda p: say(f"updated project {p.id}"))


@app.command("delete")
def delete(project_id: ProjectArg, json: JsonFlag = False, server: ServerOption = None) -> None:
    """Delete a project (refused while it has tasks or sessions)."""
    with command(json, server) as cmd:
        result = cmd.client.delete_project(project_id)
        cmd.done(result, lambda r: say(f"deleted project {r.id}"))


@app.command("permissions")
def permissions(
    project_id: ProjectArg,
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow", help="Add a rule agents may use without asking, e.g. 'Bash(npm test:*)'"
        ),
    ] = None,
    deny: Annotated[
        list[str] | None,
        typer.Option("--deny", help="Add a rule agents may never use, e.g. 'Bash(git push:*)'"),
    ] = None,
    remove: Annotated[
        list[str] | None,
        typer.Option("--remove", help="Remove a rule from both lists"),
    ] = None,
    mode: Annotated[
        str | None, typer.Option(help=f"Permission mode: {', '.join(MODES)}", show_default=False)
    ] = None,
    reset: Annotated[
        bool,
        typer.Option("--reset", help="Back to the server's default rules (with --mode: that mode)"),
    ] = False,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Show or change what the project's agents may do without asking.

    Rules are Claude Code permission rules (`Bash(npm test:*)`, `Edit`,
    `WebFetch(domain:example.com)`); every option but --reset repeats. Without
    options, shows the policy. With --json, data is the policy {"mode", "allow", "deny"}.
    """
    with command(json, server) as cmd:
        if reset and (allow or deny or remove):
            raise CommandError(
                "--reset restores the default rules; add or remove rules in a second command",
                code="VALIDATION_ERROR",
            )
        project = cmd.client.get_project(project_id)
        policy = project.permissions
        if reset:
            # allow and deny left out: the server fills in its defaults.
            body: dict[str, Any] | None = {"mode": mode or DEFAULT_MODE}
        elif allow or deny or remove or mode:
            body = changed_policy(policy, allow or [], deny or [], remove or [], mode)
            listed = [*policy.allow, *policy.deny]
            for rule in [r for r in remove or [] if r not in listed]:
                warn(f"{escape(rule)} is in neither list; nothing to remove")
        else:
            body = None
        if body is not None:
            policy = cmd.client.update_project(project_id, {"permissions": body}).permissions
            if policy.mode == "bypassPermissions":
                warn(
                    "mode bypassPermissions: the project's agents will now run "
                    "every command without asking"
                )
        cmd.done(policy, lambda p: fields(f"Permissions of {project.name}", policy_pairs(p)))


def warn(markup: str) -> None:
    errors.print(f"[yellow]warning:[/yellow] {markup}", highlight=False)


@app.command("usage")
def usage(project_id: ProjectArg, json: JsonFlag = False, server: ServerOption = None) -> None:
    """Tokens, cost and turns of all the project's sessions, summed.

    With --json, data is the body of GET /api/projects/{id}/usage.
    """
    with command(json, server) as cmd:
        rollup = cmd.client.project_usage(project_id)
        cmd.done(rollup, lambda r: show_rollup(f"Usage of project {project_id}", r))
