"""``maestro whoami``: the session this terminal runs in, its role, its tasks and
the full brief its agent was given.

One of the agent commands (``agent_commands``). It needs the brief, hence the
skills (YAML) and the permission policy; the rest of ``worker init`` (adapters,
plugin, transcript reading) stays unimported.
"""

from __future__ import annotations

import argparse
import os
import sys

from maestro.agents.context import SessionEnv
from maestro.cli import plain
from maestro.cli.agent_commands import add_json_and_server_options
from maestro.client import MaestroClient

HELP = "Show the session this terminal runs in: role, tasks and the full brief."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``maestro whoami [--json] [--server URL]``."""
    add_json_and_server_options(parser)
    parser.set_defaults(run=whoami)


def whoami(args: argparse.Namespace) -> None:
    """Read the session's world from the server and print it."""
    env = dict(os.environ)
    if args.server:
        env["MAESTRO_SERVER_URL"] = args.server
    context = SessionEnv.read(env)
    # Here, not at the top: `hook` and `report` build the same parser.
    from maestro.agents.brief import gather

    with MaestroClient(context.server_url) as client:
        world = gather(client, context.session_id, context.role, list(context.skills), env)
    if args.json:
        plain.print_json(plain.success(world.as_data()))
    else:
        # Exactly the text the agent got: no markup parsing or wrapping.
        sys.stdout.write(world.brief)
