"""``agents.worktree`` on real git repositories made by the tests: worktrees on
their own branches, dependencies merged in, untracked files copied, the setup
command, leftovers committed, the change summary, removal, and that the user's
own checkout and branches are never touched."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO

import pytest

from maestro.agents import worktree as wt
from tests.helpers import git, make_repo


def devnull() -> IO[bytes]:
    return open(os.devnull, "ab")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on ``main`` with one commit, ``.env`` ignored but present."""
    path = make_repo(tmp_path / "repo", {"app.py": "print('hello')\n"}, {".env": "SECRET=1\n"})
    with (path / ".gitignore").open("a") as ignore:
        ignore.write("node_modules/\n")
    return path


def state(repo: Path) -> tuple[str, str, str]:
    """What the user sees of their checkout: branch, head, status."""
    return (
        git(repo, "branch", "--show-current"),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "status", "--porcelain"),
    )


def make(repo: Path, tmp_path: Path, name: str, **options: object) -> wt.Worktree:
    branch = wt.branch_for(repo, f"task_1_{name}", f"Do {name}")
    return wt.prepare(repo, tmp_path / "trees" / name, branch, None, **options)  # type: ignore[arg-type]


def test_two_sessions_get_two_worktrees_and_the_checkout_is_untouched(
    repo: Path, tmp_path: Path
) -> None:
    before = state(repo)
    first = make(repo, tmp_path, "a")
    second = make(repo, tmp_path, "b")
    assert first.path != second.path and first.branch != second.branch
    assert first.branch == "maestro/a-do-a"
    (first.path / "app.py").write_text("print('changed by a')\n")
    assert (second.path / "app.py").read_text() == "print('hello')\n"
    assert state(repo) == before
    assert git(first.path, "branch", "--show-current") == first.branch
    assert first.base_branch == "main" and first.base_commit == before[1]


def test_a_taken_branch_name_gets_a_number(repo: Path, tmp_path: Path) -> None:
    git(repo, "branch", "maestro/x-do-x")
    assert wt.branch_for(repo, "task_1_x", "Do x") == "maestro/x-do-x-2"


def test_branch_names_are_safe_whatever_the_title(repo: Path) -> None:
    name = wt.branch_for(repo, "task_17962_1wx94z2lw", "Fix: the «login» bug; rm -rf / && ..!")
    assert name == "maestro/1wx94z2lw-fix-the-login-bug-rm-rf"
    git(repo, "check-ref-format", f"refs/heads/{name}")


def test_untracked_files_asked_for_are_copied_in(repo: Path, tmp_path: Path) -> None:
    (repo / "config").mkdir()
    (repo / "config" / "local.toml").write_text("debug = true\n")
    (repo / ".worktreeinclude").write_text("# local settings\nconfig/*.toml\n")
    (repo / "node_modules").mkdir()
    (repo / "node_modules" / "big.js").write_text("x")
    tree = make(repo, tmp_path, "inc", include=[".env"])
    assert (tree.path / ".env").read_text() == "SECRET=1\n"
    assert (tree.path / "config" / "local.toml").read_text() == "debug = true\n"
    assert not (tree.path / "node_modules").exists()  # not asked for


def test_dependencies_branches_are_merged_in_order(repo: Path, tmp_path: Path) -> None:
    first = make(repo, tmp_path, "a")
    (first.path / "a.txt").write_text("from a\n")
    wt.conclude(first, completed=True, message="a's work")
    second = make(repo, tmp_path, "b")
    (second.path / "b.txt").write_text("from b\n")
    wt.conclude(second, completed=True, message="b's work")

    both = make(repo, tmp_path, "d", merge=[first.branch, second.branch])
    assert (both.path / "a.txt").read_text() == "from a\n"
    assert (both.path / "b.txt").read_text() == "from b\n"
    assert both.merged == [first.branch, second.branch]


def test_a_conflicting_dependency_stops_with_the_branch_and_files(
    repo: Path, tmp_path: Path
) -> None:
    first = make(repo, tmp_path, "a")
    (first.path / "app.py").write_text("print('a')\n")
    wt.conclude(first, completed=True, message="a")
    second = make(repo, tmp_path, "b")
    (second.path / "app.py").write_text("print('b')\n")
    wt.conclude(second, completed=True, message="b")
    path = tmp_path / "trees" / "d"
    with pytest.raises(wt.MergeConflict) as raised:
        wt.prepare(repo, path, "maestro/d", None, merge=[first.branch, second.branch])
    assert raised.value.files == ["app.py"]
    assert second.branch in raised.value.message and first.branch in raised.value.message
    # Nothing left behind: no worktree, no branch.
    assert not path.exists()
    assert not git(repo, "branch", "--list", "maestro/d")


def test_leftovers_are_committed_and_summarised(repo: Path, tmp_path: Path) -> None:
    tree = make(repo, tmp_path, "s")
    (tree.path / "app.py").write_text("print('hello')\nprint('more')\n")
    (tree.path / "new.txt").write_text("1\n2\n3\n")
    summary = wt.conclude(tree, completed=False, message="left by the agent")
    data = summary.data()
    assert data["committedLeftovers"] is True
    assert sorted((f["path"], f["added"], f["deleted"]) for f in summary.files) == [
        ("app.py", 1, 0),
        ("new.txt", 3, 0),
    ]
    assert (data["added"], data["deleted"]) == (4, 0)
    assert git(repo, "log", "-1", "--format=%s", tree.branch) == "left by the agent"
    assert tree.path.exists()  # failed: kept for inspection


def test_a_completed_sessions_worktree_goes_and_its_branch_stays(
    repo: Path, tmp_path: Path
) -> None:
    tree = make(repo, tmp_path, "c")
    (tree.path / "c.txt").write_text("c\n")
    wt.conclude(tree, completed=True, message="c")
    assert not tree.path.exists()
    assert git(repo, "branch", "--list", tree.branch)
    assert str(tree.path) not in git(repo, "worktree", "list")


def test_nothing_to_commit_is_no_commit(repo: Path, tmp_path: Path) -> None:
    tree = make(repo, tmp_path, "n")
    summary = wt.conclude(tree, completed=True, message="x")
    assert summary.committed_leftovers is False and summary.files == []
    assert summary.head == tree.base_commit


def test_a_repository_without_an_identity_still_gets_commits(repo: Path, tmp_path: Path) -> None:
    git(repo, "config", "--unset", "user.name")
    git(repo, "config", "--unset", "user.email")
    tree = make(repo, tmp_path, "i")
    (tree.path / "i.txt").write_text("i\n")
    env_free = wt.conclude(tree, completed=False, message="i")
    assert env_free.committed_leftovers


def test_a_detached_checkout_needs_a_base_branch(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "--quiet", "--detach")
    with pytest.raises(wt.WorktreeError, match="detached HEAD") as raised:
        make(repo, tmp_path, "x")
    assert raised.value.code == "DETACHED_HEAD"
    tree = wt.prepare(repo, tmp_path / "trees" / "y", "maestro/y", "main")
    assert tree.base_branch == "main"


def test_an_unknown_base_branch_is_named(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(wt.WorktreeError, match="'nope' does not exist"):
        wt.prepare(repo, tmp_path / "trees" / "x", "maestro/x", "nope")


def test_a_dirty_checkout_is_noted_not_taken(repo: Path, tmp_path: Path) -> None:
    (repo / "app.py").write_text("print('uncommitted')\n")
    tree = make(repo, tmp_path, "dirty")
    assert tree.notes and "uncommitted changes" in tree.notes[0]
    assert (tree.path / "app.py").read_text() == "print('hello')\n"
    assert (repo / "app.py").read_text() == "print('uncommitted')\n"


def test_the_setup_command_runs_in_the_worktree_and_its_output_is_logged(
    repo: Path, tmp_path: Path
) -> None:
    tree = make(repo, tmp_path, "setup")
    log = tmp_path / "output.log"
    with log.open("ab") as out:
        wt.run_setup(tree.path, "echo installing; touch ready.flag", 10, out)
    assert (tree.path / "ready.flag").exists()
    assert "installing" in log.read_text()


def test_a_failing_setup_command_is_an_error_naming_it(repo: Path, tmp_path: Path) -> None:
    tree = make(repo, tmp_path, "bad")
    with pytest.raises(wt.WorktreeError, match=r"exit code 3\): exit 3") as raised:
        wt.run_setup(tree.path, "exit 3", 10, devnull())
    assert raised.value.code == "SETUP_FAILED"


def test_a_hanging_setup_command_times_out(repo: Path, tmp_path: Path) -> None:
    tree = make(repo, tmp_path, "slow")
    started = time.monotonic()
    with pytest.raises(wt.WorktreeError, match=r"within 0\.5s") as raised:
        wt.run_setup(tree.path, "sleep 30 & sleep 30; wait", 0.5, devnull())
    assert raised.value.code == "SETUP_TIMEOUT"
    assert time.monotonic() - started < 10  # the whole group was killed


def test_not_a_repository(tmp_path: Path) -> None:
    assert wt.repository_of(tmp_path) is None
    assert wt.repository_of(tmp_path / "missing") is None


def test_a_follow_up_reopens_the_same_folder_on_the_same_branch(repo: Path, tmp_path: Path) -> None:
    tree = make(repo, tmp_path, "f")
    (tree.path / "f.txt").write_text("f\n")
    wt.conclude(tree, completed=True, message="f")
    again = wt.reopen(repo, tree.path, tree.branch, "main", tree.base_commit)
    assert (again.path / "f.txt").read_text() == "f\n"
    assert git(again.path, "branch", "--show-current") == tree.branch
    with pytest.raises(wt.WorktreeError, match="not a branch Maestro made"):
        wt.reopen(repo, tmp_path / "other", "main", "main", tree.base_commit)
