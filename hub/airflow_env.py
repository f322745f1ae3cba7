"""The environment every Airflow process of the hub runs with.

Airflow cannot interpolate paths inside ``airflow.cfg``, so the absolute ones (dags folder,
SQLite metadata DB, logs) are passed as ``AIRFLOW__*`` variables, computed here once for the
Makefile targets, the ``hub`` command line and the test suite alike. Values already set in the
environment win, so a deployment can point Airflow at PostgreSQL without touching this file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hub.observability.metrics import statsd_address
from hub.paths import REPO_ROOT, var_dir


def airflow_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    var = var_dir()  # first: it sets the private umask the folders below are made with
    home = Path(env.get("AIRFLOW_HOME") or var / "airflow")
    home.mkdir(parents=True, exist_ok=True)
    lineage = var / "lineage"
    lineage.mkdir(exist_ok=True)
    statsd_host, statsd_port = statsd_address(env)
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW_CONFIG": str(REPO_ROOT / "airflow.cfg"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        # plugins/ui_timezone.py: the UI shows default_timezone until a user picks another zone.
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
        # Great Expectations phones home by default; a government hub must not.
        "GX_ANALYTICS_ENABLED": "false",
        # Airflow's StatsD metrics go where the hub's own go (hub.observability.metrics).
        "AIRFLOW__METRICS__STATSD_HOST": statsd_host,
        "AIRFLOW__METRICS__STATSD_PORT": str(statsd_port),
        # OpenLineage events as JSON lines in a local file; a deployment points this at Marquez
        # or another backend with the same variable (or [openlineage] transport).
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(lineage / "events.jsonl"), "append": True}
        ),
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    return env


def apply_airflow_environment() -> None:
    """Set the variables in this process (tests, before the first ``import airflow``)."""
    os.environ.update(airflow_environment())
