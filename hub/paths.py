"""Where the hub keeps what it generates.

Everything the hub writes at run time (store, sandbox data, Airflow home, reports) lives under
one ignored ``var/`` folder so a clean clone stays clean and ``rm -rf var`` is a full reset.
``HUB_VAR_DIR`` moves it (tests point it at a temporary folder). It holds every citizen ID and
phone of the day (the store, reports, evidence, sandbox data, logs), so it is private to the
hub's user: 0700, and the hub's umask makes what is created inside 0600/0700 (:func:`keep_private`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parent.parent


PRIVATE_UMASK = 0o077
"""New files 0600, new folders 0700: what the hub writes holds citizens' personal data."""


def keep_private() -> None:
    """Make every file this process (and the processes it starts) creates 0600, every folder 0700.

    Why the umask rather than a mode per ``open``: the files under ``var/`` are written by SQLite
    (the store, its ``-wal`` and ``-shm``), DuckDB's spill files, WeasyPrint, Great Expectations'
    Data Docs, Airflow and the sandbox as much as by the hub's own code, and none of them takes a
    mode. Set by :func:`var_dir`, so whatever is about to write there is covered, and by the
    ``hub`` command line before it starts Airflow, the sandbox or the receiver.
    """
    os.umask(PRIVATE_UMASK)


def var_dir() -> Path:
    """The root of generated state; created on first use, 0700 (tightened if it was looser)."""
    keep_private()
    path = Path(os.environ.get("HUB_VAR_DIR", REPO_ROOT / "var")).resolve()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    stat = path.stat()
    if stat.st_mode & 0o077 and stat.st_uid == os.geteuid():  # a var/ made before the hub set its umask
        path.chmod(0o700)
    return path


def sandbox_dir() -> Path:
    """``var/sandbox``: where ``hub sandbox up`` keeps the partner doubles' data and state file."""
    return var_dir() / "sandbox"


def store_url() -> str:
    """The hub store's SQLAlchemy URL: ``HUB_STORE_URL`` or a SQLite file under ``var/``."""
    return os.environ.get("HUB_STORE_URL") or f"sqlite:///{var_dir() / 'hub.db'}"


def reconcile_copy(store_url: str) -> Path:
    """``var/reconcile/<store>.duckdb``: the columnar copy of the store's facts that reconciliation
    reads (``quality.reconcile.columnar``). One per store (its URL without the password), so that
    pointing the hub at another store and back does not rebuild the first one's copy."""
    store = sa.engine.make_url(store_url).render_as_string(hide_password=True)
    return var_dir() / "reconcile" / f"{hashlib.sha256(store.encode()).hexdigest()[:16]}.duckdb"


def reports_dir(period_label: str) -> Path:
    """Where a period's reconciliation report goes: ``var/reports/<period label>/``."""
    return var_dir() / "reports" / period_label


def log_file() -> Path:
    """``var/logs/hub.log``: what the command line keeps off the console (libraries' notes)."""
    return var_dir() / "logs" / "hub.log"
