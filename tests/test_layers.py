"""The layer contract in pyproject.toml ([tool.importlinter]) holds: imports point down, the core runs without Airflow.

Run as a test so that an upward import fails the suite where it is introduced, with import-linter's
report (the chain of imports at fault) as the failure message.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_imports_follow_the_layers() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"lint-imports found imports against the layers:\n{run.stdout}\n{run.stderr}"
