"""The same Maestro app under uvicorn (what ``maestro serve`` runs) and granian.

Issue 10 asked to measure the HTTP server before choosing one. Both servers run
the same ``create_app`` on a fresh JSON store each, one worker process, uvloop;
``wrk -t1 -c32`` drives ``GET /health``, ``GET /api/tasks/:id``, ``PATCH`` and
``POST`` (the endpoints of ``write_bench.py``), interleaved, rounds alternating
the order. Reported: req/s of each, the ratio granian/uvicorn, and each
endpoint's ratio to its own server's ``/health``.

granian is not a dependency of Maestro: ``pip install granian`` first (the script
says so and exits if it is missing).

Usage::

    .venv/bin/python benchmarks/http_servers.py --rounds 3 -d 4s
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _harness import MaestroServer, machine_load, median, scratch_dir, table
from http_bench import Run, lua_script, run_wrk
from write_bench import seed

HERE = Path(__file__).resolve().parent


def granian_app() -> object:
    """The factory granian imports (``http_servers:granian_app``)."""
    from maestro.config import Settings
    from maestro.server import create_app

    return create_app(Settings.load())


class GranianServer(MaestroServer):
    """``MaestroServer``, launched under granian instead of ``maestro serve``."""

    def launch(self) -> None:
        env = {**os.environ, "DATA_DIR": str(self.data_dir), "PORT": str(self.port)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
        command = [
            *[str(Path(sys.executable).parent / "granian")],
            "--interface", "asgi", "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", "1", "--loop", "uvloop", "--no-ws",
            "--factory", "http_servers:granian_app",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.started_at = time.perf_counter()
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--duration", default="4s")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    options = parser.parse_args()
    options.threads, options.connections = 1, 32
    if importlib.util.find_spec("granian") is None:
        print("granian is not installed: .venv/bin/pip install granian", file=sys.stderr)
        return 2
    print(f"before: {machine_load()}")
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(scratch_dir("maestro-http-servers-", False))
        servers = {
            "uvicorn": MaestroServer(scratch / "data-uvicorn", scratch),
            "granian": GranianServer(scratch / "data-granian", scratch),
        }
        plans = {name: seed(stack.enter_context(server)) for name, server in servers.items()}
        wanted = [0, 1, 3, 4]  # /health, GET by id, PATCH, POST
        results: dict[tuple[str, str], list[Run]] = {}
        for round_no in range(options.rounds):
            order = list(servers) if round_no % 2 == 0 else list(reversed(servers))
            for index in wanted:
                for name in order:
                    endpoint = plans[name][index]
                    script = scratch / f"{name}-{index}.lua"
                    script.write_text(lua_script(endpoint, round_no))
                    run = run_wrk(servers[name], script, options, options.duration)
                    results.setdefault((name, endpoint.name), []).append(run)
    print(f"after: {machine_load()}")
    names = [plans["uvicorn"][i].name for i in wanted]

    def rps(server: str, name: str) -> float:
        return median([r.rps for r in results[(server, name)]])

    rows = [
        [
            name,
            f"{rps('uvicorn', name):.0f}",
            f"{rps('granian', name):.0f}",
            f"{rps('granian', name) / rps('uvicorn', name):.2f}",
            f"{rps('uvicorn', name) / rps('uvicorn', names[0]):.2f}",
            f"{rps('granian', name) / rps('granian', names[0]):.2f}",
        ]
        for name in names
    ]
    headers = ["endpoint", "uvicorn req/s", "granian req/s", "granian/uvicorn"]
    print(table([*headers, "uvicorn x /health", "granian x /health"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
