"""``citizen_notifications`` end to end through Airflow: `dag.test()` on the migrated SQLite metadata
DB, the day's dossiers staged in the hub store, the iHaNoi double on loopback and its Connection from
``AIRFLOW_CONN_IHANOI``.

What an officer checks: the summary adds up (planned = sent + pending + refused + too old), an iHaNoi
outage leaves the run green with every notification pending, the next run sends them all, a further run
sends nothing again, and events older than the age limit before the run's logical date
(``HUB_NOTIFY_MAX_AGE_DAYS``, half a day here) are counted too old and never sent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from hub.pipeline.extract import staged_record
from hub.store import HubStore
from mappings.dossier import VN_TZ
from mappings.sources import CITY_SOURCE
from sandbox.city_system.generator import generate_day
from sandbox.ihanoi.app import create_app
from sandbox.server import RunningServer, serve_in_thread

pytestmark = pytest.mark.timeout(600)

DAY = date(2026, 11, 20)
API_KEY = "e2e-ihanoi-key"


@pytest.fixture
def ihanoi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = HubStore(store_url)
    store.create_schema()
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in generate_day(DAY, 0.01, 3)], "day-1")
    with serve_in_thread(create_app(API_KEY)) as server:
        extras = "backoff_initial=0.01&backoff_max=0.02&max_attempts=2"
        monkeypatch.setenv(
            "AIRFLOW_CONN_IHANOI", f"http://:{quote(API_KEY)}@{server.url.removeprefix('http://')}?{extras}"
        )
        monkeypatch.setenv("HUB_STORE_URL", store_url)
        monkeypatch.setenv("HUB_RETRY_BASE_S", "0")
        # Half a day before the run's logical date (the next midnight): the day's morning is too old.
        # Measured from the wall clock instead, every event of the day would be.
        monkeypatch.setenv("HUB_NOTIFY_MAX_AGE_DAYS", "0.5")
        yield server
    store.db.engine.dispose()


def _run(dagbag) -> dict[str, Any]:
    logical = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=VN_TZ)
    run = dagbag.dags["citizen_notifications"].test(logical_date=logical)
    assert run.state == "success", f"citizen_notifications ended {run.state}"
    summary = json.loads((Path(os.environ["HUB_VAR_DIR"]) / "reports" / "notifications" / "latest.json").read_text())
    counts = summary["counts"]
    told = counts["sent"] + counts["pending"] + counts["refused"]
    assert summary["identity_holds"] and counts["planned"] == told + counts["too_old"]
    return counts


def _held(server: RunningServer) -> int:
    return requests.get(f"{server.url}/sandbox/stats", timeout=5).json()["held"]["notifications"]


def test_an_outage_leaves_the_run_green_and_the_next_runs_send_everything_once(dagbag, ihanoi: RunningServer) -> None:
    requests.post(f"{ihanoi.url}/sandbox/faults", json={"error_rate": 1.0}, timeout=5)
    down = _run(dagbag)
    to_tell = down["planned"] - down["too_old"]
    assert to_tell > 5 and down["too_old"] > 0
    assert down == {"planned": down["planned"], "sent": 0, "pending": to_tell, "refused": 0, "too_old": down["too_old"]}
    assert _held(ihanoi) == 0

    requests.post(f"{ihanoi.url}/sandbox/faults", json={"error_rate": 0.0}, timeout=5)
    up = _run(dagbag)
    assert up == {"planned": down["planned"], "sent": to_tell, "pending": 0, "refused": 0, "too_old": down["too_old"]}
    assert _held(ihanoi) == to_tell

    assert _run(dagbag) == up
    stats = requests.get(f"{ihanoi.url}/sandbox/stats", timeout=5).json()
    assert (stats["held"]["notifications"], stats["duplicates"]) == (to_tell, 0)
    bodies = requests.get(f"{ihanoi.url}/sandbox/notifications", timeout=5).json()
    limit = datetime.combine(DAY, datetime.min.time(), tzinfo=VN_TZ) + timedelta(hours=12)
    assert min(datetime.fromisoformat(b["event_time"]) for b in bodies) >= limit
