"""``maestro project show|permissions|usage``"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.cli.conftest import Cli

MakeTask = Callable[..., dict[str, Any]]
MakeSession = Callable[..., dict[str, Any]]

USAGE = {
    "inputTokens": 1200,
    "outputTokens": 340,
    "cacheReadTokens": 5000,
    "cacheWriteTokens": 60,
    "costUsd": 0.0123,
    "turns": 7,
    "durationMs": 83_000,
    "model": "claude-sonnet-4-5",
}


def policy(api: httpx.Client, project_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.get(f"/api/projects/{project_id}").json()["permissions"]
    return found


def test_show_prints_the_permission_policy(cli: Cli, project: dict[str, Any]) -> None:
    result = cli("project", "show", project["id"])
    assert result.code == 0, result.stderr
    assert "acceptEdits" in result.stdout
    assert "Bash(git:*)" in result.stdout
    assert "Bash(git push:*)" in result.stdout


def test_permissions_without_options_shows_the_policy(
    cli: Cli, api: httpx.Client, project: dict[str, Any]
) -> None:
    machine = cli("project", "permissions", project["id"], "--json")
    assert machine.code == 0, machine.stderr
    assert machine.data == policy(api, project["id"])
    human = cli("project", "permissions", project["id"])
    assert "mode" in human.stdout
    assert "Bash(sudo:*)" in human.stdout


def test_allow_and_deny_add_rules_once_and_keep_the_others(
    cli: Cli, api: httpx.Client, project: dict[str, Any]
) -> None:
    before = policy(api, project["id"])
    result = cli(
        "project", "permissions", project["id"],
        "--allow", "Edit", "--allow", "Bash(git:*)", "--allow", "Edit",
        "--deny", "WebFetch(domain:example.com)", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    stored = policy(api, project["id"])
    assert result.data == stored
    assert stored["allow"] == [*before["allow"], "Edit"]
    assert stored["deny"] == [*before["deny"], "WebFetch(domain:example.com)"]
    assert stored["mode"] == before["mode"]


def test_remove_takes_a_rule_out_of_both_lists(
    cli: Cli, api: httpx.Client, project: dict[str, Any]
) -> None:
    api.patch(
        f"/api/projects/{project['id']}",
        json={"permissions": {"allow": ["Edit", "Bash(ls:*)"], "deny": ["Edit"]}},
    )
    result = cli("project", "permissions", project["id"], "--remove", "Edit", "--json")
    assert result.code == 0, result.stderr
    assert policy(api, project["id"])["allow"] == ["Bash(ls:*)"]
    assert policy(api, project["id"])["deny"] == []

    absent = cli("project", "permissions", project["id"], "--remove", "Read")
    assert absent.code == 0, absent.stderr
    assert "Read is in neither list" in absent.stderr


def test_mode_is_set_and_bypass_warns(cli: Cli, api: httpx.Client, project: dict[str, Any]) -> None:
    plan = cli("project", "permissions", project["id"], "--mode", "plan", "--json")
    assert plan.code == 0, plan.stderr
    assert policy(api, project["id"])["mode"] == "plan"
    assert "warning" not in plan.stderr

    bypass = cli("project", "permissions", project["id"], "--mode", "bypassPermissions")
    assert bypass.code == 0, bypass.stderr
    assert policy(api, project["id"])["mode"] == "bypassPermissions"
    assert "without asking" in bypass.stderr
    assert "bypassPermissions" in bypass.stdout


def test_reset_restores_the_server_defaults(
    cli: Cli, api: httpx.Client, project: dict[str, Any]
) -> None:
    defaults = policy(api, project["id"])
    cli("project", "permissions", project["id"], "--remove", "Bash(git:*)", "--mode", "plan")
    assert policy(api, project["id"]) != defaults

    result = cli("project", "permissions", project["id"], "--reset", "--json")
    assert result.code == 0, result.stderr
    assert policy(api, project["id"]) == defaults == result.data

    mixed = cli("project", "permissions", project["id"], "--reset", "--allow", "Edit", "--json")
    assert mixed.code == 1
    assert mixed.json["error"] == "VALIDATION_ERROR"


def test_a_bad_rule_or_mode_is_the_servers_one_line_error(
    cli: Cli, api: httpx.Client, project: dict[str, Any]
) -> None:
    before = policy(api, project["id"])
    rule = cli("project", "permissions", project["id"], "--allow", "not a rule")
    assert rule.code == 1
    assert rule.stderr.startswith("error: permissions.allow")
    assert len(rule.stderr.strip().splitlines()) == 1
    mode = cli("project", "permissions", project["id"], "--mode", "yolo", "--json")
    assert mode.code == 1
    assert mode.json["error"] == "VALIDATION_ERROR"
    assert policy(api, project["id"]) == before


def test_permissions_of_a_missing_project_is_not_found(cli: Cli) -> None:
    assert cli("project", "permissions", "proj_missing", "--allow", "Edit").code == 2


def test_usage_sums_the_projects_sessions(
    cli: Cli,
    api: httpx.Client,
    project: dict[str, Any],
    make_task: MakeTask,
    make_session: MakeSession,
) -> None:
    for _ in range(2):
        session = make_session(make_task()["id"])
        api.patch(f"/api/sessions/{session['id']}", json={"usage": USAGE})

    machine = cli("project", "usage", project["id"], "--json")
    assert machine.code == 0, machine.stderr
    assert machine.data == api.get(f"/api/projects/{project['id']}/usage").json()
    assert machine.data["sessions"] == 2
    assert machine.data["usage"]["inputTokens"] == 2400
    human = cli("project", "usage", project["id"])
    assert "$0.0246" in human.stdout
    assert "in 2,400" in human.stdout
    assert "claude-sonnet-4-5" in human.stdout


def test_create_and_update_set_the_worktree_and_dispatch_settings(
    cli: Cli, api: httpx.Client
) -> None:
    created = cli(
        "project", "create", "Repo", "--dir", "/tmp", "--worktrees", "on",
        "--base-branch", "develop", "--setup-command", "npm ci", "--setup-timeout", "120",
        "--include", ".env", "--include", "config/*.local", "--agent", "codex",
        "--model", "o3", "--max-concurrent", "3", "--json",
    )  # fmt: skip
    assert created.code == 0, created.stderr
    project = api.get(f"/api/projects/{created.data['id']}").json()
    assert {k: project[k] for k in SETTINGS} == {
        "worktrees": "on",
        "baseBranch": "develop",
        "setupCommand": "npm ci",
        "setupTimeout": 120,
        "worktreeInclude": [".env", "config/*.local"],
        "agent": "codex",
        "model": "o3",
        "maxConcurrent": 3,
    }
    shown = cli("project", "show", project["id"])
    assert "develop" in shown.stdout and "config/*.local" in shown.stdout
    # Only what is given changes; `null` clears a text setting, `''` the list.
    updated = cli(
        "project", "update", project["id"], "--base-branch", "null", "--include", "",
        "--agent", "null", "--json",
    )  # fmt: skip
    assert updated.code == 0, updated.stderr
    after = api.get(f"/api/projects/{project['id']}").json()
    assert (after["baseBranch"], after["worktreeInclude"], after["agent"]) == (None, [], None)
    assert (after["setupCommand"], after["model"], after["maxConcurrent"]) == ("npm ci", "o3", 3)


def test_a_refused_setting_names_it(cli: Cli, project: dict[str, Any]) -> None:
    result = cli("project", "update", project["id"], "--base-branch", "-x", "--json")
    assert result.code == 1
    assert result.json["error"] == "VALIDATION_ERROR"
    assert "baseBranch" in result.json["message"]


SETTINGS = (
    "worktrees",
    "baseBranch",
    "setupCommand",
    "setupTimeout",
    "worktreeInclude",
    "agent",
    "model",
    "maxConcurrent",
)
