"""End to end through Airflow: `dag.test()` of city_dossiers_extract then population_verify on a
migrated SQLite metadata DB, with the city system and the population database sandboxes on loopback.

What a data engineer checks: every candidate citizen dossier is verified (match), quarantined
(mismatch, not found, invalid identity) or pending -- and an outage of the register only delays.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from hub.connections import partner_connections
from sandbox.city_system.app import create_app as city_app
from sandbox.server import serve_in_thread
from sandbox.signatures import PartnerSigning
from signing.pki import DevPki
from tests.e2e.test_portal_sync import HANOI
from tests.support.population_sandbox import (
    ACCESS_KEY,
    DAY,
    OFFICER,
    OFFICER_SECRET,
    SCALE,
    SECRET_KEY,
    UNIT,
    Sandbox,
    start,
)
from tests.support.portal_sync_env import CITY_TOKEN

pytestmark = pytest.mark.timeout(600)
TRANSPORT = {"timeout": 5, "max_attempts": 2, "backoff_initial": 0.05, "backoff_max": 0.2, "breaker_cooldown": 0.2}


def population_uri(url: str) -> str:
    extras = {"madonvi": UNIT, "macanbo": OFFICER, "officer_secret": OFFICER_SECRET, "cache_ttl_s": 0, **TRANSPORT}
    host = url.split("://", 1)[1]
    return f"http://{quote(ACCESS_KEY, safe='')}:{quote(SECRET_KEY, safe='')}@{host}?{urlencode(extras)}"


@pytest.fixture
def population(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dev_pki: DevPki,
    partner_signing: Callable[[str], PartnerSigning],
) -> Iterator[Sandbox]:
    city = city_app(tmp_path / "city.sqlite", CITY_TOKEN, signing=partner_signing("city_system"))
    city.state.store.load_day(DAY, SCALE, 0)  # the day and seed the population sandbox registered
    register = start(tmp_path, dev_pki)
    with serve_in_thread(city) as city_server:
        env = partner_connections(
            city_url=city_server.url,
            city_token=CITY_TOKEN,
            portal_url="http://127.0.0.1:9",  # not called by these DAGs
            portal_username="unused",
            portal_password="unused",
            portal_agency=UNIT,
            transport=TRANSPORT,
        )
        for key, value in {**env, "AIRFLOW_CONN_POPULATION_DB": population_uri(register.url)}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("HUB_STORE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
        yield register
    register.server.stop()


def run(dagbag, dag_id: str) -> dict:
    day_end = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=HANOI)
    result = dagbag.dags[dag_id].test(logical_date=day_end)
    assert result.state == "success", f"{dag_id} ended {result.state}"
    latest = Path(os.environ["HUB_VAR_DIR"]) / "reports" / "population" / "latest.json"
    return json.loads(latest.read_text()) if dag_id == "population_verify" else {}


def expected_outcomes(register: Sandbox) -> Counter[str]:
    from sandbox.city_system.generator import generate

    citizens = {r["ma_ho_so"] for r in generate(DAY, SCALE, 0).records if r["chu_ho_so"]["loai"] == "CONG_DAN"}
    outcome = {"match": "match", "name_diacritics": "mismatch", "birth_date": "mismatch", "not_found": "not_found"}
    return Counter(outcome[a["fate"]] for a in register.applicants() if a["ma_ho_so"] in citizens)


def test_a_day_is_verified_by_fate_and_a_rerun_asks_nothing(dagbag, population: Sandbox) -> None:
    run(dagbag, "city_dossiers_extract")
    summary = run(dagbag, "population_verify")
    counts, expected = summary["counts"], expected_outcomes(population)
    assert summary["identity_holds"] and counts["pending"] == 0
    assert {k: counts[k] for k in expected} == dict(expected)
    assert counts["candidates"] == sum(expected.values()) + counts["invalid"]
    assert summary["quarantine_by_rule"].get("population.not_found") == expected["not_found"]
    assert summary["lookups"]["partner"] == len(population.received())

    calls = population.calls()
    again = run(dagbag, "population_verify")
    assert population.calls() == calls and again["counts"] == counts


def test_a_register_outage_leaves_dossiers_pending_and_a_later_run_verifies_them(
    dagbag,
    population: Sandbox,
) -> None:
    population.faults(error_rate=1.0)
    run(dagbag, "city_dossiers_extract")
    down = run(dagbag, "population_verify")["counts"]
    assert down["match"] == down["mismatch"] == down["not_found"] == 0
    assert down["pending"] == down["candidates"] - down["invalid"] > 0

    population.faults(error_rate=0.0)
    up = run(dagbag, "population_verify")
    assert up["identity_holds"] and up["counts"]["pending"] == 0
    assert up["counts"]["match"] + up["counts"]["mismatch"] + up["counts"]["not_found"] == down["pending"]
    assert {k: up["counts"][k] for k in ("match", "mismatch", "not_found")} == dict(expected_outcomes(population))
