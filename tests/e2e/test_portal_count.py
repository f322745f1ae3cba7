"""The seeds' count story end to end through Airflow (`dag.test()`): the portal holds more Hanoi
dossiers than the city, and the daily reconciliation explains the difference ministry by ministry.

The sandbox portal holds what the hub synced plus what the ministries synced themselves (their
doubles' own dossiers of the day); the hub extracts the city's day, syncs it, pulls the ministries'
dossiers back, and reconciles against the portal's export. What an official checks: the portal's
figure = the city's + what each ministry synced - what should be there and is not, each ministry's
share equal to what that ministry's sandbox served, and a dossier nobody explains listed as such.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapters.national_portal.client import NationalPortalClient
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.transport import HttpTransport
from mappings.code_tables import load_code_tables
from sandbox.national_portal import ministry_syncs
from sandbox.server import RunningServer
from signing.pki import DevPki
from tests.adapters.national_portal.test_client import dossier
from tests.conftest import SigningKit
from tests.e2e.test_portal_sync import DAY, HANOI, SCALE, SEED, Partners, partners  # noqa: F401
from tests.support.ministry_sandboxes import Ministries, running_ministries
from tests.support.portal_sync_env import AGENCY, PORTAL_PASSWORD, PORTAL_USER

pytestmark = pytest.mark.timeout(600)


@dataclass
class Sandbox:
    portal: RunningServer
    ministries: Ministries

    def served(self) -> dict[str, int]:
        """What each ministry double serves the hub's pull-back for the day, from its own state."""
        return {partner: len(self.ministries.served(partner, DAY, DAY)) for partner in self.ministries.servers}


@pytest.fixture
def sandbox(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dev_pki: DevPki,
    partners: Partners,  # noqa: F811
) -> Iterator[Sandbox]:
    """The city and the portal of the sync tests, the portal holding the ministries' own syncs of the
    day as the runner's portal does, and every ministry double holding the same dossiers."""
    portal = partners.portal.server.config.app
    ministry_syncs.install(portal, AGENCY, (DAY, SCALE, SEED), load_code_tables())
    with running_ministries(tmp_path, dev_pki, DAY, DAY, SCALE, SEED) as ministries:
        for key, value in ministries.connections().items():
            monkeypatch.setenv(key, value)
        yield Sandbox(partners.portal, ministries)


def _run(dagbag, dag_id: str) -> None:
    day_end = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=HANOI)
    run = dagbag.dags[dag_id].test(logical_date=day_end)
    assert run.state == "success", f"{dag_id} ended {run.state}"


def test_the_portal_holds_more_than_the_city_and_each_ministry_explains_its_share(
    dagbag, sandbox: Sandbox, pki: SigningKit
) -> None:
    for dag_id in ("city_dossiers_extract", "national_portal_sync", "ministry_exchange"):
        _run(dagbag, dag_id)
    # One dossier reaches the portal by a road the hub cannot see: no pull-back explains it.
    transport = HttpTransport(
        "national_portal",
        TransportSettings(base_url=sandbox.portal.url),
        signatures=MessageSignatures(pki.hub, pki.trust),
    )
    unexplained = dossier(9001)
    NationalPortalClient(transport, PORTAL_USER, PORTAL_PASSWORD, AGENCY).sync_dossiers([unexplained], updating=False)

    _run(dagbag, "reconcile_daily")

    report = Path(os.environ["HUB_VAR_DIR"]) / "reports" / DAY.isoformat()
    document = json.loads((report / "reconciliation.json").read_text())
    explained = document["portal_side"]["explained"]
    by_ministry = {row["source"].removeprefix("ministry:"): row["dossiers"] for row in explained["by_ministry"]}
    served = sandbox.served()
    synced = sandbox.portal.server.config.app.state.ministry_syncs.listing(DAY, DAY)["by_partner"]
    assert by_ministry == served == synced and all(served.values())
    (portal,) = [i for i in document["identities"] if i["key"] == "portal"]
    assert portal["holds"] and portal["terms"]["ministry_only"] == sum(served.values())
    assert portal["terms"]["unexpected"] == 0 and explained["holds"]
    assert explained["portal"] > explained["city"]
    assert explained["portal_only"] == 1
    extra = {d["dossier_no"]: d.get("detail", "") for d in document["differences"] if d["kind"] == "extra_at_portal"}
    assert len(extra) == sum(served.values()) + 1
    assert extra.pop(unexplained["MaHoSo"]) == "portal_only"
    assert all(detail.startswith("ministry_only: ministry:") for detail in extra.values())
    page = (report / "reconciliation.html").read_text(encoding="utf-8")
    assert f"Cổng DVCQG đang có {explained['portal']:,}".replace(",", ".") in page
    assert "Bộ Tư pháp (hộ tịch)" in page and "Hệ thống đăng ký doanh nghiệp" in page
    # Beside the reconciliation, the daily DAG checked the portal's catalogue: in step with the code tables.
    catalogue = json.loads((Path(os.environ["HUB_VAR_DIR"]) / "reports" / "catalogue" / "latest.json").read_text())
    assert catalogue["differences"] == [] and catalogue["procedures_checked"] == catalogue["portal_procedures"] > 0
