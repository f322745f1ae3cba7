"""Where the hub keeps what it generates.

Everything the hub writes at run time (store, sandbox data, Airflow home, reports) lives under
one ignored ``var/`` folder so a clean clone stays clean and ``rm -rf var`` is a full reset.
``HUB_VAR_DIR`` moves it (tests point it at a temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """The root of generated state; created on first use."""
    path = Path(os.environ.get("HUB_VAR_DIR", REPO_ROOT / "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def sandbox_dir() -> Path:
    """``var/sandbox``: where ``hub sandbox up`` keeps the partner doubles' data and state file."""
    return var_dir() / "sandbox"


def store_url() -> str:
    """The hub store's SQLAlchemy URL: ``HUB_STORE_URL`` or a SQLite file under ``var/``."""
    return os.environ.get("HUB_STORE_URL") or f"sqlite:///{var_dir() / 'hub.db'}"


def reports_dir(period_label: str) -> Path:
    """Where a period's reconciliation report goes: ``var/reports/<period label>/``."""
    return var_dir() / "reports" / period_label


def log_file() -> Path:
    """``var/logs/hub.log``: what the command line keeps off the console (libraries' notes)."""
    return var_dir() / "logs" / "hub.log"
