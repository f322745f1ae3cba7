"""What every hub DAG shares: owner, retries, the assets that chain them, the pools.

Installed with the project (so the scheduler, workers and tests import the same module) and free
of heavy imports, so parsing
a DAG file stays cheap.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset

TIMEZONE = pendulum.timezone("Asia/Ho_Chi_Minh")
START_DATE = pendulum.datetime(2026, 1, 1, tz=TIMEZONE)

DEFAULT_ARGS = {
    "owner": "hub-data-engineering",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}

# Staged city dossiers: the extract DAG updates it, the portal sync is scheduled on it.
CITY_DOSSIERS_STAGED = Asset(name="city_dossiers_staged", uri="hubstore://staging/city_dossiers")
# What the portal acknowledged: the reconciliation DAGs are scheduled on it.
PORTAL_SYNCED = Asset(name="national_portal_synced", uri="hubstore://delivery/national_portal")
# Dossiers pulled back from ministry systems (staged with their origin) and pushes settled:
# the reconciliation DAGs are scheduled on it too.
MINISTRY_EXCHANGED = Asset(name="ministry_exchanged", uri="hubstore://staging/ministry_dossiers")
# A period reconciled and its report written (var/reports/<period>/).
RECONCILED = Asset(name="reconciled", uri="hubstore://reports/reconciliation")

# Pools cap concurrent calls per partner; config/pools.json creates them with their sizes.
CITY_SYSTEM_POOL = "city_system"
NATIONAL_PORTAL_POOL = "national_portal"
# One pool per ministry partner, named as the partner (the ministry_exchange DAG's task groups).
MINISTRY_POOLS = {"civil_status": "civil_status", "business_registration": "business_registration"}
