"""``open_data_publish`` through Airflow (``dag.test()``): the month before the run is published on
the sandbox data portal once, a re-run patches it, and nothing personal reaches the portal."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests

from hub.pipeline.extract import staged_record
from hub.store import HubStore
from mappings.sources import CITY_SOURCE
from quality.reconcile.model import HANOI
from sandbox.city_data_portal.app import create_app
from sandbox.city_system.generator import generate
from sandbox.server import RunningServer, serve_in_thread
from signing.pki import DevPki
from tests.quality.open_data.conftest import DAY, SCALE, SEED
from tests.support.personal_data import leaks, personal_values

pytestmark = pytest.mark.timeout(600)
TOKEN = "dag-test-token-51"
RUN = datetime(2026, 12, 2, 5, 0, tzinfo=HANOI)  # the run that publishes November


@pytest.fixture
def portal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dev_pki: DevPki) -> Iterator[RunningServer]:
    with serve_in_thread(create_app(TOKEN, "ubnd-thanh-pho-ha-noi")) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CITY_DATA_PORTAL", f"http://:{TOKEN}@127.0.0.1:{server.port}?owner_org=ubnd-thanh-pho-ha-noi"
        )
        monkeypatch.setenv("HUB_STORE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
        yield server


def test_the_month_is_published_once_and_patched_on_a_rerun(dagbag, portal: RunningServer) -> None:
    store = HubStore(os.environ["HUB_STORE_URL"])
    store.create_schema()
    records = generate(DAY, SCALE, SEED).records
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "b1")
    # One SQLite engine per process, as in a task: the reconciliation's ADBC reader must be the only
    # other copy of SQLite with the file open (quality/reconcile/load.py).
    store.db.engine.dispose()

    for _ in range(2):
        run = dagbag.dags["open_data_publish"].test(logical_date=RUN)
        assert run.state == "success"

    stats = requests.get(f"{portal.url}/sandbox/stats", timeout=5).json()
    assert stats["held"] == {"packages": 1, "resources": 6, "files": 6}
    assert stats["calls"]["package_create"] == 1 and stats["calls"]["package_patch"] == 1
    files = requests.get(f"{portal.url}/sandbox/files", timeout=5).json()
    assert {f["package"] for f in files} == {"ho-so-tthc-ha-noi-2026-11"}
    values = personal_values(records)
    for file in files:
        content = requests.get(file["url"], timeout=5).content
        assert content and leaks(content, values) == [], file["resource"]
    kept = Path(os.environ["HUB_VAR_DIR"]) / "reports" / "2026-11" / "open-data"
    assert len(list(kept.iterdir())) == 6
