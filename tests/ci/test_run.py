"""``.ci/run``: a test database that does not start stops the CI run at once, with the reason.

The run is copied into a scratch tree whose ``scripts/test-postgres.sh`` fails the way a real one
does (reason on stderr, exit 1); ``apt-get`` and ``make`` are stand-ins on PATH that record being
called. Before the fix, ``eval "$(... start)"`` carried on and ran the whole suite without a
database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REASON = "initdb: could not access directory: Permission denied"


def _stand_in(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(0o755)


def test_a_failed_database_start_stops_the_run_with_the_reason(tmp_path: Path) -> None:
    tree = tmp_path / "clone"
    (tree / ".ci").mkdir(parents=True)
    (tree / "scripts").mkdir()
    shutil.copy2(ROOT / ".ci" / "run", tree / ".ci" / "run")
    _stand_in(tree / "scripts", "test-postgres.sh", f'[ "$1" = start ] && {{ echo "{REASON}" >&2; exit 1; }}; exit 0')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    called = tmp_path / "called"
    for tool in ("apt-get", "make"):
        _stand_in(bin_dir, tool, f'echo "{tool} $*" >> "{called}"')
    run = subprocess.run(
        ["bash", str(tree / ".ci" / "run")],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert REASON in run.stderr
    assert "did not start" in run.stderr
    made = called.read_text().splitlines() if called.exists() else []
    assert not [line for line in made if line.startswith("make")], made  # the suite never ran
