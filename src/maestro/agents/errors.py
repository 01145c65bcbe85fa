"""``AgentError``: the agent side refusing to go on (a bad session environment,
an unknown agent, a permission policy it cannot apply, a second runner), in one
sentence and a code. The CLI shows it and picks the exit code."""

from __future__ import annotations


class AgentError(Exception):
    def __init__(self, message: str, code: str = "ERROR") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
