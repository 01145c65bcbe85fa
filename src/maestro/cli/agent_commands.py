"""The commands agents call while they work: ``maestro hook``, ``maestro report``
and ``maestro whoami``.

They run on every file an agent writes and every report it makes, so they are
parsed with argparse and print through ``plain``: starting them imports neither
Typer (nor the pydantic it loads), Rich nor an HTTP library. The entry point
(``maestro.cli:main``) sends these three names here before Typer is imported; the
Typer app registers
them too, with the help of these definitions, so ``maestro --help`` lists them
and each command's arguments are defined once, in its own module (``hook``,
``report``, ``whoami``).

Answers are the same as every other command's: plain lines, the ``--json``
envelope, ``error: ...`` on stderr and the documented exit codes; a usage
mistake exits 1, as Click's do in this CLI.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType
from typing import Any

from maestro.cli import plain
from maestro.cli.errors import FAILURES, exit_code_of

NAMES = ("hook", "report", "whoami")
HIDDEN = frozenset({"hook"})
"""Left out of ``maestro --help``: the plugin calls it, people do not."""


def add_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str
) -> argparse.ArgumentParser:
    """A subcommand; abbreviated options are refused, as Click refuses them."""
    command = commands.add_parser(name, help=help, description=help, allow_abbrev=False)
    # The innermost command parsed names itself, so a stray argument is reported
    # with its usage rather than the top-level one.
    command.set_defaults(command_parser=command)
    return command


def add_json_and_server_options(parser: argparse.ArgumentParser) -> None:
    """``--json`` and ``--server``, as every command that talks to the server has them."""
    parser.add_argument(
        "--json",
        action="store_true",
        help='Machine output: {"success": ..., "data": ...} on stdout.',
    )
    parser.add_argument(
        "--server", metavar="URL", help="Maestro server URL (env MAESTRO_SERVER_URL)"
    )


def _modules() -> dict[str, ModuleType]:
    """Each command's module (``maestro.cli.<name>``): its one-line ``HELP``, and
    ``add_arguments(parser)``, which defines its arguments and what runs them."""
    return {name: importlib.import_module(f"maestro.cli.{name}") for name in NAMES}


def summaries() -> dict[str, str]:
    """Each command's one-line help, for ``maestro --help``."""
    return {name: str(module.HELP) for name, module in _modules().items()}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="maestro",
        description="The commands agents run inside a Maestro session.",
        allow_abbrev=False,
    )
    commands = root.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name, module in _modules().items():
        module.add_arguments(add_command(commands, name, module.HELP))
    return root


def main(argv: list[str]) -> int:
    """Run ``maestro ARGV`` for one of ``NAMES``; return the exit code."""
    try:
        args, stray = parser().parse_known_args(argv)
        if stray:
            args.command_parser.error(f"unrecognized arguments: {' '.join(stray)}")
    except SystemExit as done:  # argparse: 0 after --help, 2 after a usage mistake
        return 1 if done.code == 2 else int(done.code or 0)
    json_mode: bool = getattr(args, "json", False)
    try:
        code: Any = args.run(args)
    except FAILURES as error:
        if json_mode:
            plain.print_json(plain.failure(error))
        else:
            plain.print_error(error.message)
        return exit_code_of(error)
    return int(code or 0)
