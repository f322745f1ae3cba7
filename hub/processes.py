"""Long-running processes started by one hub command, and stopped together with it.

``hub up`` and ``scripts/e2e_distributed.py`` both start Airflow's services (and more) as separate
processes. Each runs in its own session, so a Ctrl-C in the terminal reaches only the hub command,
which then stops them all in order -- SIGTERM to every process group, SIGKILL after a grace period
to whatever is left, grandchildren (the LocalExecutor's task processes, the API server's workers)
included. Without this, ``airflow standalone`` left its scheduler and workers running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from hub.paths import REPO_ROOT

LOOPBACK = "127.0.0.1"


class ProcessExited(RuntimeError):
    """A process that should be running has ended; the message names it and shows its last lines."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on at ``host`` now (the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Processes:
    """The long-running processes of a command, each in its own session, each with its log file."""

    log_dir: Path
    running: dict[str, subprocess.Popen] = field(default_factory=dict)
    killed: set[str] = field(default_factory=set)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log(name), "ab") as log:
            self.running[name] = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=REPO_ROOT, env=env, start_new_session=True,
            )  # fmt: skip

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def check_alive(self) -> None:
        """Raise :class:`ProcessExited` if a process ended that should not have."""
        for name, process in self.running.items():
            if name not in self.killed and process.poll() is not None:
                raise ProcessExited(f"{name} exited with {process.returncode}; its last lines:\n{tail(self.log(name))}")

    def pids(self) -> list[int]:
        """Every process running now that this object started, directly or not."""
        return [proc.pid for p in self.running.values() if p.poll() is None for proc in _tree(p.pid)]

    def kill(self, name: str) -> list[int]:
        """SIGKILL a process and every process it started, as if its machine died; the pids killed."""
        victims = _tree(self.running[name].pid)
        self.killed.add(name)
        for proc in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(victims, timeout=10)
        return [proc.pid for proc in victims]

    def stop_all(self, grace_s: float = 30) -> list[str]:
        """SIGTERM every process tree, newest first, then SIGKILL what is left after ``grace_s``;
        the names that had to be killed."""
        trees = {name: _tree(p.pid) for name, p in self.running.items() if p.poll() is None}
        for name in reversed(list(trees)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.running[name].pid, signal.SIGTERM)
        _, alive = psutil.wait_procs([proc for tree in trees.values() for proc in tree], timeout=grace_s)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(alive, timeout=10)
        for process in self.running.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        return sorted({name for name, tree in trees.items() if any(proc in alive for proc in tree)})


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
