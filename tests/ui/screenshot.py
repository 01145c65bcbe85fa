"""Make the screenshots in docs/screenshots/: a real server seeded over the REST
API, shown in the same headless Chromium the UI tests use.

    .venv/bin/python -m tests.ui.screenshot [--view VIEW] [--detail] [OUTPUT]

``--view`` picks the board (``board.png``), the sessions view with what the
agents spent (``sessions.png``), the runners with their load (``runners.png``),
the project dialog's permissions (``permissions.png``) or session settings
(``settings.png``), the inbox with approvals waiting (``inbox.png``), a
session's live activity pane (``activity.png``), the board's auto-start cards
(``board-dispatch.png``) or a session's branch and change summary
(``session-worktree.png``); ``--detail`` opens a task's detail panel on the
board too (handy when reviewing the UI).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from tests.conftest import RunningServer
from tests.ui.conftest import launch_chromium
from tests.ui.pages import MaestroPage

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
VIEWS = (
    "board",
    "sessions",
    "permissions",
    "settings",
    "inbox",
    "activity",
    "board-dispatch",
    "session-worktree",
    "runners",
)
# Sessions are made as the page is shot; these views show them a few minutes on.
LATER_MS = 7 * 60_000

TASKS: list[dict[str, Any]] = [
    {"title": "Design the plugin API", "priority": "high", "status": "completed",
     "subtasks": [("Sketch the hooks", True), ("Write the RFC", True)]},
    {"title": "Parse the config file", "priority": "high", "status": "in_progress",
     "subtasks": [("TOML loader", True), ("Env overrides", True), ("Validation errors", False)],
     "spawn": True, "usage": {"inputTokens": 48210, "outputTokens": 9120,
     "cacheReadTokens": 1203400, "cacheWriteTokens": 65400, "costUsd": 1.2847, "turns": 38,
     "durationMs": 754000, "model": "claude-sonnet-4-5"}},
    {"title": "Retry failed uploads", "priority": "medium", "status": "in_progress",
     "subtasks": [("Backoff policy", False), ("Idempotency keys", False)], "spawn": True,
     "usage": {"inputTokens": 3120, "outputTokens": 1480, "cacheReadTokens": 96300,
     "cacheWriteTokens": 8800, "costUsd": 0.0934, "turns": 6, "durationMs": 81500,
     "model": "claude-sonnet-4-5"}},
    {"title": "Fix flaky login test", "priority": "medium", "status": "blocked",
     "autoStart": True, "dispatch": True},
    {"title": "Write the migration guide", "priority": "low", "status": "pending",
     "autoStart": True, "dependencies": ["Design the plugin API"]},
    {"title": "Add dark mode", "priority": "low", "status": "pending",
     "subtasks": [("Palette", False)], "autoStart": True,
     "dependencies": ["Design the plugin API"], "dispatch": True},
    {"title": "Release 1.2", "priority": "medium", "status": "pending", "autoStart": True,
     "dependencies": ["Parse the config file", "Retry failed uploads"]},
]  # fmt: skip

# What the agents' worktrees hold: the branch of each session (by its task), and
# for a finished one the summary `worker init` wrote when the agent exited.
WORKTREES: dict[str, dict[str, Any]] = {
    "Parse the config file": {"branch": "maestro/k2j4n5-parse-the-config-file"},
    "Retry failed uploads": {"branch": "maestro/r7t1x2-retry-failed-uploads"},
    "Add dark mode": {"branch": "maestro/d4m0d3-add-dark-mode"},
    "Fix flaky login test": {
        "branch": "maestro/f1x9l0-fix-flaky-login-test",
        "note": "the working directory has uncommitted changes: the worktree starts "
        "from main as committed",
        "summary": {
            "committedLeftovers": True, "removed": False,
            "files": [
                {"path": "tests/e2e/login.spec.ts", "added": 46, "deleted": 19},
                {"path": "tests/e2e/support/wait-for-session.ts", "added": 31, "deleted": 0},
                {"path": "src/auth/session-cookie.ts", "added": 8, "deleted": 3},
                {"path": "playwright.config.ts", "added": 2, "deleted": 1},
            ],
        },
    },
}  # fmt: skip


def seed(api: httpx.Client) -> dict[str, str]:
    """A project with tasks in every column; returns task ids by title."""
    project = api.post("/api/projects", json={"name": "acme-web", "workingDir": "~/code/acme-web"})
    project_id = project.json()["id"]
    api.post("/api/projects", json={"name": "infra", "workingDir": "~/code/infra"})
    ids: dict[str, str] = {}
    for spec in TASKS:
        body = {
            "projectId": project_id,
            "title": spec["title"],
            "priority": spec["priority"],
            "autoStart": spec.get("autoStart", False),
            "dependencies": [ids[title] for title in spec.get("dependencies", [])],
        }
        task_id = api.post("/api/tasks", json=body).json()["id"]
        ids[spec["title"]] = task_id
        for title, done in spec.get("subtasks", []):
            sub = api.post(f"/api/tasks/{task_id}/subtasks", json={"title": title}).json()
            if done:
                api.patch(f"/api/tasks/{task_id}/subtasks/{sub['id']}", json={"completed": True})
        if spec.get("spawn"):
            spawn = {"projectId": project_id, "taskIds": [task_id], "spawnSource": "ui"}
            session = api.post("/api/sessions/spawn", json=spawn).json()["session"]
            patch: dict[str, Any] = {"status": "running"}
            if "usage" in spec:
                patch |= {"usage": spec["usage"], "agentSessionId": f"9f1c-{len(ids)}a7e-4b2d"}
            api.patch(f"/api/sessions/{session['id']}", json=patch)
        if spec["status"] != "pending":
            api.patch(f"/api/tasks/{task_id}", json={"status": spec["status"]})
    for spec in TASKS:
        if "dispatch" in spec:
            dispatch(api, project_id, ids, spec)
    for title, tree in WORKTREES.items():
        add_worktree(api, project_id, ids[title], tree)
    policy = {
        "mode": "acceptEdits",
        "allow": ["Bash(git:*)", "Bash(npm test:*)", "Bash(npm run:*)", "Edit",
                  "WebFetch(domain:docs.acme.dev)"],
        "deny": ["Bash(git push:*)", "Bash(sudo:*)", "Bash(rm -rf:*)"],
    }  # fmt: skip
    settings = {"baseBranch": "main", "setupCommand": "npm ci", "setupTimeout": 300,
                "worktreeInclude": [".env.local", "config/*.local.json"]}  # fmt: skip
    api.patch(f"/api/projects/{project_id}", json={"permissions": policy, **settings})
    blocked = ids["Fix flaky login test"]
    api.post(
        f"/api/tasks/{blocked}/timeline", json={"type": "blocker", "message": "CI runner down"}
    )
    return ids


def dispatch(api: httpx.Client, project_id: str, ids: dict[str, str], spec: dict[str, Any]) -> None:
    """What the runner's dispatcher does for an auto-start task that is due."""
    done = ", ".join(ids[title] for title in spec.get("dependencies", []))
    body = {
        "projectId": project_id,
        "taskIds": [ids[spec["title"]]],
        "spawnSource": "dispatch",
        "spawnReason": f"dependencies completed: {done}" if done else "auto-start",
    }
    session = api.post("/api/sessions/spawn", json=body).json()["session"]
    api.patch(f"/api/sessions/{session['id']}", json={"status": "running"})


def add_worktree(api: httpx.Client, project_id: str, task_id: str, tree: dict[str, Any]) -> None:
    """The branch and worktree of the task's session, as ``worker init`` records them."""
    session = api.get("/api/sessions", params={"taskId": task_id}).json()[-1]
    path = f"~/.maestro/worktrees/{project_id}/{session['id']}"
    metadata = {"worktree": path, "branch": tree["branch"], "baseBranch": "main",
                "baseCommit": "3f9c2a7e51", "mergedBranches": []}  # fmt: skip
    events: list[dict[str, Any]] = [{"type": "worktree_created", "data": metadata}]
    if "note" in tree:
        events.append({"type": "worktree_note", "data": {"message": tree["note"]}})
    patch: dict[str, Any] = {"metadata": metadata, "events": events}
    if "summary" in tree:
        files = tree["summary"]["files"]
        data = {
            **tree["summary"],
            "branch": tree["branch"],
            "head": "b81d0e4c27",
            "baseCommit": "3f9c2a7e51",
            "added": sum(f["added"] for f in files),
            "deleted": sum(f["deleted"] for f in files),
            "worktree": path,
        }
        events.append({"type": "worktree_summary", "data": data})
        patch["status"] = "failed"
    api.patch(f"/api/sessions/{session['id']}", json=patch).raise_for_status()


APPROVALS: list[dict[str, Any]] = [
    {"tool": "Bash", "input": {"command": "npm run migrate -- --env staging"},
     "reason": "Apply the new config table before the integration tests"},
    {"tool": "WebFetch", "input": {"url": "https://registry.npmjs.org/toml-eslint-parser",
     "prompt": "Which versions support TOML 1.0?"}},
    {"tool": "Edit", "input": {"file_path": "/home/me/code/acme-web/.github/workflows/ci.yml",
     "old_string": "node: 18", "new_string": "node: 20"}},
]  # fmt: skip

ACTIVITY: list[tuple[str, str]] = [
    ("status", "● Started claude-sonnet-4-5 in ~/code/acme-web"),
    ("assistant", "I'll start by reading the current config loader and its tests."),
    ("tool", "→ Read: src/config/loader.ts"),
    ("tool", "→ Read: src/config/loader.test.ts"),
    ("assistant", "The loader reads TOML but ignores environment overrides. Adding them."),
    ("tool", "→ Edit: src/config/loader.ts"),
    ("tool", "→ Bash: npm test -- config"),
    ("assistant", "Two failures: the override keys are case-sensitive. Normalising them."),
    ("tool", "→ Edit: src/config/env.ts"),
    ("tool", "→ Bash: npm test -- config"),
    ("assistant", "All 24 config tests pass. Now the validation errors: each should name the key."),
    ("tool", "→ Grep: throw new ConfigError"),
    ("tool", "→ Edit: src/config/validate.ts"),
    ("tool", "→ Bash: npm test"),
    ("status", "● 212 tests passed"),
]


def sessions_of(api: httpx.Client, project_name: str) -> list[dict[str, Any]]:
    projects = api.get("/api/projects").json()
    project_id = next(p["id"] for p in projects if p["name"] == project_name)
    found: list[dict[str, Any]] = api.get("/api/sessions", params={"projectId": project_id}).json()
    return found


def ask_approvals(api: httpx.Client) -> None:
    """The running sessions' agents ask for what their policy does not allow."""
    sessions = [s for s in sessions_of(api, "acme-web") if s["status"] == "running"]
    for i, body in enumerate(APPROVALS):
        session = sessions[i % len(sessions)]
        api.post(f"/api/sessions/{session['id']}/approvals", json=body).raise_for_status()


def post_activity(api: httpx.Client) -> str:
    """What one agent has been doing; the name of its session."""
    session = next(s for s in sessions_of(api, "acme-web") if s["name"] == "Retry failed uploads")
    for i in range(0, len(ACTIVITY), 4):
        entries = [{"kind": kind, "text": text} for kind, text in ACTIVITY[i : i + 4]]
        response = api.post(f"/api/sessions/{session['id']}/activity", json={"entries": entries})
        response.raise_for_status()
    name: str = session["name"]
    return name


def register_runners(api: httpx.Client) -> None:
    """A laptop and a build box, holding three new spawns of acme-web between them."""
    project_id = next(p["id"] for p in api.get("/api/projects").json() if p["name"] == "acme-web")
    fleet = [
        {"name": "laptop", "host": "dev-laptop", "capacity": 2},
        {"name": "build-box", "host": "ci-01", "capacity": 4, "labels": ["gpu", "os=linux"]},
    ]
    runners = [api.post("/api/runners", json=body).json()["id"] for body in fleet]
    tasks = api.get("/api/tasks", params={"projectId": project_id}).json()[:3]
    for n, task in enumerate(tasks):
        body = {"projectId": project_id, "taskIds": [task["id"]]}
        session_id = api.post("/api/sessions/spawn", json=body).json()["sessionId"]
        claim = {"runnerId": runners[min(n, 1)]}
        api.post(f"/api/sessions/{session_id}/claim", json=claim).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output", nargs="?", type=Path)
    parser.add_argument("--view", choices=VIEWS, default="board", help="what to show")
    parser.add_argument("--detail", action="store_true", help="open a task's detail panel")
    args = parser.parse_args()
    output: Path = args.output or SCREENSHOTS / f"{args.view}.png"
    with tempfile.TemporaryDirectory() as tmp:
        server = RunningServer(Path(tmp) / "data").start()
        try:
            with httpx.Client(base_url=server.url, timeout=10) as api:
                seed(api)
                if args.view == "inbox":
                    ask_approvals(api)
                if args.view == "runners":
                    register_runners(api)
                active = post_activity(api) if args.view == "activity" else ""
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_page(viewport={"width": 1360, "height": 640})
                if args.view in ("board-dispatch", "session-worktree"):
                    page.clock.set_fixed_time(time.time() + LATER_MS / 1000)
                ui = MaestroPage(page, server.url).open()
                ui.select_project("acme-web")
                output.parent.mkdir(parents=True, exist_ok=True)
                if args.view in ("permissions", "settings"):
                    page.set_viewport_size({"width": 1360, "height": 1400})  # the whole dialog
                    part = (
                        "project-permissions" if args.view == "permissions" else "project-settings"
                    )
                    ui.edit_project("acme-web").get_by_test_id(part).screenshot(path=str(output))
                elif args.view == "inbox":
                    page.set_viewport_size({"width": 1360, "height": 900})
                    ui.open_inbox().get_by_test_id("approval").nth(2).scroll_into_view_if_needed()
                    ui.inbox.evaluate("el => { el.scrollTop = 0; }")
                    page.mouse.move(0, 0)
                    page.screenshot(path=str(output))
                elif args.view == "board-dispatch":
                    page.set_viewport_size({"width": 1360, "height": 720})
                    page.mouse.move(0, 0)
                    page.get_by_test_id("board").screenshot(path=str(output))
                elif args.view == "session-worktree":
                    page.set_viewport_size({"width": 1100, "height": 900})
                    ui.open_sessions()
                    row = ui.session_row("Fix flaky login test")
                    row.get_by_test_id("session-changes").locator("summary").click()
                    page.mouse.move(0, 0)
                    row.screenshot(path=str(output))
                elif args.view == "runners":
                    page.set_viewport_size({"width": 1200, "height": 420})
                    ui.open_runners()
                    page.mouse.move(0, 0)
                    page.screenshot(path=str(output))
                elif args.view == "activity":
                    page.set_viewport_size({"width": 1360, "height": 900})
                    ui.open_sessions()
                    row = ui.session_row(active)
                    row.get_by_test_id("session-activity").locator("summary").click()
                    row.get_by_test_id("activity-entry").nth(len(ACTIVITY) - 1).wait_for()
                    page.mouse.move(0, 0)
                    row.screenshot(path=str(output))
                else:
                    if args.view == "sessions":
                        page.set_viewport_size({"width": 1360, "height": 1180})  # usage too
                        ui.open_sessions()
                    if args.detail:
                        ui.open_task("Parse the config file")
                    page.mouse.move(0, 0)
                    page.screenshot(path=str(output))
                browser.close()
        finally:
            server.stop()
    print(output)


if __name__ == "__main__":
    main()
