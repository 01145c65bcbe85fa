"""CLI start-up: what an agent waits for each time it runs ``maestro``.

``maestro hook file-modified`` runs after every file an agent writes, and
``maestro report`` / ``maestro whoami`` whenever it reports or looks itself up,
so their whole run (interpreter start, imports, the request) is what counts.

The figure is a ratio: each command's wall time over that of a bare
``python -c "import json, urllib.request"`` (the least a Python HTTP client can
import), measured in the same run, interleaved (round after round, every command
once per round) and as medians, so the load of a shared machine weighs on both
sides alike. Per command the CPU time (user + system, from ``wait4``) is shown
too: it depends less on the other load than the wall time.

Measured, each through the installed script (``.venv/bin/maestro``, what an
agent's ``PATH`` holds):

- ``hook file-modified`` with stdin ``{}`` outside a session (it returns at once)
  and inside one (one ``PATCH /api/sessions/:id``: the real cost);
- ``report progress "x" --task <id>`` (read the task, then one PATCH);
- ``whoami --json`` inside a spawned session (session, project and task reads,
  skills, the brief);
- for "no slower than before": ``task list --json`` and ``--help``;
- ``python -m maestro hook file-modified`` inside a session, for reference.

The session and task live on a real ``maestro serve`` this script starts on a
temporary data directory. ``--compare SRC`` adds, in the same rounds, every
``maestro`` command run with ``PYTHONPATH=SRC`` (e.g. an older checkout's
``src`` from ``git archive``), to compare two versions on the same machine.

Target: every agent command (hook, report, whoami) within 2.5x the baseline.

Usage::

    .venv/bin/python benchmarks/cli_startup.py               # about 1 minute
    .venv/bin/python benchmarks/cli_startup.py --rounds 40
    .venv/bin/python benchmarks/cli_startup.py --compare /tmp/maestro-head/src
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from _harness import Check, MaestroServer, machine_load, median, run_checks, scratch_dir, table

TARGET_RATIO = 2.5
BASELINE = "python -c 'import json, urllib.request'"
HOOK_INPUT = '{"tool_name": "Edit", "tool_input": {"file_path": "/src/app.py"}}'


@dataclass
class Probe:
    """One command line to time, with its environment and standard input."""

    label: str
    argv: list[str]
    env: dict[str, str]
    stdin: str = ""
    agent_command: bool = False
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def run_once(probe: Probe, scratch: Path) -> tuple[float, float, int]:
    """Run the probe once; return its wall seconds, CPU seconds and exit code."""
    stdin_path = scratch / "stdin"
    stdin_path.write_text(probe.stdin)
    with stdin_path.open("rb") as stdin:
        started = time.perf_counter()
        process = subprocess.Popen(
            probe.argv,
            env=probe.env,
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, process.returncode


def check_runs(probe: Probe) -> None:
    """Run the probe once with its output captured; stop on a failure."""
    result = subprocess.run(
        probe.argv, env=probe.env, input=probe.stdin, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{probe.label} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any MAESTRO_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    env.pop("PYTHONPATH", None)
    return {**env, **extra}


def make_session(server: MaestroServer, home: Path) -> tuple[str, dict[str, str]]:
    """A project, a task and a spawned session; return the task id and the
    session's terminal environment (what the runner would set)."""
    with httpx.Client(base_url=server.url, timeout=30) as api:
        project = api.post("/api/projects", json={"name": "bench", "workingDir": str(home)})
        project.raise_for_status()
        project_id = project.json()["id"]
        task = api.post("/api/tasks", json={"projectId": project_id, "title": "Bench task"})
        task.raise_for_status()
        task_id: str = task.json()["id"]
        spawn = api.post(
            "/api/sessions/spawn",
            json={"projectId": project_id, "taskIds": [task_id], "agent": "custom"},
        )
        spawn.raise_for_status()
        session = api.get(f"/api/sessions/{spawn.json()['sessionId']}").json()
    return task_id, dict(session["env"])


def probes(server: MaestroServer, root: Path, compare: Path | None) -> list[Probe]:
    home = root / "home"
    skills = root / "skills"
    home.mkdir()
    skills.mkdir()
    task_id, session_env = make_session(server, home)
    bin_dir = Path(sys.executable).parent
    maestro = str(bin_dir / "maestro")
    outside = clean_env(
        {
            "MAESTRO_SERVER_URL": server.url,
            "MAESTRO_HOME": str(home),
            "MAESTRO_SKILLS_DIR": str(skills),
        }
    )
    inside = {**outside, **session_env, "MAESTRO_SERVER_URL": server.url}
    commands: list[Probe] = [
        Probe("hook file-modified, outside a session", [maestro, "hook", "file-modified"],
              outside, "{}", agent_command=True),
        Probe("hook file-modified, in a session", [maestro, "hook", "file-modified"],
              inside, HOOK_INPUT, agent_command=True),
        Probe("report progress x --task T", [maestro, "report", "progress", "x", "--task", task_id],
              outside, agent_command=True),
        Probe("whoami --json, in a session", [maestro, "whoami", "--json"], inside,
              agent_command=True),
        Probe("task list --json", [maestro, "task", "list", "--json"], outside),
        Probe("--help", [maestro, "--help"], outside),
        Probe("python -m maestro hook, in a session",
              [sys.executable, "-m", "maestro", "hook", "file-modified"], inside, HOOK_INPUT),
    ]  # fmt: skip
    if compare is not None:
        for probe in list(commands):
            commands.append(
                Probe(
                    f"{probe.label} [--compare]",
                    probe.argv,
                    {**probe.env, "PYTHONPATH": str(compare)},
                    probe.stdin,
                )
            )
    baseline = Probe(BASELINE, [sys.executable, "-c", "import json, urllib.request"], outside)
    return [baseline, *commands]


def measure(options: argparse.Namespace) -> list[Check]:
    with scratch_dir("maestro-cli-startup-") as root:
        data_dir = root / "data"
        data_dir.mkdir()
        with MaestroServer(data_dir, root) as server:
            every = probes(server, root, options.compare)
            for probe in every:
                check_runs(probe)  # also warms the page cache and the .pyc files
            print(f"before: {machine_load()}", flush=True)
            for round_ in range(options.rounds):
                for probe in every:
                    wall, cpu, code = run_once(probe, root)
                    if code != 0:
                        raise RuntimeError(f"{probe.label} exited {code} in round {round_ + 1}")
                    probe.wall.append(wall)
                    probe.cpu.append(cpu)
                server.check_alive()
                if (round_ + 1) % 10 == 0:
                    print(f"  {round_ + 1}/{options.rounds} rounds", flush=True)
            print(f"after: {machine_load()}")
    return report(every)


def report(every: Sequence[Probe]) -> list[Check]:
    baseline = every[0]
    base_wall, base_cpu = median(baseline.wall), median(baseline.cpu)
    rows = []
    for probe in every:
        wall, cpu = median(probe.wall), median(probe.cpu)
        rows.append(
            [
                probe.label,
                f"{wall * 1000:.0f}",
                f"{wall / base_wall:.2f}x",
                f"{cpu * 1000:.0f}",
                f"{cpu / base_cpu:.2f}x",
            ]
        )
    print()
    print(f"{len(baseline.wall)} interleaved rounds, medians; baseline: {BASELINE}")
    print(table(["command (maestro ...)", "wall ms", "x base", "CPU ms", "x base"], rows))
    return [
        Check(
            f"maestro {probe.label}",
            f"{median(probe.wall) / base_wall:.2f}x the baseline",
            f"<= {TARGET_RATIO}x",
            median(probe.wall) / base_wall <= TARGET_RATIO,
        )
        for probe in every
        if probe.agent_command
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Start-up of the agent commands (hook, report, whoami) vs a bare Python."
    )
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds (default 20)")
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="SRC",
        help="also time every maestro command with PYTHONPATH=SRC (another version's src/)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_checks(measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
