"""``scripts/test-postgres.sh``: the test database starts wherever the repository is cloned.

Run as root (as ``.ci/run`` is, on a fresh machine), the server runs as the ``postgres`` user, which
cannot enter a clone under ``/root`` or a ``mktemp -d`` folder. These tests put the script in
such a folder, start a real server there, talk to it and stop it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from glob import glob
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "test-postgres.sh"

needs_postgres = pytest.mark.skipif(
    not glob("/usr/lib/postgresql/*/bin/initdb") and shutil.which("initdb") is None,
    reason="no PostgreSQL binaries (Debian's postgresql package; .ci/run installs it)",
)


def _run(clone: Path, action: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """The script in ``clone`` with only the settings given: the session's own ``HUB_PG_DATA_DIR``
    (a developer's private cluster) must never be started, stopped or deleted by these tests."""
    env = {k: v for k, v in os.environ.items() if k not in ("HUB_PG_DATA_DIR", "HUB_TEST_PG_URL")}
    return subprocess.run(
        ["bash", str(clone / "scripts" / "test-postgres.sh"), action],
        capture_output=True,
        text=True,
        timeout=180,
        env={**env, **settings},
        check=False,
    )


@pytest.fixture
def private_clone() -> Iterator[Path]:
    """The script in a clone's layout inside a fresh ``mktemp -d`` folder (mode 700, root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="hub-clone-"))
    assert folder.stat().st_mode & 0o777 == 0o700
    clone = folder / "clone"
    (clone / "scripts").mkdir(parents=True)
    shutil.copy2(SCRIPT, clone / "scripts" / "test-postgres.sh")
    yield clone
    _run(clone, "stop")
    shutil.rmtree(folder, ignore_errors=True)


@needs_postgres
@pytest.mark.skipif(os.geteuid() != 0, reason="the unreachable-clone case only arises when run as root")
def test_starts_a_server_from_a_clone_the_postgres_user_cannot_enter(private_clone: Path) -> None:
    started = _run(private_clone, "start")
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip().removeprefix("export HUB_TEST_PG_URL=")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            data_directory = Path(conn.execute(sa.text("SHOW data_directory")).scalar_one())
            assert conn.execute(sa.text("SELECT current_database()")).scalar_one() == "hub_test"
    finally:
        engine.dispose()
    # The cluster lives where its user can reach it, in a folder of its own, not inside the clone.
    assert not data_directory.is_relative_to(private_clone.parent)
    assert data_directory.stat().st_mode & 0o777 == 0o700
    try:
        stopped = _run(private_clone, "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert not (data_directory / "postmaster.pid").exists()  # stop found the same cluster
    finally:
        shutil.rmtree(data_directory, ignore_errors=True)


@needs_postgres
def test_a_failed_start_exits_non_zero_with_the_reason_and_prints_nothing_to_eval(private_clone: Path) -> None:
    blocker = private_clone / "not-a-folder"
    blocker.write_text("a file where the data folder's parent should be")
    failed = _run(private_clone, "start", HUB_PG_DATA_DIR=str(blocker / "data"))
    assert failed.returncode != 0
    assert failed.stdout == ""
    assert "test-postgres.sh" in failed.stderr or "mkdir" in failed.stderr
