"""Worktrees per session with real processes and a real git repository made by
the test: ``maestro serve``, ``maestro runner --pty``, ``worker init`` and the
scripted fake agent (its task descriptions say what it runs in its checkout).

What the user sees of their own checkout is compared before and after: it is
never touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.e2e.conftest import SESSION_SECONDS, RunnerProcess
from tests.helpers import git, make_project, make_repo, make_task, ok, request_spawn, wait_until


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The user's repository: on ``main``, one commit, an ignored ``.env`` present
    and listed in ``.worktreeinclude``."""
    files = {"README.md": "the project\n", ".worktreeinclude": ".env\n"}
    return make_repo(tmp_path / "repo", files, {".env": "SECRET=42\n"})


def checkout_state(repo: Path) -> dict[str, str]:
    return {
        "branch": git(repo, "branch", "--show-current"),
        "head": git(repo, "rev-parse", "HEAD"),
        "status": git(repo, "status", "--porcelain", "--ignored"),
        "files": " ".join(sorted(p.name for p in repo.iterdir())),
    }


@pytest.fixture
def runner(server: RunningServer, start_runner: Callable[..., RunnerProcess]) -> RunnerProcess:
    return start_runner(server)


def project_in(http: httpx.Client, repo: Path, **settings: Any) -> dict[str, Any]:
    return make_project(http, workingDir=str(repo), agent="custom", **settings)


def script(*lines: str) -> str:
    """A task description the fake agent follows."""
    return "\n".join(f"fake-agent: {line}" for line in lines)


def finished(http: httpx.Client, session_id: str, runner: RunnerProcess) -> dict[str, Any]:
    def done() -> bool:
        return ok(http.get(f"/api/sessions/{session_id}"))["status"] in ("completed", "failed")

    try:
        wait_until(done, SESSION_SECONDS, f"session {session_id}")
    except AssertionError:
        raise AssertionError(runner.log()) from None
    session: dict[str, Any] = ok(http.get(f"/api/sessions/{session_id}"))
    return session


def events_of(session: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in session["events"] if e["type"] == kind]


def failure_reason(session: dict[str, Any]) -> str:
    reasons = [e["data"].get("reason", "") for e in session["events"] if e["type"] == "init_failed"]
    return " ".join(reasons)


def test_two_workers_at_once_each_in_its_own_worktree_and_branch(
    http: httpx.Client, repo: Path, runner: RunnerProcess, home: Path
) -> None:
    before = checkout_state(repo)
    project = project_in(http, repo, setupCommand="echo setup-ran; echo ready > setup-proof.txt")
    first = make_task(
        http,
        project["id"],
        title="Write A",
        description=script(
            "run echo a > a.txt && cat .env > seen.txt && echo $MAESTRO_WORKTREE > where.txt",
            "sleep 2",
        ),
    )
    second = make_task(
        http, project["id"], title="Write B", description=script("run echo b > b.txt", "sleep 2")
    )
    ids = [request_spawn(http, project["id"], [t["id"]]) for t in (first, second)]
    sessions = [finished(http, i, runner) for i in ids]

    assert [s["status"] for s in sessions] == ["completed", "completed"], runner.log()
    one, two = sessions
    # They ran at the same time, in two folders, on two branches.
    started = [events_of(s, "agent_started")[0]["cwd"] for s in sessions]
    assert started[0] != started[1]
    assert one["completedAt"] > two["startedAt"] and two["completedAt"] > one["startedAt"]
    branches = [s["metadata"]["branch"] for s in sessions]
    assert branches[0].startswith("maestro/") and branches[1].startswith("maestro/")
    assert branches[0] != branches[1]
    for session in sessions:
        assert session["metadata"]["worktree"].startswith(str(home / "worktrees" / project["id"]))
        assert session["metadata"]["baseBranch"] == "main"
        assert session["metadata"]["baseCommit"] == before["head"]
    # The user's checkout is as it was: branch, head, files, status.
    assert checkout_state(repo) == before
    # Each branch has its own work, the included .env was there, the setup ran,
    # and what the agent left uncommitted was committed.
    assert git(repo, "show", f"{branches[0]}:a.txt") == "a"
    assert git(repo, "show", f"{branches[0]}:seen.txt") == "SECRET=42"
    # The agent knew where it was (MAESTRO_WORKTREE).
    assert git(repo, "show", f"{branches[0]}:where.txt") == one["metadata"]["worktree"]
    assert git(repo, "show", f"{branches[0]}:setup-proof.txt") == "ready"
    assert "b.txt" not in git(repo, "ls-tree", "--name-only", branches[0])
    assert git(repo, "show", f"{branches[1]}:b.txt") == "b"
    summary = events_of(one, "worktree_summary")[0]
    assert summary["committedLeftovers"] is True and summary["removed"] is True
    assert {f["path"]: f["added"] for f in summary["files"]} == {
        "a.txt": 1,
        "seen.txt": 1,
        "setup-proof.txt": 1,
        "where.txt": 1,
    }
    assert summary["head"] == git(repo, "rev-parse", branches[0])
    # Completed: the worktree is gone, the branch stays.
    assert not Path(one["metadata"]["worktree"]).exists()
    assert git(repo, "branch", "--list", branches[0])
    log = (home / "sessions" / one["id"] / "output.log").read_text()
    assert "● setup: echo setup-ran" in log and "setup-ran" in log


def test_a_failed_sessions_worktree_is_kept_and_prune_clears_only_what_it_should(
    http: httpx.Client, repo: Path, runner: RunnerProcess, home: Path, server: RunningServer
) -> None:
    before = checkout_state(repo)
    project = project_in(http, repo)
    task = make_task(
        http,
        project["id"],
        title="Half done",
        description=script("run echo half > half.txt", "exit 3"),
    )
    session = finished(http, request_spawn(http, project["id"], [task["id"]]), runner)
    assert session["status"] == "failed"
    kept = Path(session["metadata"]["worktree"])
    branch = session["metadata"]["branch"]
    assert kept.is_dir() and (kept / "half.txt").exists()
    assert git(repo, "show", f"{branch}:half.txt") == "half"  # committed all the same
    assert events_of(session, "worktree_summary")[0]["removed"] is False
    # An orphan: a folder git does not know as a worktree.
    orphan = home / "worktrees" / project["id"] / "sess_orphan"
    orphan.mkdir(parents=True)
    (orphan / "junk.txt").write_text("x")

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    env.update(MAESTRO_HOME=str(home), MAESTRO_SERVER_URL=server.url)
    listed = subprocess.run(
        [sys.executable, "-m", "maestro", "worktree", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    by_session = {w["sessionId"]: w for w in json.loads(listed.stdout)["data"]}
    assert by_session[session["id"]]["sessionStatus"] == "failed"
    assert by_session[session["id"]]["branch"] == branch
    assert by_session["sess_orphan"]["orphan"] is True

    pruned = subprocess.run(
        [sys.executable, "-m", "maestro", "worktree", "prune", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    removed = {w["sessionId"] for w in json.loads(pruned.stdout)["data"]["removed"]}
    assert removed == {session["id"], "sess_orphan"}
    assert not kept.exists() and not orphan.exists()
    assert git(repo, "branch", "--list", branch)  # the work stays on its branch
    assert checkout_state(repo) == before
    assert str(kept) not in git(repo, "worktree", "list")


def test_a_taken_branch_name_gets_a_number(
    http: httpx.Client, repo: Path, runner: RunnerProcess
) -> None:
    project = project_in(http, repo)
    task = make_task(http, project["id"], title="Same name")
    short = task["id"].rsplit("_", 1)[-1]
    git(repo, "branch", f"maestro/{short}-same-name")  # someone's earlier branch
    session = finished(http, request_spawn(http, project["id"], [task["id"]]), runner)
    assert session["status"] == "completed", runner.log()
    assert session["metadata"]["branch"] == f"maestro/{short}-same-name-2"


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"setupCommand": "echo broken >&2; exit 7"}, "setup command failed (exit code 7)"),
        ({"setupCommand": "sleep 60", "setupTimeout": 1}, "did not finish within 1s"),
        ({"baseBranch": "no-such-branch"}, "'no-such-branch' does not exist"),
    ],
)
def test_a_worktree_that_cannot_be_prepared_fails_the_session_saying_why(
    http: httpx.Client,
    repo: Path,
    runner: RunnerProcess,
    settings: dict[str, Any],
    says: str,
) -> None:
    before = checkout_state(repo)
    project = project_in(http, repo, **settings)
    task = make_task(http, project["id"], title="Never starts")
    session = finished(http, request_spawn(http, project["id"], [task["id"]]), runner)
    assert session["status"] == "failed"
    assert says in failure_reason(session), session["events"]
    assert not events_of(session, "agent_started")
    assert checkout_state(repo) == before


def test_a_detached_checkout_without_a_base_branch_is_refused(
    http: httpx.Client, repo: Path, runner: RunnerProcess
) -> None:
    git(repo, "checkout", "--quiet", "--detach")
    project = project_in(http, repo)
    task = make_task(http, project["id"], title="Detached")
    session = finished(http, request_spawn(http, project["id"], [task["id"]]), runner)
    assert session["status"] == "failed"
    assert "detached HEAD" in failure_reason(session)


def test_worktrees_on_outside_a_repository_is_refused(
    http: httpx.Client, tmp_path: Path, runner: RunnerProcess
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    project = project_in(http, plain, worktrees="on")
    task = make_task(http, project["id"], title="No repo")
    session = finished(http, request_spawn(http, project["id"], [task["id"]]), runner)
    assert session["status"] == "failed"
    assert "not in a git repository" in failure_reason(session)


def test_worktrees_off_runs_in_the_checkout_itself(
    http: httpx.Client, repo: Path, runner: RunnerProcess
) -> None:
    project = project_in(http, repo, worktrees="off")
    task = make_task(
        http, project["id"], title="In place", description=script("run echo x > x.txt")
    )
    session = finished(http, request_spawn(http, project["id"], [task["id"]]), runner)
    assert session["status"] == "completed", runner.log()
    assert (repo / "x.txt").read_text() == "x\n"
    assert "worktree" not in session["metadata"]
