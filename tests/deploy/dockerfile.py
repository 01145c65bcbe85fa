"""Just enough of a Dockerfile reader for the tests to run what the image runs."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Dockerfile:
    def __init__(self, path: Path = ROOT / "Dockerfile") -> None:
        self.instructions: list[tuple[str, str]] = []
        pending = ""
        for line in path.read_text().splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending += line.strip()
            if pending.endswith("\\"):  # continued on the next line
                pending = pending[:-1].rstrip() + " "
                continue
            keyword, _, arguments = pending.strip().partition(" ")
            self.instructions.append((keyword.upper(), arguments.strip()))
            pending = ""

    def all(self, keyword: str) -> list[str]:
        return [arguments for name, arguments in self.instructions if name == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"the Dockerfile has no {keyword}"
        return found[-1]

    def env(self) -> dict[str, str]:
        """Every ``ENV KEY=VALUE ...`` in order, later ones winning."""
        values: dict[str, str] = {}
        for arguments in self.all("ENV"):
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                values[key] = value
        return values

    def command(self) -> list[str]:
        """The exec-form ``CMD`` (the image has no ``ENTRYPOINT``)."""
        assert not self.all("ENTRYPOINT"), "the tests run CMD alone"
        command = json.loads(self.last("CMD"))
        assert isinstance(command, list)
        return [str(part) for part in command]

    def healthcheck(self) -> str:
        """The shell command of ``HEALTHCHECK [OPTIONS] CMD command``."""
        return self.last("HEALTHCHECK").split(" CMD ", 1)[1]
