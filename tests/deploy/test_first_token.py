"""A server bound beyond loopback with no ``MAESTRO_TOKEN`` generates an admin
token at first start (``maestro.server.admin_token``): it serves only with it,
prints it once, keeps the same one across restarts; a configured token wins.

The servers listen in a network namespace of their own (``tests/netns.py``) and
are reached from this host over its veth link, so no test listens beyond
loopback on the machine itself. The refusals stop before binding.
"""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer
from tests.deploy.conftest import MAESTRO, ExposedServer, clean_env
from tests.helpers import assert_error, ok
from tests.netns import Namespace

pytestmark = pytest.mark.slow  # starts servers

PORT = "3000"  # the namespace's own port space: nothing else listens there
CONFIGURED = "a-configured-token-of-the-operators-choosing"

# Ways to ask for a bind beyond loopback without a token: (arguments, environment).
EXPOSED: dict[str, tuple[list[str], dict[str, str]]] = {
    "--host 0.0.0.0": (["--host", "0.0.0.0"], {}),
    "--host <its address>": (["--host", "{address}"], {}),
    "HOST=0.0.0.0": ([], {"HOST": "0.0.0.0"}),
    "an empty MAESTRO_TOKEN": (["--host", "0.0.0.0"], {"MAESTRO_TOKEN": ""}),
}


def serve_argv(data_dir: Path, *arguments: str) -> list[str]:
    return [*MAESTRO, "serve", "--port", PORT, "--data-dir", str(data_dir), *arguments]


def exposed_server(
    serve: Callable[..., ExposedServer],
    other_host: Namespace,
    data_dir: Path,
    how: str = "--host 0.0.0.0",
    **env: str,
) -> ExposedServer:
    arguments, settings = EXPOSED[how]
    arguments = [a.format(address=other_host.address) for a in arguments]
    url = f"http://{other_host.address}:{PORT}"
    return serve(serve_argv(data_dir, *arguments), clean_env(**settings, **env), url, other_host)


def kept_token(data_dir: Path) -> str:
    return (data_dir / "admin-token").read_text().strip()


@pytest.mark.parametrize("how", list(EXPOSED))
def test_an_exposed_server_without_a_token_serves_only_with_the_one_it_generated(
    other_host: Namespace, serve: Callable[..., ExposedServer], tmp_path: Path, how: str
) -> None:
    server = exposed_server(serve, other_host, tmp_path / "data", how).start()
    token = kept_token(tmp_path / "data")
    assert len(token) >= 32

    assert_error(server.get("/api/projects"), 401, "UNAUTHORIZED")
    assert_error(server.get("/api/projects", "not-the-token"), 401, "UNAUTHORIZED")
    assert ok(server.get("/api/projects", token)) == []
    assert ok(server.get("/health"))["status"] == "ok"  # open, for health checks


def test_the_token_file_is_readable_by_its_owner_only(
    other_host: Namespace, serve: Callable[..., ExposedServer], tmp_path: Path
) -> None:
    exposed_server(serve, other_host, tmp_path / "data").start()
    assert stat.S_IMODE((tmp_path / "data" / "admin-token").stat().st_mode) == 0o600


def test_the_generated_token_is_printed_once_and_kept_across_restarts(
    other_host: Namespace, serve: Callable[..., ExposedServer], tmp_path: Path
) -> None:
    server = exposed_server(serve, other_host, tmp_path / "data").start()
    token = kept_token(tmp_path / "data")
    first = server.output()
    assert first.count(token) == 1, first
    assert f"http://127.0.0.1:{PORT}/?token={token}" in first

    server.restart()
    assert kept_token(tmp_path / "data") == token
    again = server.output()
    assert token not in again, again
    assert str(tmp_path / "data" / "admin-token") in again  # where to find it
    assert ok(server.get("/api/projects", token)) == []


def test_a_configured_maestro_token_wins_and_no_token_file_is_written(
    other_host: Namespace, serve: Callable[..., ExposedServer], tmp_path: Path
) -> None:
    server = exposed_server(serve, other_host, tmp_path / "data", MAESTRO_TOKEN=CONFIGURED)
    server.start()
    assert ok(server.get("/api/projects", CONFIGURED)) == []
    assert_error(server.get("/api/projects"), 401, "UNAUTHORIZED")
    assert not (tmp_path / "data" / "admin-token").exists()
    assert "admin token" not in server.output()


def test_a_configured_maestro_token_wins_over_a_kept_admin_token(
    other_host: Namespace, serve: Callable[..., ExposedServer], tmp_path: Path
) -> None:
    server = exposed_server(serve, other_host, tmp_path / "data").start()
    generated = kept_token(tmp_path / "data")
    server.stop()

    server.env["MAESTRO_TOKEN"] = CONFIGURED
    server.start()
    assert_error(server.get("/api/projects", generated), 401, "UNAUTHORIZED")
    assert ok(server.get("/api/projects", CONFIGURED)) == []


def test_a_loopback_bind_needs_no_token_and_writes_no_file(
    server: RunningServer, http: httpx.Client
) -> None:
    assert ok(http.get("/api/projects")) == []
    assert not (server.data_dir / "admin-token").exists()


# -- a token file that cannot be used ----------------------------------------------------

# A token file that must stop the server, not be regenerated: (contents, mode).
UNUSABLE: dict[str, tuple[bytes, int]] = {
    "empty": (b"", 0o600),
    "blank": (b" \n\n", 0o600),
    "too short": (b"short\n", 0o600),
    "two words": (b"a-token-long-enough-to-pass-the-length a-second-word\n", 0o600),
    "not ascii": ("é".encode() * 40, 0o600),
    "readable by others": (b"x" * 43 + b"\n", 0o644),
    "writable by the group": (b"x" * 43 + b"\n", 0o620),
}


@pytest.mark.parametrize("problem", list(UNUSABLE))
def test_an_unusable_token_file_stops_the_server_naming_it(tmp_path: Path, problem: str) -> None:
    contents, mode = UNUSABLE[problem]
    token_file = tmp_path / "data" / "admin-token"
    token_file.parent.mkdir()
    token_file.write_bytes(contents)
    token_file.chmod(mode)
    # 192.0.2.10 (TEST-NET-1) is no address of this machine: a server that did
    # not stop would fail to bind rather than listen.
    started = subprocess.run(
        serve_argv(tmp_path / "data", "--host", "192.0.2.10"),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    message = started.stderr.strip()
    assert started.returncode != 0
    assert message.startswith("maestro serve: "), message
    assert str(token_file) in message
    assert "Traceback" not in message
    assert len(message.splitlines()) == 1, message
    assert token_file.read_bytes() == contents, "never regenerated behind the user's back"
