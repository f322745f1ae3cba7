"""``citizen_notifications`` end to end through Airflow: `dag.test()` on the migrated SQLite metadata
DB, the day's dossiers staged in the hub store, the iHaNoi double on loopback and its Connection from
``AIRFLOW_CONN_IHANOI``.

What an officer checks: the summary adds up (planned = sent + pending + refused), an iHaNoi outage
leaves the run green with every notification pending, the next run sends them all, and a further run
sends nothing again.
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
        yield server
    store.db.engine.dispose()


def _run(dagbag) -> dict[str, Any]:
    logical = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=VN_TZ)
    run = dagbag.dags["citizen_notifications"].test(logical_date=logical)
    assert run.state == "success", f"citizen_notifications ended {run.state}"
    summary = json.loads((Path(os.environ["HUB_VAR_DIR"]) / "reports" / "notifications" / "latest.json").read_text())
    counts = summary["counts"]
    assert summary["identity_holds"] and counts["planned"] == counts["sent"] + counts["pending"] + counts["refused"]
    return counts


def _held(server: RunningServer) -> int:
    return requests.get(f"{server.url}/sandbox/stats", timeout=5).json()["held"]["notifications"]


def test_an_outage_leaves_the_run_green_and_the_next_runs_send_everything_once(dagbag, ihanoi: RunningServer) -> None:
    requests.post(f"{ihanoi.url}/sandbox/faults", json={"error_rate": 1.0}, timeout=5)
    down = _run(dagbag)
    assert down["planned"] > 5 and down == {
        "planned": down["planned"],
        "sent": 0,
        "pending": down["planned"],
        "refused": 0,
    }
    assert _held(ihanoi) == 0

    requests.post(f"{ihanoi.url}/sandbox/faults", json={"error_rate": 0.0}, timeout=5)
    up = _run(dagbag)
    assert up == {"planned": down["planned"], "sent": down["planned"], "pending": 0, "refused": 0}
    assert _held(ihanoi) == down["planned"]

    assert _run(dagbag) == up
    stats = requests.get(f"{ihanoi.url}/sandbox/stats", timeout=5).json()
    assert (stats["held"]["notifications"], stats["duplicates"]) == (down["planned"], 0)
