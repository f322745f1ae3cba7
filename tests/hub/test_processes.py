"""The processes a hub command starts, stopped together with it: grandchildren and stubborn ones included."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest

from hub.processes import Processes, ProcessExited

# A parent that starts a child ignoring SIGTERM (as a busy task process may), then waits for it.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('child up', flush=True); time.sleep(600)"
)
FAMILY = f"""
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", {STUBBORN!r}])
child.wait()
"""


def _wait_for(log: Path, text: str) -> None:
    deadline = time.monotonic() + 30
    while text not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.1)


def test_stop_all_ends_every_process_tree_and_names_what_had_to_be_killed(tmp_path: Path) -> None:
    processes = Processes(tmp_path / "logs")
    processes.start("family", [sys.executable, "-c", FAMILY], {"PATH": "/usr/bin"})
    processes.start("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"], {"PATH": "/usr/bin"})
    _wait_for(processes.log("family"), "child up")
    started = [psutil.Process(pid) for pid in processes.pids()]
    assert len(started) == 3
    assert processes.stop_all(grace_s=2) == ["family"]  # its child ignored SIGTERM
    assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert processes.pids() == []


def test_a_process_that_ended_is_named_with_its_last_lines(tmp_path: Path) -> None:
    processes = Processes(tmp_path / "logs")
    processes.start("scheduler", [sys.executable, "-c", "print('no database'); raise SystemExit(3)"], {})
    processes.running["scheduler"].wait(30)
    with pytest.raises(ProcessExited, match=r"scheduler exited with 3; its last lines:\nno database"):
        processes.check_alive()
