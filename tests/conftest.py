"""Shared fixtures: real ``maestro serve`` processes on free ports with temporary
stores, and HTTP clients talking to them over real sockets.

Stores. The ``backend`` fixture says which store a test server uses: ``json`` (a
temporary data directory) or ``postgres`` (a fresh schema in the database at
``MAESTRO_TEST_DATABASE_URL``, dropped afterwards). The API and WebSocket suites
run once per backend (``EVERY_BACKEND``); the other suites only talk HTTP to a
server and run on the JSON store. Tests about the JSON files themselves are
``json_only`` (``JSON_ONLY`` or ``@pytest.mark.json_only``).

Without a reachable PostgreSQL the ``postgres`` runs are skipped with the reason,
unless ``MAESTRO_REQUIRE_POSTGRES=1`` (CI sets it): then they fail.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings

from maestro.config import SERVER_ENVIRONMENT
from tests.helpers import make_project, make_task, new_folder, stop_process

TESTS_DIR = Path(__file__).resolve().parent
BACKENDS = ("json", "postgres")
# Paths (relative to tests/) of the suites that run on every backend, and of the
# ones among them that inspect the JSON store's files.
EVERY_BACKEND = ("test_*.py", "e2e/test_websocket.py")
JSON_ONLY = ("test_bad_input.py", "e2e/test_durability.py")
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


# A run of the suite decides whether a change lands, so the property tests try
# the same inputs on every run; HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    """A ``maestro serve`` subprocess. ``restart()`` keeps the port and data dir."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 15.0) -> RunningServer:
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it to answer."""
        # The developer's own Maestro settings must not leak into a test server.
        inherited = {k: v for k, v in os.environ.items() if k not in SERVER_ENVIRONMENT}
        # Nor the skills in the developer's (or CI user's) ~/.maestro/skills.
        own_skills = str(self.data_dir.parent / "user-skills")
        env = {**inherited, "MAESTRO_SKILLS_DIR": own_skills, **self.env}
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "maestro",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 15.0) -> RunningServer:
        """Wait until ``/health`` answers; fail with the server's log if it does not."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> None:
        """Graceful stop (SIGTERM), waiting for the process to exit."""
        stop_process(self.process)

    def kill(self) -> None:
        """``kill -9``: no chance to clean up."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> RunningServer:
        self.stop()
        return self.start()


# -- stores ----------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "json_only: about the JSON store's files; runs on the JSON backend only"
    )
    config.addinivalue_line(
        "markers",
        "slow: starts processes (a server, a browser, an agent CLI) or runs long; "
        '`pytest -m "not slow"` is the inner loop',
    )


# -- the fast loop ---------------------------------------------------------------

# Suites that are about processes, browsers, real agents, crashes or PostgreSQL.
SLOW_SUITES = ("ui", "stress", "realagents", "e2e", "postgres")
# Fixtures that start a server process (or need the database); a test using one,
# directly or through another fixture, is slow.
SLOW_FIXTURES = {"server_factory", "shared_server", "backend", "test_database"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark as ``slow`` what the fast loop leaves out (see ``SLOW_SUITES`` and
    ``SLOW_FIXTURES``; a test can also be marked by hand)."""
    for item in items:
        suite = Path(str(item.path)).relative_to(TESTS_DIR).parts[0]
        fixtures = set(getattr(item, "fixturenames", ()))
        if suite in SLOW_SUITES or fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the API and WebSocket suites once per backend."""
    if "backend" not in metafunc.fixturenames:
        return
    path = metafunc.definition.path.relative_to(TESTS_DIR)
    if _matches(path, JSON_ONLY) or metafunc.definition.get_closest_marker("json_only"):
        return
    if _matches(path, EVERY_BACKEND):
        metafunc.parametrize("backend", BACKENDS, indirect=True, scope="session")


def _matches(path: Path, patterns: tuple[str, ...]) -> bool:
    """``path`` matches one of ``patterns`` as a whole (not just its last parts)."""
    return any(len(path.parts) == len(Path(p).parts) and path.match(p) for p in patterns)


class TestDatabase:
    """Throw-away schemas in the PostgreSQL test database, one per store.

    Names carry this run's pid and a random tag, so concurrent runs never collide.
    """

    __test__ = False  # not a test class, whatever its name says

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self.connection = psycopg.connect(url, autocommit=True, connect_timeout=5)
        self.prefix = f"maestro_test_{os.getpid()}_{secrets.token_hex(3)}"
        self.schemas: list[str] = []  # created and not dropped yet
        self.made = 0

    def new_store_url(self) -> str:
        """The URL of a new, empty schema (Maestro creates its tables there)."""
        self.made += 1
        schema = f"{self.prefix}_{self.made}"
        self.connection.execute(f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        return self.store_url(schema)

    def store_url(self, schema: str) -> str:
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}options=-csearch_path%3D{schema}"

    def drop(self, store_url: str) -> None:
        schema = store_url.rsplit("%3D", 1)[-1]
        if schema in self.schemas:
            self.schemas.remove(schema)
            self.connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def close(self) -> None:
        for schema in self.schemas:
            self.connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        self.connection.close()


@pytest.fixture(scope="session")
def test_database() -> Iterator[TestDatabase]:
    """The PostgreSQL test database, or a skip (a failure in CI) saying why not."""
    url = os.environ.get("MAESTRO_TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL
    try:
        database = TestDatabase(url)
    except Exception as error:
        reason = (
            f"PostgreSQL tests need a server at {url} (set MAESTRO_TEST_DATABASE_URL): "
            f"{type(error).__name__}: {' '.join(str(error).split())}"
        )
        if os.environ.get("MAESTRO_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} [MAESTRO_REQUIRE_POSTGRES=1]", pytrace=False)
        pytest.skip(reason)
    yield database
    database.close()


@dataclass(frozen=True)
class StoreBackend:
    """Which store test servers use; ``server()`` gives each a fresh, empty one."""

    name: str
    database: TestDatabase | None = None

    def server(self, data_dir: Path, **env: str) -> RunningServer:
        """A server (not started yet) on a new store; ``env`` adds settings."""
        if self.database is not None:
            env = {"MAESTRO_DATABASE_URL": self.database.new_store_url(), **env}
        return RunningServer(data_dir, env=env)

    def discard(self, server: RunningServer) -> None:
        """Drop a stopped server's store (a data dir goes with the test's tmp_path)."""
        if self.database is not None and "MAESTRO_DATABASE_URL" in server.env:
            self.database.drop(server.env["MAESTRO_DATABASE_URL"])


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> StoreBackend:
    """``json`` unless the test is parametrised over ``BACKENDS``."""
    name = getattr(request, "param", "json")
    if name == "postgres":
        return StoreBackend(name, request.getfixturevalue("test_database"))
    return StoreBackend(name)


# -- servers ---------------------------------------------------------------------


@pytest.fixture
def server_factory(tmp_path: Path, backend: StoreBackend) -> Iterator[Any]:
    """Start servers on demand, each on a new store; all are stopped at the end."""
    started: list[RunningServer] = []

    def make(data_dir: Path | None = None, **env: str) -> RunningServer:
        server = backend.server(data_dir or tmp_path / f"data{len(started)}", **env)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()
        backend.discard(server)


@pytest.fixture(scope="session")
def shared_server(
    tmp_path_factory: pytest.TempPathFactory, backend: StoreBackend
) -> Iterator[RunningServer]:
    """One server for the many tests that only need their own fresh project."""
    server = backend.server(tmp_path_factory.mktemp("shared") / "data").start()
    yield server
    server.stop()
    backend.discard(server)


@pytest.fixture
def server(server_factory: Any) -> RunningServer:
    """A fresh server with an empty data dir, for tests that look at the whole store."""
    made: RunningServer = server_factory()
    return made


@pytest.fixture
def api(shared_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def project(api: httpx.Client) -> dict[str, Any]:
    return make_project(api, name="Test project", workingDir="/tmp")


@pytest.fixture
def task(api: httpx.Client, project: dict[str, Any]) -> dict[str, Any]:
    return make_task(api, project["id"], title="A task")


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    """A client of this test's own server (``server``), for tests that watch it whole."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


# -- runners and agents ----------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A ``MAESTRO_HOME`` for a runner or an agent command (made when first used)."""
    return tmp_path / "home"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory (``cwd``) for the agent."""
    return new_folder(tmp_path / "work")
