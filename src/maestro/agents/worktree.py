"""A git worktree of its own for each session's agent, so agents working on one
repository at once never edit the same checkout.

``worker init`` prepares one (``prepare``): a new branch ``maestro/<task>-<title>``
from the project's base branch, with the branches of the task's completed
dependencies merged in (in dependency order), the untracked files the project
asks for copied in (``.env`` and the like: ``worktreeInclude`` and the
repository's ``.worktreeinclude``), and its ``setupCommand`` run. When the agent
exits, ``conclude`` commits what it left uncommitted on the branch (so nothing
is lost), summarises the branch's changes, and removes the worktree if the
session completed (the branch stays) or keeps it, for inspection, if it failed.

The user's own checkout is never written to: every change happens in the
worktree, and only branches under ``maestro/`` are ever made or deleted.
Everything is plain ``git`` (2.25 or later) through ``subprocess``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import shutil
import signal
import subprocess
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from maestro.agents.errors import AgentError

BRANCH_PREFIX = "maestro/"
INCLUDE_FILE = ".worktreeinclude"
SLUG_LIMIT = 40
GIT_TIMEOUT = 120.0
IDENTITY = ("-c", "user.name=Maestro", "-c", "user.email=maestro@localhost")
"""Used for Maestro's own commits only when the repository names nobody."""


class WorktreeError(AgentError):
    """A worktree could not be made or used; the message says why."""

    def __init__(self, message: str, code: str = "WORKTREE_FAILED") -> None:
        super().__init__(message, code=code)


class MergeConflict(WorktreeError):
    """Merging a dependency's branch conflicted: the agent does not start."""

    def __init__(self, branch: str, merged: Sequence[str], files: Sequence[str]) -> None:
        self.branch = branch
        self.files = list(files)
        before = f" (after merging {', '.join(merged)})" if merged else ""
        super().__init__(
            f"merging {branch}{before} conflicts in {', '.join(files) or 'the tree'}; "
            "resolve it by hand (or change the dependencies) and spawn again",
            code="MERGE_CONFLICT",
        )


def git(cwd: Path, *args: str, check: bool = True, timeout: float = GIT_TIMEOUT) -> str:
    """Run ``git`` in ``cwd``; its standard output, stripped of the final newline."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
            check=False,
        )
    except FileNotFoundError:
        raise WorktreeError("git is not installed (worktrees need it)") from None
    except subprocess.TimeoutExpired:
        raise WorktreeError(f"git {' '.join(args[:2])} took over {timeout:g}s") from None
    if check and done.returncode != 0:
        raise WorktreeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.rstrip("\n")


def repository_of(path: Path) -> Path | None:
    """The top folder of the git repository ``path`` is in, or None."""
    if not path.is_dir():
        return None
    top = git(path, "rev-parse", "--show-toplevel", check=False)
    return Path(top) if top else None


def checked_out_branch(repo: Path) -> str | None:
    """The branch checked out in ``repo``; None on a detached HEAD."""
    name = git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return name or None


def slug(text: str, limit: int = SLUG_LIMIT) -> str:
    """``Fix the login bug!`` -> ``fix-the-login-bug``: ASCII letters, digits and
    dashes, safe in a branch name."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:limit].rstrip("-") or "task"


def short_id(task_id: str) -> str:
    """The distinctive tail of a task id (``task_1796…_1wx94z2lw`` -> ``1wx94z2lw``)."""
    return task_id.rsplit("_", 1)[-1][:12]


def branch_for(repo: Path, task_id: str, title: str) -> str:
    """A new branch name for a task, free in ``repo``: ``maestro/<id>-<slug>``,
    then ``-2``, ``-3``... if a branch of that name exists already."""
    base = f"{BRANCH_PREFIX}{short_id(task_id)}-{slug(title)}"
    name, n = base, 1
    while git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}", check=False):
        n += 1
        name = f"{base}-{n}"
    return name


@dataclass
class Worktree:
    """A session's worktree: where, on which branch, from which commit."""

    repo: Path
    path: Path
    branch: str
    base_branch: str
    base_commit: str
    merged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What a person should know (a dirty checkout left behind, say)."""

    def metadata(self) -> dict[str, object]:
        """What the session records (``metadata``)."""
        return {
            "worktree": str(self.path),
            "branch": self.branch,
            "baseBranch": self.base_branch,
            "baseCommit": self.base_commit,
            "mergedBranches": list(self.merged),
        }


def prepare(
    repo: Path,
    path: Path,
    branch: str,
    base_branch: str | None,
    merge: Sequence[str] = (),
    include: Sequence[str] = (),
) -> Worktree:
    """Make the worktree at ``path`` on a new ``branch`` from ``base_branch`` (the
    branch checked out in ``repo`` when None), merge ``merge`` in, copy the
    included files. On any failure nothing is left behind but the error."""
    base = base_branch or checked_out_branch(repo)
    if base is None:
        raise WorktreeError(
            f"{repo} is on a detached HEAD, so there is no branch to start worktrees "
            "from; set the project's baseBranch",
            code="DETACHED_HEAD",
        )
    base_commit = git(repo, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", check=False)
    if not base_commit:
        raise WorktreeError(f"the base branch {base!r} does not exist in {repo}", "NO_BASE")
    notes = []
    if git(repo, "status", "--porcelain", "--untracked-files=no", check=False):
        notes.append(
            f"{repo} has uncommitted changes; the worktree starts from {base} as committed "
            "and does not see them"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    git(repo, "worktree", "add", "--quiet", "-b", branch, str(path), base_commit)
    worktree = Worktree(repo, path, branch, base, base_commit, notes=notes)
    try:
        for other in merge:
            _merge(worktree, other)
        copy_included(repo, path, [*include, *included_by_file(repo)])
    except BaseException:
        discard(worktree)
        raise
    return worktree


def reopen(repo: Path, path: Path, branch: str, base_branch: str, base_commit: str) -> Worktree:
    """A worktree on an existing Maestro branch at ``path`` (a follow-up goes on
    where its earlier session stopped, in the same folder: Claude Code finds a
    conversation to resume by the folder it ran in)."""
    if not branch.startswith(BRANCH_PREFIX):
        raise WorktreeError(f"{branch} is not a branch Maestro made; not reusing it")
    known = git(repo, "worktree", "list", "--porcelain", check=False)
    if f"worktree {path}\n" not in known + "\n":
        if path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        git(repo, "worktree", "add", "--quiet", str(path), branch)
    return Worktree(repo, path, branch, base_branch, base_commit)


def _merge(worktree: Worktree, branch: str) -> None:
    if not git(
        worktree.repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False
    ):
        raise WorktreeError(f"the dependency's branch {branch} no longer exists", "NO_BRANCH")
    identity = () if _has_identity(worktree.path) else IDENTITY
    merged = subprocess.run(
        ["git", *identity, "merge", "--no-ff", "--no-edit", "-m", f"Merge {branch}", branch],
        cwd=worktree.path,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )
    if merged.returncode != 0:
        files = git(worktree.path, "diff", "--name-only", "--diff-filter=U", check=False)
        git(worktree.path, "merge", "--abort", check=False)
        raise MergeConflict(branch, worktree.merged, files.splitlines())
    worktree.merged.append(branch)


def _has_identity(cwd: Path) -> bool:
    return bool(git(cwd, "config", "user.email", check=False)) and bool(
        git(cwd, "config", "user.name", check=False)
    )


def included_by_file(repo: Path) -> list[str]:
    """The patterns of the repository's ``.worktreeinclude`` (one per line; blank
    lines and ``#`` comments skipped)."""
    listing = repo / INCLUDE_FILE
    if not listing.is_file():
        return []
    lines = (line.strip() for line in listing.read_text(errors="replace").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def copy_included(repo: Path, path: Path, patterns: Iterable[str]) -> list[str]:
    """Copy the files of ``repo`` that git does not track (untracked or ignored:
    what a checkout lacks, like ``.env``) matching ``patterns`` into the
    worktree; their relative paths. A pattern without ``/`` matches a file name
    anywhere, one with ``/`` the path from the top."""
    wanted = [p.strip().lstrip("/") for p in patterns if p.strip()]
    if not wanted:
        return []
    untracked = git(repo, "ls-files", "--others", "-z", check=False).split("\0")
    ignored = git(
        repo, "ls-files", "--others", "--ignored", "--exclude-standard", "-z", check=False
    ).split("\0")
    copied = []
    for relative in sorted({*untracked, *ignored} - {""}):
        name = relative.rsplit("/", 1)[-1]
        if not any(
            fnmatch.fnmatch(relative if "/" in pattern else name, pattern) for pattern in wanted
        ):
            continue
        source, target = repo / relative, path / relative
        if source.is_symlink() or not source.is_file() or target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied.append(relative)
    return copied


def run_setup(path: Path, command: str, timeout: float, log: IO[bytes]) -> None:
    """Run the project's ``setupCommand`` in the worktree (``sh -c``, in a process
    group of its own), its output into ``log``; a failure or a time-out (the
    whole group is killed) raises, naming it."""
    log.write(f"● setup: {command}\n".encode())
    log.flush()
    process = subprocess.Popen(
        ["sh", "-c", command],
        cwd=path,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise WorktreeError(
            f"the setup command did not finish within {timeout:g}s: {command}", "SETUP_TIMEOUT"
        ) from None
    if code != 0:
        raise WorktreeError(
            f"the setup command failed (exit code {code}): {command}", "SETUP_FAILED"
        )


@dataclass(frozen=True)
class Summary:
    """What the session's branch changed since its base: the ``worktree_summary``
    session event."""

    branch: str
    head: str
    base_commit: str
    committed_leftovers: bool
    files: list[dict[str, object]]

    def data(self) -> dict[str, object]:
        return {
            "branch": self.branch,
            "head": self.head,
            "baseCommit": self.base_commit,
            "committedLeftovers": self.committed_leftovers,
            "files": self.files,
            "added": sum(int(str(f["added"])) for f in self.files),
            "deleted": sum(int(str(f["deleted"])) for f in self.files),
        }


def commit_leftovers(worktree: Worktree, message: str) -> bool:
    """Commit whatever the agent left uncommitted on its branch; whether there was any."""
    if not git(worktree.path, "status", "--porcelain", check=False):
        return False
    git(worktree.path, "add", "-A")
    identity = () if _has_identity(worktree.path) else IDENTITY
    git(worktree.path, *identity, "commit", "--quiet", "--no-verify", "-m", message)
    return True


def summarize(worktree: Worktree, committed_leftovers: bool) -> Summary:
    head = git(worktree.path, "rev-parse", "HEAD")
    files = []
    numstat = git(worktree.path, "diff", "--numstat", "-z", f"{worktree.base_commit}..HEAD")
    for record in numstat.split("\0"):
        parts = record.split("\t")
        if len(parts) == 3 and parts[2]:
            added, deleted, name = parts
            files.append(
                {
                    "path": name,
                    "added": int(added) if added.isdigit() else 0,
                    "deleted": int(deleted) if deleted.isdigit() else 0,
                }
            )
    return Summary(worktree.branch, head, worktree.base_commit, committed_leftovers, files)


def conclude(worktree: Worktree, completed: bool, message: str) -> Summary:
    """After the agent: commit leftovers, summarise, and remove the worktree if
    the session completed (the branch stays); a failed one is kept."""
    leftovers = commit_leftovers(worktree, message)
    summary = summarize(worktree, leftovers)
    if completed:
        remove(worktree.repo, worktree.path)
    return summary


def remove(repo: Path, path: Path) -> None:
    """Remove a worktree (its branch stays); a folder git no longer knows is
    deleted all the same."""
    git(repo, "worktree", "remove", "--force", str(path), check=False)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
    git(repo, "worktree", "prune", check=False)


def discard(worktree: Worktree) -> None:
    """Undo ``prepare``: the worktree and its (new, still empty) branch."""
    remove(worktree.repo, worktree.path)
    if worktree.branch.startswith(BRANCH_PREFIX):
        git(worktree.repo, "branch", "-D", worktree.branch, check=False)
