"""The sandbox portal, as the runner builds it, also holds the ministries' own syncs of the day.

What an official checks: the portal's per-unit export lists the dossiers the city synced (through
the hub) and, beside them, exactly the dossiers each ministry double holds for the same day --
the ones it serves to the hub's pull-back -- under the ministry's own numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests

from adapters.national_portal.client import NationalPortalClient
from adapters.partners import ministries
from mappings.code_tables import load_code_tables
from mappings.dossier_number import is_valid_dossier_number
from sandbox.business_registration.store import held_dossiers as business_held
from sandbox.certification.store import held_dossiers as certification_held
from sandbox.civil_status.store import held_dossiers as civil_held
from sandbox.doubles import DoubleContext
from sandbox.driving_licence.store import held_dossiers as licence_held
from sandbox.faults import FaultConfig
from sandbox.land_registration.store import held_dossiers as land_held
from sandbox.national_portal.app import double
from sandbox.server import RunningServer, serve_in_thread
from sandbox.unemployment_benefit.store import held_dossiers as unemployment_held
from signing.pki import DevPki
from tests.adapters.national_portal.test_client import AGENCY, PASSWORD, USERNAME, dossier
from tests.quality.reconcile.test_portal_side import client  # noqa: F401 -- fixture, over this module's portal

DAY, SCALE, SEED = date(2026, 11, 20), 0.03, 11
pytestmark = pytest.mark.timeout(120)


def _context(tmp_path: Path, pki: DevPki, day: date = DAY) -> DoubleContext:
    return DoubleContext(
        partner="national_portal",
        db_path=tmp_path / "portal.sqlite",
        credentials={"username": USERNAME, "password": PASSWORD, "madonvi": AGENCY},
        agencies=[AGENCY],
        pki=pki,
        code_tables=load_code_tables(),
        day=day,
        scale=SCALE,
        seed=SEED,
        portal_faults=FaultConfig(),
        webhook_url=None,
    )


@pytest.fixture
def portal(tmp_path: Path, dev_pki: DevPki) -> Iterator[RunningServer]:
    with serve_in_thread(double(_context(tmp_path, dev_pki))) as server:
        yield server


def _served_by_ministries() -> dict[str, set[str]]:
    """What each ministry double holds for the day, read from the ministries' own generation."""
    tables = load_code_tables()
    return {
        "civil_status": {d.dossier_no for d in civil_held(DAY, SCALE, SEED, tables)},
        "business_registration": {d.dossier_no for d in business_held(DAY, SCALE, SEED, tables)},
        "driving_licence": {d.dossier_no for d in licence_held(DAY, SCALE, SEED, tables)},
        "land_registration": {d.dossier_no for d in land_held(DAY, SCALE, SEED, tables)},
        "unemployment_benefit": {d.dossier_no for d in unemployment_held(DAY, SCALE, SEED, tables)},
        "certification": {d.dossier_no for d in certification_held(DAY, SCALE, SEED, tables)},
    }


def test_the_export_holds_the_city_synced_and_the_ministry_synced_dossiers(
    client: NationalPortalClient,  # noqa: F811
    portal: RunningServer,
) -> None:
    served = _served_by_ministries()
    assert set(served) == set(ministries()) and all(served.values())
    city = [dossier(seq) for seq in range(1, 6)]
    client.sync_dossiers(city, updating=False)

    held = {h.dossier_no for h in client.export_dossiers(DAY, DAY)}

    ministry_synced = set().union(*served.values())
    assert held == {d["MaHoSo"] for d in city} | ministry_synced
    assert not any(is_valid_dossier_number(no) for no in ministry_synced)  # the ministries' own numbers
    listing = requests.get(f"{portal.url}/sandbox/ministry-syncs", timeout=5).json()
    assert listing["by_partner"] == {p: len(numbers) for p, numbers in served.items()}
    assert listing["total"] == len(ministry_synced) == len(listing["items"])
    assert {item["MaHoSo"] for item in listing["items"] if item["partner"] == "civil_status"} == served["civil_status"]


def test_a_restart_and_a_second_load_of_the_day_add_nothing(tmp_path: Path, dev_pki: DevPki) -> None:
    first = double(_context(tmp_path, dev_pki))
    total = first.state.ministry_syncs.listing()["total"]
    first.state.store.close()
    again = double(_context(tmp_path, dev_pki))  # a re-`up` without --fresh keeps the data

    assert again.state.ministry_syncs.listing()["total"] == total > 0
    assert again.state.ministry_syncs.load_days(DAY, DAY, SCALE, SEED) == 0
    assert again.state.store.totals()["dossiers"] == total


def test_further_days_load_over_http_and_the_listing_is_kept_per_day(portal: RunningServer) -> None:
    before = requests.get(f"{portal.url}/sandbox/ministry-syncs", timeout=5).json()["total"]
    added = requests.post(
        f"{portal.url}/sandbox/load", json={"from": "2026-11-19", "to": "2026-11-19", "scale": SCALE, "seed": SEED}
    )
    assert added.status_code == 200 and added.json()["added"] > 0
    day = requests.get(f"{portal.url}/sandbox/ministry-syncs", params={"from": "2026-11-20", "to": "2026-11-20"})
    assert day.json()["total"] == before
    conflict = requests.post(
        f"{portal.url}/sandbox/load", json={"from": "2026-11-20", "to": "2026-11-20", "scale": 0.5, "seed": SEED}
    )
    assert conflict.status_code == 409
