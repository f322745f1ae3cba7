"""Personal data at rest: everything the hub creates under ``var/`` is 0600 in 0700 folders,
whatever umask the process was started with -- the hub sets its own."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from hub.paths import REPO_ROOT

# What one process of the hub writes in a day's work, each through the code that writes it in
# production: the SQLite store (with its WAL and shared-memory files), a job report, a record
# evidence bundle, the sandbox's folder and an Airflow task log file.
WRITER = textwrap.dedent(
    """
    from hub.airflow_env import apply_airflow_environment
    apply_airflow_environment()
    from hub.jobs.common import write_report
    from hub.paths import sandbox_dir, var_dir
    from hub.store import QuarantineItem, hub_store
    from signing.evidence.bundle_export import export_record_bundle

    store = hub_store()
    store.quarantine.add([QuarantineItem("city", "000.00.12.H26-261120-0001", "r", "x", "h", {"id": "001090012345"})])
    write_report("portal_sync", "run-1", {"extracted": 1})
    try:
        export_record_bundle([], dossier_no="x", out=var_dir() / "evidence" / "x.zip")
    except LookupError:
        pass
    (sandbox_dir() / "portal.sqlite").parent.mkdir(parents=True, exist_ok=True)
    (sandbox_dir() / "portal.sqlite").write_bytes(b"generated citizens")
    from airflow.sdk.log import init_log_file
    init_log_file("dag_id=portal/run_id=r1/task_id=t/attempt=1.log")
    """
)


def test_everything_under_var_is_private_whatever_the_umask(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)  # a var/ made by an earlier release or by hand
    env = {**os.environ, "HUB_VAR_DIR": str(var), "AIRFLOW_HOME": str(var / "airflow")}
    for name in ("HUB_STORE_URL", "AIRFLOW__LOGGING__BASE_LOG_FOLDER", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        env.pop(name, None)
    ran = subprocess.run(
        [sys.executable, "-c", WRITER],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: os.umask(0o022),  # the usual default: 0644 files, 0755 folders
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    written = [var, *var.rglob("*")]
    files = [p for p in written if p.is_file()]
    assert {"hub.db", "run-1.json", "portal.sqlite", "attempt=1.log"} <= {p.name for p in files}
    loose = {
        str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in written
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert loose == {}, f"readable by others: {loose}"
