"""What the benchmark scripts share: a real ``maestro serve`` process on a loopback
port that is always stopped, percentiles, resource limits and the printed tables.

The scripts measure the server as users run it (a separate process, over real
sockets), so nothing here imports the server itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from maestro.config import SERVER_ENVIRONMENT

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Check:
    """One figure held against its target, for the summary lines."""

    name: str
    value: str
    target: str
    met: bool

    def line(self) -> str:
        return (
            f"[{'PASS' if self.met else 'MISS'}] {self.name}: {self.value} (target {self.target})"
        )


def run_checks(
    measure: Callable[[argparse.Namespace], Sequence[Check]], options: argparse.Namespace
) -> int:
    """A script's main: measure with ``options``, print the checks; Ctrl-C or SIGTERM
    stop cleanly."""
    stop_on_sigterm()
    try:
        checks = measure(options)
    except KeyboardInterrupt:
        print("interrupted; every server this script started has been stopped", file=sys.stderr)
        return 130
    print()
    for check in checks:
        print(check.line())
    return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def raise_nofile_limit() -> int:
    """Raise this process's open-file soft limit to the hard limit; return it.

    Children (the server, client workers) inherit it, which is what lets 1,000
    WebSocket clients and the server's 1,000 sockets coexist.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def stop_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so ``finally`` blocks stop the servers."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def rss_kib(pid: int) -> int:
    """Resident set size from ``/proc/<pid>/status`` (``VmRSS``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (``/proc/<pid>/stat``), in seconds.

    It depends far less than wall-clock latency on what else the machine runs.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def machine_load() -> str:
    """The load averages, to read a noisy figure against (other work on a shared host)."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def render(row: Sequence[str]) -> str:
        cells = [
            str(cell).ljust(widths[i]) if i == 0 else str(cell).rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([render(headers), rule, *(render(row) for row in rows)])


@contextlib.contextmanager
def scratch_dir(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A temporary directory, removed afterwards unless ``keep``."""
    if keep:
        path = Path(tempfile.mkdtemp(prefix=prefix))
        print(f"(keeping {path})")
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)


class MaestroServer:
    """A ``maestro serve`` subprocess on a loopback port with its own log file.

    Use it as a context manager: the process is stopped on leaving the block,
    whether by success, error or Ctrl-C.
    """

    def __init__(
        self,
        data_dir: Path,
        log_dir: Path,
        port: int | None = None,
        ready_timeout: float = 120.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.extra_env = env or {}
        self.ready_timeout = ready_timeout
        self.port = port or free_port()
        self.log_path = log_dir / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.ready_seconds = 0.0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}/ws"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not started"
        return self.process.pid

    def launch(self) -> None:
        """Start the process without waiting for it (``started_at`` is just before)."""
        env = {k: v for k, v in os.environ.items() if k not in SERVER_ENVIRONMENT}
        env.update(self.extra_env)
        command = [
            sys.executable,
            "-m",
            "maestro",
            "serve",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        with self.log_path.open("ab") as log:
            self.started_at = time.perf_counter()
            # Its own session: a Ctrl-C reaches only us, and we stop it in order.
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float | None = None, poll: float = 0.01) -> float:
        """Poll ``/health`` until it answers 200; return seconds since ``launch``."""
        assert self.process is not None, "launch() first"
        timeout = self.ready_timeout if timeout is None else timeout
        deadline = time.perf_counter() + timeout
        with httpx.Client(timeout=1.0) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited early:\n{self.log_tail()}")
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        self.ready_seconds = time.perf_counter() - self.started_at
                        return self.ready_seconds
                except httpx.TransportError:
                    pass
                time.sleep(poll)
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.log_tail()}")

    def check_alive(self) -> None:
        """Raise, with the log's tail, if the server has exited on its own."""
        if self.process is not None and self.process.poll() is not None:
            hint = ""
            if "Shutting down" in self.log_tail():
                # A graceful shutdown we did not ask for: a signal from elsewhere,
                # e.g. a broad `pkill -f "maestro serve"` on a shared machine.
                hint = " (it shut down on a signal that did not come from this script)"
            raise RuntimeError(
                f"the server on port {self.port} exited with code "
                f"{self.process.returncode}{hint}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 10 s."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> MaestroServer:
        try:
            self.launch()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
