"""``maestro token create|list|revoke``: the runner tokens, made with the admin
token. A runner started with one (``maestro runner --token``, or
``MAESTRO_TOKEN``) may register, heartbeat and claim as the runners of its name,
and read; the agents it starts get tokens of their own (docs/operations.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from maestro.cli.output import JsonFlag, ServerOption, command, say, table, when
from maestro.domain.responses import IssuedToken, TokenInfo

app = typer.Typer(
    help="Runner tokens (made and revoked with the admin token).", no_args_is_help=True
)


def _show_issued(issued: IssuedToken) -> None:
    say(f"Runner token {issued.id} for runner {issued.runner!r} (shown only now; keep it secret):")
    say(issued.token)
    say(f"Start the runner with: maestro runner --name {issued.runner} --token <that token>")


def _show_tokens(tokens: Sequence[TokenInfo]) -> None:
    table(
        "Runner tokens",
        ["id", "runner", "created"],
        [(t.id, t.runner or "-", when(t.created_at)) for t in tokens],
    )


@app.command("create")
def create_token(
    runner: Annotated[
        str,
        typer.Option(
            "--runner", help="The name of the runners it may act as (maestro runner --name)."
        ),
    ],
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Make a runner token. It is printed once: the server keeps only its hash."""
    with command(json, server) as cmd:
        cmd.done(cmd.client.create_runner_token(runner), _show_issued)


@app.command("list")
def list_tokens(json: JsonFlag = False, server: ServerOption = None) -> None:
    """List the runner tokens (never their secrets), oldest first."""
    with command(json, server) as cmd:
        cmd.done(cmd.client.list_tokens(), _show_tokens)


@app.command("revoke")
def revoke_token(
    token_id: Annotated[
        str, typer.Argument(help="The token's id (tok_…), from `maestro token list`.")
    ],
    json: JsonFlag = False,
    server: ServerOption = None,
) -> None:
    """Revoke a token at once: requests with it are refused from now on."""
    with command(json, server) as cmd:
        cmd.done(cmd.client.revoke_token(token_id), lambda d: say(f"revoked {d.id}"))
