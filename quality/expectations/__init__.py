"""Great Expectations suites for the hub's datasets (GX Core 1.x, called directly).

Importing this package does not import GX: ``datasets`` (how a batch becomes a DataFrame) is
GX-free, and ``runner``/``suites``/``custom`` are imported inside tasks, where GX's start-up cost
is paid once per process. GX must never phone home, so analytics are switched off here, before
any module of this package can import it (``hub/airflow_env.py`` does the same for Airflow).
"""

import os

os.environ["GX_ANALYTICS_ENABLED"] = "false"
