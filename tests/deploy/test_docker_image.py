"""The Docker image (``Dockerfile``), run as the image would run it.

No container engine can build images on the machines the tests run on, so the
image itself is never built here. What is tested is what it runs: its ``CMD``
with exactly its ``ENV`` (the ``/data`` volume standing at a temporary folder,
the package installed in this virtualenv rather than the image's Python), as an
unprivileged user as its ``USER`` is, in a network namespace of its own that
this host reaches over a veth pair as it would a published port; and its
``HEALTHCHECK`` command beside it.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import ExposedServer
from tests.deploy.dockerfile import ROOT, Dockerfile
from tests.helpers import assert_error, ok
from tests.netns import Namespace, skip_or_fail

DOCKERFILE = Dockerfile()
UNPRIVILEGED = 65534  # "nobody", standing for the image's USER


# -- what the Dockerfile says --------------------------------------------------------


def test_the_image_is_a_slim_python_running_the_server_as_a_non_root_user() -> None:
    assert DOCKERFILE.last("FROM").startswith("python:3.11-slim")
    assert DOCKERFILE.last("USER") not in ("root", "0")
    assert DOCKERFILE.command() == ["maestro", "serve"]


def test_the_image_serves_every_interface_on_port_3000_from_the_data_volume() -> None:
    env = DOCKERFILE.env()
    assert (env["HOST"], env["PORT"], env["DATA_DIR"]) == ("0.0.0.0", "3000", "/data")
    assert DOCKERFILE.last("VOLUME") == "/data"
    assert DOCKERFILE.last("EXPOSE") == "3000"
    assert "/health" in DOCKERFILE.healthcheck()


def test_the_build_context_is_only_what_the_image_copies() -> None:
    """``.dockerignore`` leaves out everything (virtualenvs, local data, caches) but
    the sources the ``COPY`` lines name."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied = {s for arguments in DOCKERFILE.all("COPY") for s in arguments.split()[:-1]}
    assert patterns[0] == "*"
    assert {p[1:].rstrip("/") for p in patterns if p.startswith("!")} == copied


# -- the image's command, on a host of its own ---------------------------------------


@pytest.fixture
def volume() -> Iterator[Path]:
    """The ``/data`` volume: a folder the unprivileged user owns, as the image's
    ``/data`` is (outside pytest's own temporary folders, which only root may enter)."""
    root = Path(tempfile.mkdtemp(prefix="maestro-image-"))
    root.chmod(0o755)
    for folder in (root / "home", root / "data"):
        folder.mkdir()
        os.chown(folder, UNPRIVILEGED, UNPRIVILEGED)
    yield root / "data"
    shutil.rmtree(root)


def image_env(volume: Path) -> dict[str, str]:
    """What a container of the image runs with: a container's basics, then the
    Dockerfile's ``ENV``, with ``DATA_DIR`` at the volume's stand-in."""
    system = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    home = str(volume.parent / "home")
    basics = {"PATH": f"{Path(sys.executable).parent}:{system}", "HOME": home}
    return {**basics, **DOCKERFILE.env(), "DATA_DIR": str(volume)}


def as_image_user(argv: list[str]) -> list[str]:
    user = [f"--reuid={UNPRIVILEGED}", f"--regid={UNPRIVILEGED}", "--clear-groups"]
    return ["setpriv", *user, "--", *argv]


@pytest.fixture
def container(
    other_host: Namespace, volume: Path, serve: Callable[..., ExposedServer]
) -> ExposedServer:
    """The image's command in ``other_host`` (not started), reached at its port there."""
    env = image_env(volume)
    installed = other_host.run(as_image_user([sys.executable, "-c", "import maestro"]), env)
    if installed.returncode != 0:
        skip_or_fail(
            f"an unprivileged user (uid {UNPRIVILEGED}) cannot run this installation of "
            f"Maestro ({sys.executable}): {installed.stderr.strip()}"
        )
    url = f"http://{other_host.address}:{env['PORT']}"
    return serve(as_image_user(DOCKERFILE.command()), env, url, other_host)


@pytest.mark.slow
def test_the_image_serves_another_host_only_with_the_token_it_generated(
    container: ExposedServer, volume: Path
) -> None:
    container.start()
    token_file = volume / "admin-token"
    token = token_file.read_text().strip()
    info = token_file.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (UNPRIVILEGED, 0o600)
    # The URL to open, through `docker run -p 3000:3000`, printed with the token.
    assert f"http://127.0.0.1:3000/?token={token}" in container.output()

    assert ok(container.get("/health"))["status"] == "ok"
    assert_error(container.get("/api/projects"), 401, "UNAUTHORIZED")
    assert ok(container.get("/api/projects", token)) == []
    page = container.get(f"/?token={token}")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert 'src="js/app.js"' in page.text


@pytest.mark.slow
def test_the_image_healthcheck_passes_while_the_server_answers_and_fails_once_it_stops(
    container: ExposedServer, other_host: Namespace
) -> None:
    check = as_image_user(["sh", "-c", DOCKERFILE.healthcheck()])
    container.start()
    assert other_host.run(check, container.env).returncode == 0
    container.stop()
    failed = other_host.run(check, container.env)
    assert failed.returncode != 0
    assert "Connection refused" in failed.stderr


def test_the_healthcheck_command_is_valid_shell() -> None:
    parsed = subprocess.run(["sh", "-n", "-c", DOCKERFILE.healthcheck()], capture_output=True)
    assert parsed.returncode == 0, parsed.stderr
