"""What a failed command tells the shell: SPEC section 8's exit codes, decided
here and nowhere else.

A command fails with a ``CommandError`` of its own (a bad flag, a store it
cannot open), or lets through what the client (``ClientError``) or the agent
side (``AgentError``) raised; ``exit_code_of`` maps each to its code.
"""

from __future__ import annotations

from maestro.agents.errors import AgentError
from maestro.client import ApiError, ClientError, ServerUnreachable

EXIT_GENERAL = 1
EXIT_NOT_FOUND = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_ALLOWED = 4
EXIT_SPAWN_FAILED = 5


class CommandError(Exception):
    """A command's own failure: one sentence, a code and the exit code."""

    def __init__(self, message: str, code: str = "ERROR", exit_code: int = EXIT_GENERAL) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.exit_code = exit_code


Failure = CommandError | ClientError | AgentError
"""Everything a command reports as a failure rather than a crash."""
FAILURES = (CommandError, ClientError, AgentError)


def exit_code_of(error: Failure) -> int:
    if isinstance(error, CommandError):
        return error.exit_code
    if isinstance(error, ServerUnreachable):
        return EXIT_UNREACHABLE
    if isinstance(error, ApiError):
        if error.status in (401, 403):
            return EXIT_NOT_ALLOWED
        if error.status == 404:
            return EXIT_NOT_FOUND
    return EXIT_GENERAL
