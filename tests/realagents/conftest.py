"""Fixtures for tests that run the real agent CLIs against fake model servers.

The CLIs are found on ``PATH`` or where ``.ci/install-agent-clis`` puts them
(``$MAESTRO_AGENT_CLIS_DIR``, default ``~/.cache/maestro/agent-clis``, then
``node_modules/.bin``). Without them the tests are skipped with the reason,
unless ``MAESTRO_REQUIRE_AGENT_CLIS=1`` (CI sets it): then they fail.

Every test gets its own ``HOME`` (``agent_home``), so the developer's
``~/.claude*`` and ``~/.codex`` are never read or written.

The servers here require a token, as a deployed one does: the tests talk with
the admin token, the runner with a runner token, and each agent with the token
its session's claim minted (docs/security.md, "Scoped tokens"), so every test
shows the real CLIs' hooks and reports staying within a session's scope.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.helpers import created, new_folder
from tests.realagents.fake_anthropic import FakeAnthropic, claude_environment
from tests.realagents.fake_openai import FakeOpenAI, codex_environment
from tests.realagents.harness import RUNNER_NAME, AgentSetup, bare_path

DEFAULT_AGENT_CLIS_DIR = Path("~/.cache/maestro/agent-clis")


def find_agent_cli(name: str) -> Path | None:
    """``name`` on ``PATH``, else in the agent CLIs' install prefix; None if neither."""
    found = shutil.which(name)
    if found:
        return Path(found)
    prefix = Path(os.environ.get("MAESTRO_AGENT_CLIS_DIR") or DEFAULT_AGENT_CLIS_DIR)
    installed = prefix.expanduser() / "node_modules" / ".bin" / name
    return installed if os.access(installed, os.X_OK) else None


def _agent_cli(name: str) -> Path:
    path = find_agent_cli(name)
    if path is None:
        reason = f"`{name}` not found on PATH nor installed by .ci/install-agent-clis"
        if os.environ.get("MAESTRO_REQUIRE_AGENT_CLIS") == "1":
            pytest.fail(f"{reason} (MAESTRO_REQUIRE_AGENT_CLIS=1)")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    """The Claude Code CLI."""
    return _agent_cli("claude")


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    """The Codex CLI."""
    return _agent_cli("codex")


@pytest.fixture
def agent_home(tmp_path: Path) -> Path:
    """An empty ``HOME`` for one test's agent CLI runs."""
    return new_folder(tmp_path / "home")


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    """A started fake Messages API with an empty script (``fake_anthropic.add(...)``)."""
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started fake Responses API with an empty script (``fake_openai.add(...)``)."""
    with FakeOpenAI() as fake:
        yield fake


# -- Maestro around the agent ------------------------------------------------------


@pytest.fixture
def approval_timeout() -> str:
    """``MAESTRO_APPROVAL_TIMEOUT`` of the test's server: long enough for a test to
    decide; a test that lets an approval expire parametrizes it shorter."""
    return "120"


@pytest.fixture
def server(server_factory: Any, approval_timeout: str) -> RunningServer:
    """A fresh server (as ``tests/conftest.py``'s) requiring an admin token, with
    ``approval_timeout``."""
    made: RunningServer = server_factory(
        MAESTRO_APPROVAL_TIMEOUT=approval_timeout, MAESTRO_TOKEN=secrets.token_urlsafe(32)
    )
    return made


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    """A client of the test's server, with its admin token."""
    headers = {"Authorization": f"Bearer {server.env['MAESTRO_TOKEN']}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
        yield client


def runner_token(http: httpx.Client) -> str:
    """A runner token for the test runners (``harness.RUNNER_NAME``)."""
    token: str = created(http.post("/api/tokens", json={"runner": RUNNER_NAME}))["token"]
    return token


@pytest.fixture
def claude(
    server: RunningServer,
    http: httpx.Client,
    workdir: Path,
    tmp_path: Path,
    claude_bin: Path,
    fake_anthropic: FakeAnthropic,
    agent_home: Path,
) -> AgentSetup:
    """Maestro with Claude Code: the runner by path, nothing activated, ``claude`` on
    PATH, and the agent's credentials (the fake's URL and key) in its environment."""
    env = claude_environment(fake_anthropic.url, agent_home)
    env["PATH"] = bare_path(claude_bin.parent)
    env["MAESTRO_TOKEN"] = runner_token(http)
    home, log = tmp_path / "maestro-home", tmp_path / "runner.log"
    return AgentSetup(server, http, workdir, home, env, log)


@pytest.fixture
def codex(
    server: RunningServer,
    http: httpx.Client,
    workdir: Path,
    tmp_path: Path,
    codex_bin: Path,
    fake_openai: FakeOpenAI,
    agent_home: Path,
) -> AgentSetup:
    """Maestro with Codex: ``codex`` (and the node it runs on) on the runner's PATH,
    its base URL and key in ``$CODEX_HOME`` and the runner's environment only."""
    env = codex_environment(fake_openai.url, agent_home)
    node = shutil.which("node")
    assert node is not None, "the Codex CLI's launcher runs on node"
    env["PATH"] = bare_path(codex_bin.parent, Path(node).parent)
    env["MAESTRO_TOKEN"] = runner_token(http)
    home, log = tmp_path / "maestro-home", tmp_path / "runner.log"
    return AgentSetup(server, http, workdir, home, env, log, agent="codex")
