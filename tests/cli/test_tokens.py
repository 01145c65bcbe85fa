"""``maestro token create|list|revoke`` against a real server (what the tokens
may do is ``tests/test_tokens.py``)."""

from __future__ import annotations

import secrets

from tests.cli.conftest import Cli


def test_token_create_prints_the_token_once_with_how_to_use_it(cli: Cli) -> None:
    name = f"box-{secrets.token_hex(3)}"
    result = cli("token", "create", "--runner", name)
    assert result.code == 0, result.stderr
    [token] = [line for line in result.stdout.split() if line.startswith("tok_") and "." in line]
    assert f"maestro runner --name {name} --token" in " ".join(result.stdout.split())
    listed = cli("token", "list").stdout
    assert name in listed and token.split(".")[1] not in listed


def test_token_list_json_never_holds_a_secret_and_revoke_removes_it(cli: Cli) -> None:
    issued = cli("token", "create", "--runner", "json-box", "--json").data
    listed = cli("token", "list", "--json").data
    [mine] = [t for t in listed if t["id"] == issued["id"]]
    assert mine == {k: v for k, v in issued.items() if k != "token"}

    revoked = cli("token", "revoke", issued["id"], "--json").data
    assert revoked == {"success": True, "id": issued["id"]}
    assert issued["id"] not in [t["id"] for t in cli("token", "list", "--json").data]


def test_revoking_an_unknown_token_fails_with_its_code(cli: Cli) -> None:
    result = cli("token", "revoke", "tok_1700000000000_unknown1", "--json")
    assert result.code != 0 and result.json["error"] == "TOKEN_NOT_FOUND"
