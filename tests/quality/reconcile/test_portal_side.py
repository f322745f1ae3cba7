"""The portal side of reconciliation: the portal's signed export, stored per period, against the city.

Engine tests write a snapshot straight into the store (both stores); the loopback tests fetch it
from the portal simulator with the real client, signed replies and all, and reconcile.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from typer.testing import CliRunner

from adapters.errors import UntrustedReply
from adapters.national_portal.client import NationalPortalClient
from adapters.partners import ministries
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.transport import HttpTransport
from hub.cli.main import app
from hub.jobs import reconcile as jobs_reconcile
from hub.store import HubStore
from hub.store.schema import message_log, portal_snapshot
from mappings.delivery import DeliveryState
from mappings.sources import CITY_SOURCE, PULLBACK_PREFIX
from quality.reconcile import DifferenceClass, Period, reconcile
from sandbox.national_portal.app import create_app
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning
from tests.adapters.national_portal.test_client import AGENCY, FAST, PASSWORD, USERNAME, dossier
from tests.conftest import SigningKit
from tests.e2e.test_portal_sync import DAY as E2E_DAY
from tests.e2e.test_portal_sync import Partners, _run, partners  # noqa: F401 -- fixtures
from tests.quality.reconcile.test_engine import (
    BEHIND,
    BUSINESS,
    CIVIL_STATUS,
    DAY,
    IN_STEP,
    MINISTRY_ONLY,
    MISSING,
    OUT_OF_SCOPE,
    PENDING,
    PORTAL,
    QUARANTINED,
    _deliver,
    _dispose,
    _record,
    _store_with_differences,
)

pytestmark = pytest.mark.timeout(180)

PORTAL_ONLY = "000.00.12.H26-261120-0099"  # on the portal, in no source of the hub
BUSINESS_SYNCED = ["000.00.05.H26-261120-5001", "000.00.05.H26-261120-5002"]  # synced by the ministry itself
FETCHED = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


def _snapshot(store: HubStore, numbers: list[str], period: str = DAY.label) -> None:
    store.portal_snapshots.replace(period, [(no, 4, "2026-11-20T10:00:00+07:00") for no in numbers], FETCHED)


# ----------------------------------------------------------------------------- engine, both stores


def test_a_dossier_the_portal_lost_is_missing_and_a_portal_only_one_is_extra(store: HubStore) -> None:
    _store_with_differences(store)  # the hub delivered BEHIND (an older version) and IN_STEP
    _snapshot(store, [BEHIND, MINISTRY_ONLY, PORTAL_ONLY])  # the portal lost IN_STEP

    result = reconcile(store.db, DAY)

    assert result.dossiers(DifferenceClass.MISSING_AT_PORTAL) == [MISSING, IN_STEP]
    assert result.dossiers(DifferenceClass.BEHIND_AT_PORTAL) == [BEHIND]
    assert result.dossiers(DifferenceClass.EXTRA_AT_PORTAL) == [MINISTRY_ONLY, PORTAL_ONLY]
    details = {(d.kind, d.dossier_no): d.detail for d in result.differences}
    assert details[(DifferenceClass.MISSING_AT_PORTAL, IN_STEP)] == "not_held"  # acknowledged, then lost
    assert details[(DifferenceClass.MISSING_AT_PORTAL, MISSING)] is None  # never acknowledged at all
    assert details[(DifferenceClass.EXTRA_AT_PORTAL, MINISTRY_ONLY)] == f"ministry_only: {CIVIL_STATUS}"
    assert details[(DifferenceClass.EXTRA_AT_PORTAL, PORTAL_ONLY)] == "portal_only"  # nobody explains it: said so
    assert result.sources[PORTAL] == 3  # what the portal holds, not the two it acknowledged

    document = result.to_dict()
    assert document["counts"]["extra_at_portal"] == 1 and document["counts"]["missing_at_portal"] == 2
    # The ministry's dossier the portal holds is counted once, as ministry-only; extra at the portal is a flag on it.
    assert MINISTRY_ONLY in result.dossiers(DifferenceClass.MINISTRY_ONLY) and document["flags"]["extra_at_portal"] == 1
    assert document["verdict"]["differing_dossiers"] == sum(document["counts"].values())
    assert document["portal_side"] == {
        "checked": True,
        "period": "2026-11-20",
        "fetched_at": "2026-11-21T08:00:00+07:00",
        "dossiers": 3,
        "explained": {
            "portal": 3,
            "city": 6,
            # every ministry of the registry, in its order, those without a dossier too (each a term)
            "by_ministry": [
                {"source": PULLBACK_PREFIX + partner, "dossiers": int(PULLBACK_PREFIX + partner == CIVIL_STATUS)}
                for partner in ministries()
            ],
            "portal_only": 1,
            "not_integrated": 1,
            "missing_at_portal": 4,
            "unexpected": 0,
            "holds": True,
        },
    }


def test_the_portal_figure_is_explained_ministry_by_ministry(store: HubStore) -> None:
    """portal = city + what each ministry's pull-back explains + portal-only - not integrated - missing."""
    _store_with_differences(store)
    store.staging.stage(BUSINESS, [_record(no, "m") for no in BUSINESS_SYNCED], "m3")
    _snapshot(store, [BEHIND, IN_STEP, MINISTRY_ONLY, *BUSINESS_SYNCED, PORTAL_ONLY])

    result = reconcile(store.db, DAY)

    explained = result.to_dict()["portal_side"]["explained"]
    by_ministry = {row["source"]: row["dossiers"] for row in explained["by_ministry"]}
    assert {source: n for source, n in by_ministry.items() if n} == {BUSINESS: len(BUSINESS_SYNCED), CIVIL_STATUS: 1}
    assert list(by_ministry) == [PULLBACK_PREFIX + partner for partner in ministries()]
    portal = result.identity("portal")
    assert portal.holds and portal.terms["ministry_only"] == sum(by_ministry.values()) == 3
    assert explained["holds"] is True and explained["portal"] == 6 == portal.left
    assert (
        explained["city"] + 3 + explained["portal_only"] - explained["not_integrated"] - explained["missing_at_portal"]
        == explained["portal"]
    )
    details = {d.dossier_no: d.detail for d in result.differences if d.kind is DifferenceClass.EXTRA_AT_PORTAL}
    assert details == {
        MINISTRY_ONLY: f"ministry_only: {CIVIL_STATUS}",
        **{no: f"ministry_only: {BUSINESS}" for no in BUSINESS_SYNCED},
        PORTAL_ONLY: "portal_only",
    }


def test_the_portal_identity_holds_once_every_difference_is_explained_by_dossier(store: HubStore) -> None:
    _store_with_differences(store)
    _snapshot(store, [BEHIND, MINISTRY_ONLY, PORTAL_ONLY])

    portal = reconcile(store.db, DAY).identity("portal")

    assert portal.terms == {
        "portal": 3,
        "city": 6,
        "ministry_only": 1,
        "portal_only": 1,  # PORTAL_ONLY, listed as extra_at_portal
        "not_integrated": 1,  # OUT_OF_SCOPE
        "missing_at_portal": 4,  # MISSING, IN_STEP (missing), QUARANTINED, PENDING
        "unexpected": 0,
    }
    assert (portal.left, portal.right, portal.holds) == (3, 3, True)
    assert portal.formula == (  # what the document and the report state, in words
        "portal = city + ministry_only - not_integrated, once the differences are counted: "
        "+ portal_only (extra_at_portal no source explains) - missing_at_portal (in-scope city dossiers it lacks)"
    )


def test_the_portal_identity_fails_when_the_portal_holds_city_dossiers_it_should_not(store: HubStore) -> None:
    _store_with_differences(store)
    # Its procedure is not integrated on the portal: no difference class explains the portal holding it.
    _snapshot(store, [BEHIND, MINISTRY_ONLY, PORTAL_ONLY, OUT_OF_SCOPE])

    result = reconcile(store.db, DAY)

    portal = result.identity("portal")
    assert (portal.left, portal.right, portal.holds) == (4, 3, False)
    assert portal.terms["unexpected"] == 1 == portal.left - portal.right
    assert result.verdict()["reconciled"] is False


def test_the_portal_identity_holds_when_the_portal_holds_exactly_what_it_should(store: HubStore) -> None:
    _store_with_differences(store)
    for no in (MISSING, QUARANTINED, PENDING):  # the hub catches up: everything in scope delivered
        _dispose(store, no, DeliveryState.DELIVERED)
    # Portal: every city dossier of the day in scope, plus the ministry-only one; not OUT_OF_SCOPE.
    _snapshot(store, [MISSING, BEHIND, QUARANTINED, PENDING, IN_STEP, MINISTRY_ONLY])

    result = reconcile(store.db, DAY)

    portal = result.identity("portal")
    assert portal.holds and (portal.left, portal.right) == (6, 6)
    assert portal.terms["missing_at_portal"] == portal.terms["portal_only"] == 0
    assert result.dossiers(DifferenceClass.EXTRA_AT_PORTAL) == [MINISTRY_ONLY]  # explained, still listed


def test_without_a_snapshot_for_the_period_the_document_says_the_portal_side_was_not_checked(store: HubStore) -> None:
    _store_with_differences(store)
    _snapshot(store, [BEHIND], period="2026-11-19")  # another period's fetch does not count

    result = reconcile(store.db, DAY)
    document = result.to_dict()

    assert document["portal_side"]["checked"] is False
    assert "not checked" in document["portal_side"]["note"]
    assert "extra_at_portal" not in document["counts"]
    assert [i["key"] for i in document["identities"]] == ["hub_flow", "table01", "ministries"]
    assert result.sources[PORTAL] == 2  # acknowledged, as before
    assert result.dossiers(DifferenceClass.MISSING_AT_PORTAL) == [MISSING]


def test_a_fetch_replaces_the_period_snapshot_and_leaves_other_periods(store: HubStore) -> None:
    _snapshot(store, [BEHIND, IN_STEP])
    _snapshot(store, [BEHIND], period="2026-11-19")
    _snapshot(store, [MISSING])

    with store.db.engine.connect() as conn:
        rows = conn.execute(sa.select(portal_snapshot.c.period, portal_snapshot.c.dossier_no)).all()
    assert sorted(rows) == [("2026-11-19", BEHIND), ("2026-11-20", MISSING)]


# ----------------------------------------------------------------------------- loopback, signed export


@pytest.fixture
def signing(partner_signing: Callable[[str], PartnerSigning]) -> PartnerSigning:
    return partner_signing("national_portal")


@pytest.fixture
def portal(tmp_path: Path, signing: PartnerSigning) -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(tmp_path / "portal.db", USERNAME, PASSWORD, [AGENCY], signing=signing))
    yield server
    server.stop()


@pytest.fixture
def client(portal: RunningServer, pki: SigningKit) -> NationalPortalClient:
    transport = HttpTransport(
        "national_portal",
        TransportSettings(base_url=portal.url, **FAST),
        signatures=MessageSignatures(pki.hub, pki.trust),
    )
    return NationalPortalClient(transport, USERNAME, PASSWORD, AGENCY)


@pytest.fixture
def hub(store: HubStore, monkeypatch: pytest.MonkeyPatch) -> HubStore:
    """The store the jobs use (``hub_store()``) is the test's store."""
    monkeypatch.setenv("HUB_STORE_URL", store.db.url)
    return store


def _number(seq: int) -> str:
    return dossier(seq)["MaHoSo"]


def _forget(portal: RunningServer, dossier_no: str) -> dict:
    reply = requests.post(f"{portal.url}/sandbox/export/forget", json={"dossier_no": dossier_no}, timeout=5)
    reply.raise_for_status()
    return reply.json()


def _stored(store: HubStore) -> list[str]:
    with store.db.engine.connect() as conn:
        return sorted(conn.execute(sa.select(portal_snapshot.c.dossier_no)).scalars())


def test_the_export_is_paged_and_holds_only_this_units_dossiers_of_the_period(
    client: NationalPortalClient, portal: RunningServer
) -> None:
    client.sync_dossiers([dossier(seq) for seq in range(1, 8)], updating=False)
    client.sync_dossiers([dossier(8, submitted="20261121081500")], updating=False)  # the next day

    held = client.export_dossiers(date(2026, 11, 20), date(2026, 11, 20), page_size=3)

    assert [h.dossier_no for h in held] == [_number(seq) for seq in range(1, 8)]
    assert {h.status for h in held} == {10} and all(h.updated_at for h in held)
    assert client.export_dossiers(date(2026, 11, 20), date(2026, 11, 20)) == held  # one page or three
    assert _forget(portal, _number(3)) == {"dossier_no": _number(3), "forgotten": True}
    assert _forget(portal, _number(3))["forgotten"] is False
    assert len(client.export_dossiers(date(2026, 11, 20), date(2026, 11, 20), page_size=3)) == 6


def test_a_forgotten_dossier_is_missing_at_the_portal_and_a_portal_only_one_is_extra(
    hub: HubStore, client: NationalPortalClient, portal: RunningServer
) -> None:
    city = [_number(seq) for seq in (1, 2, 3)]
    hub.staging.stage(CITY_SOURCE, [_record(no) for no in city], "b1")
    client.sync_dossiers([dossier(seq) for seq in (1, 2, 3)], updating=False)
    _deliver(hub, city)  # the portal acknowledged all three
    client.sync_dossiers([dossier(9)], updating=False)  # reached the portal from ministry software
    _forget(portal, _number(2))

    fetched = jobs_reconcile.fetch_portal_snapshot(client, "2026-11-20")
    result = reconcile(hub.db, Period.parse("2026-11-20"))

    assert fetched == {"period": "2026-11-20", "dossiers": 3}
    assert result.dossiers(DifferenceClass.MISSING_AT_PORTAL) == [_number(2)]
    assert result.dossiers(DifferenceClass.EXTRA_AT_PORTAL) == [_number(9)]
    # It balances because both are counted and listed by dossier, not because the counts were trimmed.
    portal_identity = result.identity("portal")
    assert (portal_identity.left, portal_identity.right, portal_identity.holds) == (3, 3, True)
    assert portal_identity.terms["missing_at_portal"] == 1 and portal_identity.terms["portal_only"] == 1
    assert result.sources[PORTAL] == 3
    with hub.db.engine.connect() as conn:  # the signed export is kept as evidence
        logged = conn.execute(
            sa.select(message_log.c.outcome, message_log.c.response_signer).where(
                message_log.c.operation == "export_dossiers"
            )
        ).all()
    assert [outcome for outcome, _ in logged] == ["ok"] and all(signer for _, signer in logged)


def test_hub_reconcile_fetch_portal_compares_with_the_export_fetched_now(
    hub: HubStore, client: NationalPortalClient, portal: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = [_number(seq) for seq in (1, 2)]
    hub.staging.stage(CITY_SOURCE, [_record(no) for no in city], "b1")
    client.sync_dossiers([dossier(seq) for seq in (1, 2)], updating=False)
    _deliver(hub, city)  # the portal acknowledged both
    _forget(portal, _number(2))  # and then lost one
    runner = CliRunner()
    report = Path(os.environ["HUB_VAR_DIR"]) / "reports" / "2026-11-20" / "reconciliation.json"

    def missing() -> list[str]:
        document = json.loads(report.read_text())
        return [d["dossier_no"] for d in document["differences"] if d["kind"] == "missing_at_portal"]

    by_acknowledgements = runner.invoke(app, ["reconcile", "--period", "2026-11-20"])
    assert by_acknowledgements.exit_code == 0, by_acknowledgements.output
    assert missing() == []  # both acknowledged: the loss does not show
    monkeypatch.delenv("AIRFLOW_CONN_NATIONAL_PORTAL", raising=False)
    no_connection = runner.invoke(app, ["reconcile", "--period", "2026-11-20", "--fetch-portal"])
    assert no_connection.exit_code == 2 and "national_portal client" in no_connection.output
    host = portal.url.removeprefix("http://")
    monkeypatch.setenv("AIRFLOW_CONN_NATIONAL_PORTAL", f"http://{USERNAME}:{PASSWORD}@{host}?madonvi={AGENCY}")

    fetched = runner.invoke(app, ["reconcile", "--period", "2026-11-20", "--fetch-portal"])

    assert fetched.exit_code == 0, fetched.output
    assert "portal export for 2026-11-20: 1 dossiers held" in fetched.output and PASSWORD not in fetched.output
    assert missing() == [_number(2)]


@pytest.mark.parametrize("mode", ["unsigned", "tampered", "wrong_ca"])
def test_an_export_the_hub_cannot_verify_is_refused_and_nothing_is_stored(
    hub: HubStore, client: NationalPortalClient, signing: PartnerSigning, mode: str
) -> None:
    client.sync_dossiers([dossier(1), dossier(2)], updating=False)
    jobs_reconcile.fetch_portal_snapshot(client, "2026-11-20")
    client.sync_dossiers([dossier(3)], updating=False)
    signing.set_mode(mode)

    with pytest.raises(UntrustedReply, match="reply refused"):
        jobs_reconcile.fetch_portal_snapshot(client, "2026-11-20")

    assert _stored(hub) == [_number(1), _number(2)]  # the last verified snapshot, untouched


# ----------------------------------------------------------------------------- the DAG, end to end


def test_the_daily_dag_fetches_the_snapshot_first_and_reports_a_dossier_the_portal_lost(
    dagbag,
    partners: Partners,  # noqa: F811
) -> None:
    _run(dagbag, "city_dossiers_extract")
    counts = _run(dagbag, "national_portal_sync")["counts"]
    lost = sorted(partners.portal_dossiers())[0]
    _forget(partners.portal, lost)

    _run(dagbag, "reconcile_daily")

    report = Path(os.environ["HUB_VAR_DIR"]) / "reports" / E2E_DAY.isoformat() / "reconciliation.json"
    document = json.loads(report.read_text())
    assert document["portal_side"]["checked"] is True
    assert document["portal_side"]["dossiers"] == counts["delivered"] - 1
    assert [d["dossier_no"] for d in document["differences"] if d["kind"] == "missing_at_portal"] == [lost]
    assert document["counts"]["extra_at_portal"] == 0
    (portal_identity,) = [i for i in document["identities"] if i["key"] == "portal"]
    # Quarantined dossiers never left the hub; the lost one did and is gone: both are counted.
    assert portal_identity["terms"]["missing_at_portal"] == counts["quarantined"] + 1
    assert portal_identity["holds"] is True and portal_identity["terms"]["unexpected"] == 0


def test_both_reconcile_dags_fetch_the_snapshot_through_the_portal_pool_before_reconciling(
    dagbag,
) -> None:
    for dag_id in ("reconcile_daily", "reconcile_quarterly"):
        fetch = dagbag.dags[dag_id].get_task("fetch_portal_snapshot")
        assert (fetch.pool, fetch.downstream_task_ids) == ("national_portal", {"reconcile"})
