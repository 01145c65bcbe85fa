"""Another "host" for tests that need two machines: a network namespace of its
own, joined to this one by a veth pair.

::

    this host  <veth: HOST_SIDE_ADDRESS/30>  ====  <veth: INSIDE_ADDRESS/30>  namespace

A process started with ``Namespace.popen`` sees only the namespace's loopback and
its end of the link, as a process in a container (or on another machine) would;
it reaches this host at ``namespace.host_address`` and is reached at
``namespace.address``. Teardown always runs: the processes started inside are
stopped, then the namespace and the link are deleted.

Making a namespace needs root and iproute2's ``ip``. Without them the tests that
use one are skipped, saying why, unless ``MAESTRO_REQUIRE_NETNS=1`` (CI sets
it): then they fail.
"""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from tests.helpers import stop_process

SUBNET = ipaddress.ip_network("10.200.0.0/16")  # carved into /30 links, one per namespace


class Namespace:
    """A network namespace and the link to it (see the module's docstring)."""

    def __init__(self, name: str, link: str, network: ipaddress.IPv4Network) -> None:
        self.name = name
        self.link = link  # the veth end on this host; the inside end is ``link + "i"``
        host_side, inside = list(network.hosts())
        self.host_address = str(host_side)
        self.address = str(inside)
        self.processes: list[subprocess.Popen[bytes]] = []

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace to completion (text output captured)."""
        return subprocess.run(
            self.command(argv),
            env=None if env is None else dict(env),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def popen(
        self, argv: Sequence[str], env: Mapping[str, str], log: Path | IO[bytes]
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside the namespace with exactly ``env``, its output in
        ``log``; it is stopped at teardown if the test has not stopped it."""
        output = log.open("ab") if isinstance(log, Path) else log
        try:
            process = subprocess.Popen(
                self.command(argv), env=dict(env), stdout=output, stderr=subprocess.STDOUT
            )
        finally:
            if isinstance(log, Path):
                output.close()
        self.processes.append(process)
        return process


def unavailable() -> str | None:
    """Why this machine cannot make a namespace, or ``None``."""
    if os.geteuid() != 0:
        return "network namespace tests need root (`ip netns add`); CI runs them as root"
    if shutil.which("ip") is None:
        return "network namespace tests need iproute2's `ip` (apt-get install iproute2)"
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get("MAESTRO_REQUIRE_NETNS") == "1":
        pytest.fail(f"{reason} [MAESTRO_REQUIRE_NETNS=1]", pytrace=False)
    pytest.skip(reason)


@contextmanager
def network_namespace() -> Iterator[Namespace]:
    """A new namespace linked to this host; skips (or fails, see the module's
    docstring) where none can be made."""
    reason = unavailable()
    if reason is not None:
        skip_or_fail(reason)
    tag = f"{os.getpid() % 100_000}{random.randrange(1000):03d}"
    namespace = Namespace(f"maestro-test-{tag}", f"mt{tag}", _free_network())
    try:
        _create(namespace)
    except subprocess.CalledProcessError as error:
        _delete(namespace)
        skip_or_fail(f"cannot make a network namespace: {' '.join(error.cmd)}: {error.stderr}")
    try:
        yield namespace
    finally:
        for process in namespace.processes:
            stop_process(process)
        _delete(namespace)


def _free_network() -> ipaddress.IPv4Network:
    """A /30 of ``SUBNET`` that no interface of this host uses yet."""
    shown = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    links = SUBNET.num_addresses // 4
    while True:
        start = SUBNET.network_address + 4 * random.randrange(links)
        network = ipaddress.IPv4Network(f"{start}/30")
        if not any(str(address) in shown for address in network):
            return network


def _create(namespace: Namespace) -> None:
    inside = f"{namespace.link}i"
    steps = [
        ["ip", "netns", "add", namespace.name],
        ["ip", "link", "add", namespace.link, "type", "veth", "peer", "name", inside],
        ["ip", "link", "set", inside, "netns", namespace.name],
        ["ip", "addr", "add", f"{namespace.host_address}/30", "dev", namespace.link],
        ["ip", "link", "set", namespace.link, "up"],
        *(
            namespace.command(step)
            for step in (
                ["ip", "addr", "add", f"{namespace.address}/30", "dev", inside],
                ["ip", "link", "set", inside, "up"],
                ["ip", "link", "set", "lo", "up"],
            )
        ),
    ]
    for step in steps:
        subprocess.run(step, check=True, capture_output=True, text=True)


def _delete(namespace: Namespace) -> None:
    """Remove the link (both ends go together) and the namespace, whatever exists."""
    subprocess.run(["ip", "link", "del", namespace.link], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "del", namespace.name], capture_output=True, check=False)
