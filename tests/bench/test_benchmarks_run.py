"""Every benchmark still runs end to end at a tiny load and reaches its closing check.

Not a timing test: the figures a benchmark prints are read in docs/benchmarks.md, on a machine
and a load stated there. This only keeps the benchmarks from rotting between measurements (a
refactor that moves what they import broke ``bench.portal_sync`` once, unnoticed until the next
measurement). Each runs in a subprocess as documented, against its own sandbox partners.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# name -> the smallest arguments that still exercise every stage, and a line its output must hold.
TINY = {
    "backfill": (["--dossiers", "300", "--stores", "sqlite"], "OK: every dossier and progress entry accounted for"),
    "floor": (["--dossiers", "300"], "contract floor: the floor"),
    "signing": (["--records", "200", "--sample", "20", "--min-ratio", "0"], "verified sample"),
    "extract_memory": (["--dossiers", "300"], "ratio of peaks"),
    "message_log": (["--blocks", "2", "--calls", "5"], "all sealed"),
    "reconcile": (["--scale", "0.0005", "--compare-rows", "1000"], "same differences found"),
    "portal_sync": (
        ["--dossiers", "300", "--naive-sample", "30", "--progress-batches", "1"],
        "OK: every record accounted for on both paths",
    ),
}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", sorted(TINY))
def test_the_benchmark_runs_to_its_closing_check(name: str, tmp_path: Path) -> None:
    args, expected = TINY[name]
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=850,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert expected in output, output[-4000:]
