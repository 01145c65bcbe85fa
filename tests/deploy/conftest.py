"""Servers exposed beyond loopback, reached from another "host": a network
namespace of the test's own (``tests/netns.py``), as a container or another
machine would be."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest

from maestro.config import SERVER_ENVIRONMENT
from tests.helpers import stop_process
from tests.netns import Namespace, network_namespace

MAESTRO = [sys.executable, "-m", "maestro"]
PROXIES = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}


@pytest.fixture
def other_host() -> Iterator[Namespace]:
    """A network namespace linked to this host by a veth pair (skipped without root
    and ``ip``, unless ``MAESTRO_REQUIRE_NETNS=1``)."""
    with network_namespace() as namespace:
        yield namespace


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Maestro's server settings or proxies
    (nothing on the other end of a veth goes through a proxy), plus ``extra``."""
    kept = {
        k: v
        for k, v in os.environ.items()
        if k not in SERVER_ENVIRONMENT and k.upper() not in PROXIES and k != "MAESTRO_TOKEN"
    }
    return {**kept, **extra}


class ExposedServer:
    """``maestro serve`` started by ``argv`` with exactly ``env``, inside
    ``namespace`` (or on this host) and reached at ``url``; each start's output in
    its own log, so that what one start printed can be told from another's."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        url: str,
        logs: Path,
        namespace: Namespace | None = None,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.url = url
        self.logs = logs
        self.namespace = namespace
        self.starts = 0
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        self.starts += 1
        log = self.logs / f"start-{self.starts}.log"
        if self.namespace is not None:
            self.process = self.namespace.popen(self.argv, self.env, log)
        else:
            with log.open("ab") as output:
                self.process = subprocess.Popen(
                    self.argv, env=self.env, stdout=output, stderr=subprocess.STDOUT
                )

    def start(self, timeout: float = 20) -> ExposedServer:
        self.launch()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if self.get("/health").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer in {timeout}s:\n{self.output()}")

    def stop(self) -> None:
        stop_process(self.process)

    def restart(self) -> ExposedServer:
        self.stop()
        return self.start()

    def output(self, start: int | None = None) -> str:
        """What start number ``start`` (default: the last) printed."""
        log = self.logs / f"start-{start or self.starts}.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, trust_env=False)

    def get(self, path: str, token: str | None = None) -> httpx.Response:
        with self.client(token) as client:
            return client.get(path)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ExposedServer]]:
    """Make servers (``ExposedServer``'s arguments but ``logs``), not started; every
    one is stopped at the end."""
    made: list[ExposedServer] = []

    def make(
        argv: Sequence[str], env: Mapping[str, str], url: str, namespace: Namespace | None = None
    ) -> ExposedServer:
        logs = tmp_path / f"server{len(made)}-logs"
        logs.mkdir()
        made.append(ExposedServer(argv, env, url, logs, namespace))
        return made[-1]

    yield make
    for server in made:
        server.stop()
