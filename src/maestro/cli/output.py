"""How a command answers: the ``--json`` envelope for agents, Rich for people,
and one clear line plus the documented exit code when something fails."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from maestro.cli import plain
from maestro.cli.errors import FAILURES, Failure, exit_code_of
from maestro.client import MaestroClient

T = TypeVar("T")

JsonFlag = Annotated[
    bool, typer.Option("--json", help='Machine output: {"success": ..., "data": ...} on stdout.')
]
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server", help="Maestro server URL (env MAESTRO_SERVER_URL)", show_default=False
    ),
]

# Set when a command reports a failure itself, so ``main`` can tell its exit codes
# from Click's usage errors (which also exit 2).
failed_on_purpose = False

UNWRAPPED_WIDTH = 4096
"""Rich wraps at 80 columns when output is not a terminal; agents and scripts read
that output, and a command or an id cut in two is no use to them."""


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else UNWRAPPED_WIDTH)


console = _console()
errors = _console(stderr=True)


class Command:
    """What a running command needs: the client and how to answer."""

    def __init__(self, json_mode: bool, server: str | None) -> None:
        self.json_mode = json_mode
        self._server = server
        self._client: MaestroClient | None = None

    @property
    def client(self) -> MaestroClient:
        if self._client is None:
            self._client = MaestroClient(self._server)
        return self._client

    def done(self, data: T, show: Callable[[T], None] | None = None) -> None:
        """Print the result: the envelope with ``--json``, else ``show(data)``."""
        if self.json_mode:
            plain.print_json(plain.success(data))
        elif show is not None:
            show(data)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


@contextmanager
def command(json_mode: bool, server: str | None) -> Iterator[Command]:
    """Run a command body; turn any failure (``cli.errors``) into output and an
    exit code."""
    cmd = Command(json_mode, server)
    try:
        yield cmd
    except FAILURES as error:
        fail(error, json_mode)
    finally:
        cmd.close()


def fail(error: Failure, json_mode: bool, data: Any = None) -> NoReturn:
    """Report ``error`` and exit with its code; ``data``, when given, rides along in
    the ``--json`` envelope (e.g. the sessions ``session wait`` gave up on)."""
    if json_mode:
        plain.print_json(plain.failure(error, data))
    else:
        plain.print_error(error.message)
    global failed_on_purpose
    failed_on_purpose = True
    raise typer.Exit(exit_code_of(error))


def when(ms: int | None) -> str:
    """A timestamp for people: local time, to the second."""
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: Any) -> Text:
    # Text, not markup: a task titled "[WIP] fix [/b]" prints as typed.
    return Text("-" if value is None or value == "" else str(value))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    grid = Table(title=Text(title), title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(_cell(cell) for cell in row))
    console.print(grid)


def fields(title: str, pairs: Sequence[tuple[str, Any]]) -> None:
    """A two-column view of one entity."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for name, value in pairs:
        grid.add_row(name, _cell(value))
    console.print(Text(title, style="bold"))
    console.print(grid)


def say(message: str) -> None:
    """One line for people, printed as is (no markup: messages carry user data)."""
    console.print(message, markup=False, highlight=False)
