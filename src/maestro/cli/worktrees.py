"""``maestro worktree list|prune``: the sessions' git worktrees on this machine
(under ``$MAESTRO_HOME/worktrees/<projectId>/<sessionId>``), and cleaning them
up. Only those folders are ever removed; branches are never deleted (a
session's work lives on its ``maestro/...`` branch)."""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from maestro.agents import worktree as wt
from maestro.cli.errors import CommandError
from maestro.cli.output import JsonFlag, ServerOption, command, say, table, when
from maestro.client import ApiError, ClientError, MaestroClient
from maestro.config import maestro_home
from maestro.domain.vocabulary import FINISHED_SESSION_STATUSES

app = typer.Typer(help="The sessions' git worktrees on this machine.", no_args_is_help=True)

_DURATION = re.compile(r"^(\d+)([smhdw]?)$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds_of(text: str) -> float:
    """``7d``, ``12h``, ``30m``, ``45s``, ``2w`` or a number of seconds."""
    found = _DURATION.match(text.strip().lower())
    if found is None:
        raise CommandError(
            f"--older-than takes a duration such as 7d, 12h or 30m, got {text!r}",
            code="VALIDATION_ERROR",
        )
    return int(found.group(1)) * _SECONDS[found.group(2)]


@dataclass
class Found:
    """One session folder under ``worktrees/``, and what is known of it."""

    path: Path
    project_id: str
    session_id: str
    repo: Path | None  # None: git no longer knows it (an orphan)
    branch: str | None
    session_status: str  # the session's status, "deleted", or "unknown"
    modified: float

    def data(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "projectId": self.project_id,
            "sessionId": self.session_id,
            "repository": None if self.repo is None else str(self.repo),
            "branch": self.branch,
            "sessionStatus": self.session_status,
            "orphan": self.repo is None,
            "modifiedAt": int(self.modified * 1000),
        }

    @property
    def finished(self) -> bool:
        return self.session_status in FINISHED_SESSION_STATUSES or self.session_status == "deleted"


def repository_of_worktree(path: Path) -> Path | None:
    """The repository a worktree folder belongs to, if git still knows it as one."""
    if not (path / ".git").is_file():
        return None
    common = wt.git(path, "rev-parse", "--path-format=absolute", "--git-common-dir", check=False)
    if not common:
        return None
    repo = Path(common).parent
    listed = wt.git(repo, "worktree", "list", "--porcelain", check=False)
    return repo if f"worktree {path.resolve()}" in listed.splitlines() else None


def status_of(client: MaestroClient | None, session_id: str) -> str:
    if client is None:
        return "unknown"
    try:
        return client.get_session(session_id).status
    except ApiError as error:
        return "deleted" if error.status == 404 else "unknown"
    except ClientError:
        return "unknown"


def survey(client: MaestroClient | None) -> list[Found]:
    root = maestro_home(os.environ) / "worktrees"
    found = []
    for project in sorted(p for p in root.glob("*") if p.is_dir()):
        for folder in sorted(p for p in project.glob("*") if p.is_dir()):
            repo = repository_of_worktree(folder)
            branch = wt.git(folder, "branch", "--show-current", check=False) if repo else None
            found.append(
                Found(
                    folder,
                    project.name,
                    folder.name,
                    repo,
                    branch or None,
                    status_of(client, folder.name),
                    folder.stat().st_mtime,
                )
            )
    return found


def show(entries: list[Found]) -> None:
    table(
        "Worktrees",
        ["session", "status", "branch", "project", "modified", "path"],
        [
            (
                f.session_id,
                f.session_status + (" (orphan)" if f.repo is None else ""),
                f.branch,
                f.project_id,
                when(int(f.modified * 1000)),
                f.path,
            )
            for f in entries
        ],
    )


@app.command("list")
def list_worktrees(json: JsonFlag = False, server: ServerOption = None) -> None:
    """The sessions' worktrees on this machine, with their sessions' status.

    The status is "deleted" when the server no longer has the session; "orphan"
    marks a folder git no longer knows as a worktree.
    """
    with command(json, server) as cmd:
        entries = survey(cmd.client)
        cmd.done([f.data() for f in entries], lambda _: show(entries))


@app.command("prune")
def prune(
    older_than: Annotated[
        str, typer.Option(help="Only worktrees not modified for this long (7d, 12h, 30m)")
    ] = "0",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing")
    ] = False,
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Remove the worktrees of finished or deleted sessions, and folders git no
    longer knows (orphans). Running sessions' worktrees, the branches and the
    repositories' own checkouts are never touched. A session the server cannot
    be asked about (unreachable) is left alone."""
    with command(json, server) as cmd:
        age = seconds_of(older_than)
        now = time.time()
        removed = []
        repos = set()
        for found in survey(cmd.client):
            if found.repo is not None:
                repos.add(found.repo)
            if now - found.modified < age:
                continue
            if found.repo is not None and not found.finished:
                continue
            if not dry_run:
                if found.repo is not None:
                    wt.remove(found.repo, found.path)
                else:
                    shutil.rmtree(found.path, ignore_errors=True)
            removed.append(found.data())
        if not dry_run:
            for repo in repos:
                wt.git(repo, "worktree", "prune", check=False)
        verb = "would remove" if dry_run else "removed"
        lines = [f"  {e['path']} ({e['sessionStatus']})" for e in removed]
        cmd.done(
            {"removed": removed, "dryRun": dry_run},
            lambda _: say("\n".join([f"{verb} {len(removed)} worktree(s)", *lines])),
        )
