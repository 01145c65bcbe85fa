"""A runner on another host: ``maestro runner --pty`` in a network namespace of its
own (``tests/netns.py``) follows a server on this host over the veth link,
authenticated with a runner token (``maestro token create --runner``, made with
the admin token the server generated), and opens the session spawned there; the
agent's own CLI calls reach the server over the same link, with the token its
session's claim minted."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.deploy.conftest import MAESTRO, ExposedServer, clean_env
from tests.e2e.conftest import AGENT_COMMAND
from tests.e2e.test_spawn_flow import wait_for_status
from tests.helpers import make_project, make_task, request_spawn, wait_until
from tests.netns import Namespace

pytestmark = pytest.mark.slow  # starts a server, a runner and an agent


def test_a_runner_on_another_host_opens_a_session_spawned_on_the_server(
    other_host: Namespace,
    serve: Callable[..., ExposedServer],
    tmp_path: Path,
    home: Path,
    workdir: Path,
) -> None:
    data_dir, port = tmp_path / "data", str(free_port())
    address = other_host.host_address  # this host's end of the link
    argv = [*MAESTRO, "serve", "--host", address, "--port", port, "--data-dir", str(data_dir)]
    server = serve(argv, clean_env(), f"http://{address}:{port}").start()
    token = (data_dir / "admin-token").read_text().strip()
    made = subprocess.run(
        [*MAESTRO, "token", "create", "--runner", "laptop", "--json", "--server", server.url],
        env=clean_env(MAESTRO_TOKEN=token),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    runner_token = json.loads(made.stdout)["data"]["token"]

    runner_log = tmp_path / "runner.log"
    runner_env = clean_env(MAESTRO_HOME=str(home), MAESTRO_AGENT_COMMAND=AGENT_COMMAND)
    runner = [*MAESTRO, "runner", "--pty", "--name", "laptop", "--token", runner_token]
    runner += ["--server", server.url]
    other_host.popen(runner, runner_env, runner_log)

    def runner_says(text: str) -> bool:
        return text in runner_log.read_text(errors="replace")

    wait_until(lambda: runner_says(f"connected to {server.url}"), 15, "the runner to connect")

    with server.client(token) as http:
        project = make_project(http, workingDir=str(workdir))
        task = make_task(http, project["id"], title="Opened on another host")
        session_id = request_spawn(http, project["id"], [task["id"]], agent="custom")
        session = wait_for_status(http, session_id, "completed")

    assert runner_says(f"opened session {session_id}")
    # The agent reported through the CLI, from the runner's host, with the token.
    assert [e["type"] for e in session["events"]][1:3] == ["report:progress", "report:complete"]
    assert runner_token not in runner_log.read_text(errors="replace")
