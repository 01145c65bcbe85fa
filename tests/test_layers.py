"""Imports go one way (README, "Layout"): ``domain`` <- ``store`` <- ``service`` <-
``server``, and ``domain`` <- ``client`` <- ``agents`` <- ``cli``, with ``config``
and ``skills`` below both chains and ``cli`` (the composition root) above all.

Every import in the package is checked, those inside functions too (the lazy
ones are imports all the same)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "maestro"

BASE = {"domain", "config", "skills", "__init__"}
MAY_IMPORT: dict[str, set[str]] = {
    "domain": {"domain", "__init__"},
    "config": {"config", "domain", "__init__"},
    "skills": {"skills", "__init__"},
    "store": BASE | {"store"},
    "service": BASE | {"store", "service"},
    "server": BASE | {"store", "service", "server"},
    "client": {"client", "config", "domain", "__init__"},
    "agents": BASE | {"client", "agents"},
}
"""Layer -> the layers it may import. ``cli`` and ``__main__`` may import anything."""


def layer_of(path: Path) -> str:
    first = path.relative_to(PACKAGE).parts[0]
    return first.removesuffix(".py")


def imported_layers(path: Path) -> list[tuple[int, str]]:
    """(line, layer) of every ``maestro`` import in the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            if node.module == "maestro":  # from maestro import client, __version__
                names = [f"maestro.{alias.name}" for alias in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] != "maestro":
                continue
            target = parts[1] if len(parts) > 1 else "__init__"
            found.append((node.lineno, "__init__" if target.startswith("__") else target))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_known_layer() -> None:
    layers = {layer_of(path) for path in SOURCES}
    assert layers <= set(MAY_IMPORT) | {"cli", "__main__", "__init__"}, layers


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path: Path) -> None:
    layer = layer_of(path)
    allowed = MAY_IMPORT.get(layer)
    if allowed is None:  # cli, __main__, the package's __init__
        return
    against = [
        f"{path.relative_to(PACKAGE)}:{line} imports maestro.{target} ({layer} may not)"
        for line, target in imported_layers(path)
        if target not in allowed
    ]
    assert not against, "\n".join(against)
