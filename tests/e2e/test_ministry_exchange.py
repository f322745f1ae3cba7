"""``ministry_exchange`` end to end through Airflow: `dag.test()` on the migrated SQLite metadata DB,
the city system and both ministry simulators on loopback, Connections from ``AIRFLOW_CONN_*``.

What a data engineer checks after a day: every interconnected city dossier is held by the
ministry (or pending, failed, quarantined -- the counts add up), the ministry-software dossiers
of the day are staged once with their origin, and a re-run pushes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from sandbox.city_system.app import create_app as city_app
from sandbox.server import serve_in_thread
from sandbox.signatures import PartnerSigning
from signing.pki import DevPki
from tests.support.ministry_sandboxes import FAST, Ministries, running_ministries

pytestmark = pytest.mark.timeout(600)

DAY = date(2026, 11, 20)
SCALE, SEED = 0.03, 11
CITY_TOKEN = "e2e-ministry-city-token"
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def ministries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dev_pki: DevPki) -> Iterator[Ministries]:
    city = city_app(tmp_path / "city.sqlite", CITY_TOKEN, signing=PartnerSigning(dev_pki, "city_system"))
    city.state.store.load_day(DAY, SCALE, SEED)
    with (
        serve_in_thread(city) as city_server,
        running_ministries(tmp_path, dev_pki, DAY - timedelta(days=3), DAY, SCALE, SEED) as running,
    ):
        host = city_server.url.removeprefix("http://")
        extras = "&".join(f"{k}={v}" for k, v in FAST.items())
        monkeypatch.setenv("AIRFLOW_CONN_CITY_SYSTEM", f"http://:{quote(CITY_TOKEN)}@{host}?{extras}")
        for key, value in running.connections().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("HUB_STORE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
        monkeypatch.setenv("HUB_RETRY_BASE_S", "0")
        yield running


def _run(dagbag, dag_id: str) -> dict:
    """Run one DAG for DAY; return the ministry summary when it is the exchange."""
    day_end = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=HANOI)
    run = dagbag.dags[dag_id].test(logical_date=day_end)
    assert run.state == "success", f"{dag_id} ended {run.state}"
    latest = Path(os.environ["HUB_VAR_DIR"]) / "reports" / "ministry" / "latest.json"
    return json.loads(latest.read_text())["ministries"] if dag_id == "ministry_exchange" else {}


def _assert_add_up(summary: dict) -> None:
    for partner, counts in summary.items():
        push, pull = counts["push"], counts["pull_back"]
        assert counts["identity_holds"], partner
        assert push["to_push"] == push["acknowledged"] + push["pending"] + push["failed"] + push["quarantined"]
        assert pull["pulled"] == pull["staged_new"] + pull["unchanged"] + pull["quarantined"]
        assert pull["quarantined"] == sum(pull["quarantine_by_rule"].values()) == 0  # the sandboxes send clean data


def test_a_day_exchanges_completely_and_a_rerun_pushes_nothing(dagbag, ministries: Ministries) -> None:
    _run(dagbag, "city_dossiers_extract")
    summary = _run(dagbag, "ministry_exchange")
    _assert_add_up(summary)
    civil, business = summary["civil_status"], summary["business_registration"]

    assert civil["push"]["acknowledged"] == ministries.civil_summary()["sent"] > 0
    assert civil["push"]["pending"] == civil["push"]["failed"] == 0
    assert civil["ministry_status"] == {"1": civil["push"]["acknowledged"]}
    on_ministry_software = ministries.civil_direct(DAY, DAY)
    assert civil["pull_back"]["pulled"] == civil["pull_back"]["staged_total"] == len(on_ministry_software) > 0
    assert business["pull_back"]["pulled"] == len(ministries.business_dossiers(DAY, DAY)) > 0
    assert business["pull_back"]["staged_total"] == business["pull_back"]["staged_new"]
    assert not business["pushes"] and business["push"]["to_push"] == 0

    pushed = ministries.civil_calls("dangKyHoTich")
    ministries.advance_civil("2026-11-21T09:00:00+07:00")
    again = _run(dagbag, "ministry_exchange")
    _assert_add_up(again)
    assert ministries.civil_calls("dangKyHoTich") == pushed, "a re-run must push nothing"
    assert again["civil_status"]["push"] == civil["push"]
    assert "1" not in again["civil_status"]["ministry_status"]  # every dossier moved on, and the hub saw it
    for partner in ("civil_status", "business_registration"):
        pull = again[partner]["pull_back"]
        assert pull["staged_new"] == 0 and pull["unchanged"] == summary[partner]["pull_back"]["pulled"]


def test_a_ministry_outage_leaves_dossiers_pending_and_a_later_run_completes_them(
    dagbag,
    ministries: Ministries,
) -> None:
    ministries.faults(ministries.civil, error_rate=1.0)
    _run(dagbag, "city_dossiers_extract")
    down = _run(dagbag, "ministry_exchange")  # green: an outage delays, it does not fail the run
    _assert_add_up(down)
    civil = down["civil_status"]
    assert civil["push"]["acknowledged"] == 0 and civil["push"]["pending"] > 0
    assert not civil["pull_back"]["complete"] and civil["pull_back"]["staged_total"] == 0
    assert ministries.civil_summary()["sent"] == 0
    assert down["business_registration"]["pull_back"]["complete"]  # the other ministry is unaffected

    ministries.faults(ministries.civil, error_rate=0.0)
    up = _run(dagbag, "ministry_exchange")
    _assert_add_up(up)
    civil_up = up["civil_status"]
    assert civil_up["push"]["pending"] == 0
    assert civil_up["push"]["acknowledged"] == civil["push"]["pending"] == ministries.civil_summary()["sent"]
    assert civil_up["pull_back"]["complete"]
    assert civil_up["pull_back"]["staged_total"] == len(ministries.civil_direct(DAY, DAY))

    pushed = ministries.civil_calls("dangKyHoTich")
    _assert_add_up(_run(dagbag, "ministry_exchange"))
    assert ministries.civil_calls("dangKyHoTich") == pushed
