"""``postal_dispatch`` and ``postal_tracking`` end to end through Airflow: `dag.test()` on the migrated
SQLite metadata DB, the city system and both sandbox carriers on loopback, Connections from
``AIRFLOW_CONN_*``, and the hub's webhook receiver taking the carriers' callbacks into the same store.

What an officer checks: every result the city marked for postal return became one order (or waits,
or is quarantined -- the counts add up), every parcel ends delivered, returned or cancelled even
when callbacks are lost, doubled or reordered, and a re-run orders nothing new.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from hub.store import HubStore
from hub.webhooks.app import create_app
from mappings.code_tables import load_code_tables
from mappings.dossier import VN_TZ
from mappings.facts import city_facts
from mappings.postal.dispatch import READY_STATUSES
from sandbox.city_system.app import create_app as city_app
from sandbox.city_system.generator import generate_day
from sandbox.server import serve_in_thread
from sandbox.signatures import PartnerSigning
from signing.pki import DevPki
from tests.support.postal_sandboxes import FAST, RIGS, Sandbox, connection_uri

pytestmark = pytest.mark.timeout(900)

DAY = date(2026, 11, 20)
SCALE, SEED = 0.03, 11
CITY_TOKEN = "e2e-postal-city-token"
SECRET = "e2e-postal-carrier-pw"
FINAL = {"delivered", "returned", "cancelled"}


@dataclass
class Postal:
    carriers: dict[str, Sandbox]
    ready: int  # results the city marked ready for postal return on DAY

    def held(self) -> int:
        return sum(sandbox.held() for sandbox in self.carriers.values())

    def advance(self, hours: float) -> dict[str, dict[str, int]]:
        return {name: sandbox.advance(hours) for name, sandbox in self.carriers.items()}


def _ready_count() -> int:
    tables = load_code_tables()
    records = generate_day(DAY, SCALE, SEED)
    return sum(1 for r in records if r["tra_ket_qua_qua_buu_chinh"] and city_facts(r, tables).status in READY_STATUSES)


@pytest.fixture
def postal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dev_pki: DevPki) -> Iterator[Postal]:
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = HubStore(store_url)
    store.create_schema()
    receiver_clients: dict[str, Any] = {}
    city = city_app(tmp_path / "city.sqlite", CITY_TOKEN, signing=PartnerSigning(dev_pki, "city_system"))
    city.state.store.load_day(DAY, SCALE, SEED)
    extras = "&".join(f"{k}={v}" for k, v in FAST.items())
    with serve_in_thread(city) as city_server, serve_in_thread(create_app(store, receiver_clients)) as receiver:
        carriers = {rig.name: rig.start(tmp_path, dev_pki, SECRET, webhook_url=receiver.url, seed=3) for rig in RIGS}
        receiver_clients.update({rig.name: rig.connect(carriers[rig.name], dev_pki, SECRET) for rig in RIGS})
        monkeypatch.setenv(
            "AIRFLOW_CONN_CITY_SYSTEM",
            f"http://:{quote(CITY_TOKEN)}@{city_server.url.removeprefix('http://')}?{extras}",
        )
        for name, sandbox in carriers.items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{name.upper()}", connection_uri(name, sandbox.url, SECRET, **FAST))
        monkeypatch.setenv("HUB_STORE_URL", store_url)
        monkeypatch.setenv("HUB_RETRY_BASE_S", "0")
        yield Postal(carriers, _ready_count())
        for sandbox in carriers.values():
            sandbox.server.stop()
    store.db.engine.dispose()


def _run(dagbag, dag_id: str) -> dict:
    """Run one DAG for the day after DAY; return its report (the postal ones write one)."""
    logical = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=VN_TZ)
    run = dagbag.dags[dag_id].test(logical_date=logical)
    assert run.state == "success", f"{dag_id} ended {run.state}"
    latest = Path(os.environ["HUB_VAR_DIR"]) / "reports" / dag_id / "latest.json"
    return json.loads(latest.read_text()) if dag_id.startswith("postal") else {}


def _add_up(summary: dict) -> dict:
    counts = summary["dispatch"]
    assert summary["identity_holds"]
    assert counts["ready"] == counts["ordered"] + counts["pending"] + counts["quarantined"]
    return counts


def _delivery_total(summary: dict) -> tuple[int, set[str]]:
    states = Counter()
    for per_carrier in summary["delivery"].values():
        assert sum(per_carrier["by_state"].values()) == per_carrier["orders"]  # overdue is a flag, not a state
        states.update(per_carrier["by_state"])
    return sum(states.values()), {s for s, n in states.items() if n}


def test_results_go_out_once_and_every_parcel_is_followed_to_its_end(dagbag, postal: Postal) -> None:
    _run(dagbag, "city_dossiers_extract")
    dispatched = _add_up(_run(dagbag, "postal_dispatch"))
    assert dispatched == {"ready": postal.ready, "ordered": postal.ready, "pending": 0, "quarantined": 0}
    assert postal.ready > 10 and postal.held() == postal.ready

    for sandbox in postal.carriers.values():
        sandbox.faults(webhook_loss_rate=0.3, webhook_duplicate_rate=0.2, webhook_reorder_rate=0.3)
    sent = postal.advance(30)
    assert all(s.get("lost") and s.get("duplicated") for s in sent.values()), sent
    midway = _run(dagbag, "postal_tracking")
    total, states = _delivery_total(midway)
    assert total == postal.ready and not states <= FINAL  # some parcels are still on their way

    postal.advance(24 * 10)
    tracked = _run(dagbag, "postal_tracking")
    total, states = _delivery_total(tracked)
    assert total == postal.ready and states <= FINAL and "delivered" in states
    assert tracked["anomalies"] == 0 and tracked["events"] > 0
    assert all(poll["error"] is None for poll in tracked["polls"])

    again = _add_up(_run(dagbag, "postal_dispatch"))  # a re-run orders nothing new
    assert again == dispatched and postal.held() == postal.ready


def test_a_carrier_outage_delays_results_and_a_later_run_orders_them(dagbag, postal: Postal) -> None:
    postal.carriers["vnpost"].faults(error_rate=1.0)
    _run(dagbag, "city_dossiers_extract")
    down = _add_up(_run(dagbag, "postal_dispatch"))  # green: an outage delays, it does not fail the run
    assert down["pending"] > 0 and down["ordered"] == postal.held() < postal.ready

    tracking = _run(dagbag, "postal_tracking")  # what was ordered is followed meanwhile
    assert _delivery_total(tracking)[0] == down["ordered"]

    postal.carriers["vnpost"].faults(error_rate=0.0)
    up = _add_up(_run(dagbag, "postal_dispatch"))
    assert up == {"ready": postal.ready, "ordered": postal.ready, "pending": 0, "quarantined": 0}
    assert postal.held() == postal.ready
