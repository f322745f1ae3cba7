"""Record-level reconciliation over a store with one injected difference of each kind, on both stores."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.store import Disposition, HubStore, OutboxMessage, OutboxState, QuarantineItem, Settlement, StagedRecord
from hub.store.postal import DispatchDecision, OrderOutcome, PostalOrders
from mappings.delivery import DeliveryState
from mappings.facts import DossierFacts
from mappings.postal.dispatch import Dispatch, result_reference
from mappings.postal.states import PostalState, Track
from mappings.sources import CITY_SOURCE
from quality.reconcile import DifferenceClass, Period, reconcile
from quality.reconcile.engine import CHECKED
from quality.report import write_reconciliation_report
from tests.quality.report.test_html import text_of

PORTAL = "national_portal"
CIVIL_STATUS = "ministry:civil_status"
BUSINESS = "ministry:business_registration"
DAY = Period.parse("2026-11-20")
INTEGRATED = "1.001193"  # birth registration: on the portal
NOT_INTEGRATED = "2.001035"  # a notarisation the portal does not carry
MINISTRY_PROCEDURE = "2.001610"  # business registration, on ministry software and the portal

MISSING = "000.00.12.H26-261120-0001"
BEHIND = "000.00.12.H26-261120-0002"
QUARANTINED = "000.00.12.H26-261120-0003"
PENDING = "000.00.12.H26-261120-0004"
IN_STEP = "000.00.12.H26-261120-0005"
OUT_OF_SCOPE = "000.00.12.H26-261120-0006"
OTHER_DAY = "000.00.12.H26-261119-0007"  # missing at the portal too, but not in the period
MINISTRY_ONLY = "000.00.01.H26-261120-0001"
UNDATED_IN = "HT-2026-000123"  # no day in the number: its update time (Hanoi 20 Nov) decides
UNDATED_OUT = "HT-2026-000124"  # updated 21 Nov, Hanoi time

PERSON = {"ho_ten": "Nguyễn Văn An", "so_giay_to": "001090012345"}


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


RECEIVED = _at(20, 2)  # 09:00 in Hanoi


def _facts(
    status: int | None,
    *,
    procedure: str = INTEGRATED,
    channel: int = 1,
    due: datetime | None = None,
    finished: datetime | None = None,
    digitised: bool = False,
    paid_online: bool = False,
    received: datetime | None = RECEIVED,
    **kpi_facts: Any,
) -> DossierFacts:
    """``kpi_facts``: the Decision 766 facts (submitted_via_portal, vneid_verified, fee_payable, ...)."""
    return DossierFacts(procedure, status, channel, received, due, finished, digitised, paid_online, False, **kpi_facts)


# An online dossier filed on the national portal from a VNeID account, paid online, whose applicant's
# data were looked up in two national databases, its result coded.
_PORTAL_DOSSIER = {
    "submitted_via_portal": True,
    "vneid_verified": True,
    "fee_payable": True,
    "identified": True,
    "consulted_databases": 2,
    "result_coded": True,
}


# Hand-computed Table 01 and KPIs: what each dossier of the period counts as.
FACTS = {
    MISSING: _facts(
        10, channel=2, due=_at(25), finished=_at(20), digitised=True, paid_online=True, **_PORTAL_DOSSIER
    ),  # on time
    BEHIND: _facts(
        9, due=_at(25), finished=_at(26), digitised=True, fee_payable=True, identified=True
    ),  # late; a fee left unpaid online, no coded result, nothing consulted
    QUARANTINED: _facts(4, channel=2, identified=True, consulted_databases=1),  # in process
    PENDING: _facts(3, paid_online=True),  # rejected at intake: outside the total; no fee, so not a payment
    IN_STEP: _facts(
        10,
        channel=2,
        due=_at(25),
        finished=_at(21),
        paid_online=True,
        fee_payable=True,
        vneid_verified=True,
        identified=True,
        consulted_databases=1,
        result_coded=True,
    ),  # on time, synced, filed on the city's own portal
    OUT_OF_SCOPE: _facts(2, procedure=NOT_INTEGRATED, fee_payable=True),  # in process, not on the portal
    OTHER_DAY: _facts(4, **_PORTAL_DOSSIER),  # another period: counts nowhere
    MINISTRY_ONLY: _facts(
        10, procedure=MINISTRY_PROCEDURE, channel=2, due=_at(22), finished=_at(21), digitised=True, result_coded=True
    ),  # on time
    UNDATED_IN: _facts(7, received=None),  # withdrawn: outside the total
    UNDATED_OUT: _facts(4, received=None),
}


def _record(dossier_no: str, version: str = "v1", updated: datetime | None = None) -> StagedRecord:
    payload = {"ma_ho_so": dossier_no, **PERSON}
    return StagedRecord(dossier_no, f"{version}-{dossier_no}", payload, updated, FACTS.get(dossier_no))


def _dispose(store: HubStore, dossier_no: str, state: DeliveryState, version: str = "v1") -> None:
    store.deliveries.set(PORTAL, [Disposition(dossier_no, CITY_SOURCE, f"{version}-{dossier_no}", state)])


def _deliver(store: HubStore, dossier_nos: list[str]) -> None:
    """The portal acknowledges the staged v1 of each dossier, as the sync would leave it."""
    for no in dossier_nos:
        _dispose(store, no, DeliveryState.PENDING)
    store.outbox.enqueue(
        [OutboxMessage(f"sync:{no}", PORTAL, "DongBoHoSoMC", no, f"v1-{no}", {"MaHoSo": no}) for no in dossier_nos]
    )
    (batch,) = store.outbox.assign_batches(PORTAL, "DongBoHoSoMC", 100)
    claimed = store.outbox.claim_batch(batch)
    store.outbox.settle(
        PORTAL, [Settlement(m.id, OutboxState.ACKNOWLEDGED) for m in claimed], acks_deliver_dossier=True
    )


def _store_with_differences(store: HubStore) -> None:
    city = [MISSING, BEHIND, QUARANTINED, PENDING, IN_STEP, OUT_OF_SCOPE, OTHER_DAY]
    store.staging.stage(CITY_SOURCE, [_record(no) for no in city], "b1")
    _deliver(store, [BEHIND, IN_STEP])
    store.staging.stage(CITY_SOURCE, [_record(BEHIND, "v2")], "b2")  # a new version the portal has not got
    _dispose(store, QUARANTINED, DeliveryState.QUARANTINED)
    store.quarantine.add(
        [
            QuarantineItem(CITY_SOURCE, QUARANTINED, rule, "readable reason", f"v1-{QUARANTINED}", PERSON)
            for rule in ("due_before_received", "status_requires_return_date")
        ]
    )
    _dispose(store, PENDING, DeliveryState.PENDING)
    _dispose(store, OUT_OF_SCOPE, DeliveryState.OUT_OF_SCOPE)
    _dispose(store, OTHER_DAY, DeliveryState.OUT_OF_SCOPE)
    store.staging.stage(CIVIL_STATUS, [_record(MINISTRY_ONLY, "m")], "m1")
    store.staging.stage(
        CIVIL_STATUS,
        [
            _record(UNDATED_IN, "m", datetime(2026, 11, 20, 16, 59, tzinfo=UTC)),  # 23:59 in Hanoi
            _record(UNDATED_OUT, "m", datetime(2026, 11, 20, 17, 0, tzinfo=UTC)),  # 00:00 on the 21st
        ],
        "m1",
    )
    store.staging.stage(BUSINESS, [_record(IN_STEP, "m")], "m2")  # also processed on ministry software


def test_ministry_dossiers_are_matched_to_the_city_by_the_rule_named_and_never_merged_when_ambiguous(
    store: HubStore,
) -> None:
    """One-stop number, the ministry's number recorded as the city dossier's other number, then
    applicant + procedure + day when exactly one city dossier fits; two fitting is its own class."""
    birth = "1.001193"
    city = {f"000.05.60.H26-261120-000{n}": n for n in range(1, 6)}
    c1, c2, c3, c4, c5 = city
    keys = {c3: "k-twins", c4: "k-twins", c5: "k-single"}
    city_facts = {
        no: _facts(4, procedure=birth, applicant_key=keys.get(no), other_no="126112000002" if no == c2 else None)
        for no in city
    }
    ministry = {
        "900000000001": _facts(9, procedure=birth, one_stop_no=c1, applicant_key="k-other"),
        "126112000002": _facts(9, procedure=birth),
        "126112000003": _facts(9, procedure=birth, applicant_key="k-twins"),
        "126112000004": _facts(9, procedure=birth, applicant_key="k-single"),
        "126112000005": _facts(9, procedure=birth, applicant_key="k-nobody"),
    }
    store.staging.stage(CITY_SOURCE, [StagedRecord(n, f"c-{n}", {}, None, f) for n, f in city_facts.items()], "c")
    store.staging.stage(CIVIL_STATUS, [StagedRecord(n, f"m-{n}", {}, None, f) for n, f in ministry.items()], "m")

    result = reconcile(store.db, DAY)

    assert result.dossiers(DifferenceClass.MINISTRY_ONLY) == ["126112000005"]
    (ambiguous,) = [d for d in result.differences if d.kind is DifferenceClass.MINISTRY_AMBIGUOUS]
    assert ambiguous.dossier_no == "126112000003" and ambiguous.detail.startswith("2 city dossiers")
    (row,) = result.ministries
    assert (row["system"], row["procedure"], row["ministry"]) == ("civil_status", birth, "Bộ Tư pháp")
    assert row["processed"] == 5 and (row["ambiguous"], row["ministry_only"]) == (1, 1)
    assert row["matched"] == {
        "same_number": 0,
        "one_stop_number": 1,
        "ministry_number": 1,
        "applicant_procedure_day": 1,
    }
    assert result.identity("ministries").holds
    assert _terms(result, "table01")["received"] == len(city) + 1  # the city's five, and the one only the ministry has


def _terms(result: object, key: str) -> dict[str, int]:
    return result.identity(key).terms  # type: ignore[attr-defined]


def test_each_injected_difference_is_found_and_classified(store: HubStore) -> None:
    _store_with_differences(store)

    result = reconcile(store.db, DAY)

    assert result.dossiers(DifferenceClass.MISSING_AT_PORTAL) == [MISSING]
    assert result.dossiers(DifferenceClass.BEHIND_AT_PORTAL) == [BEHIND]
    assert result.dossiers(DifferenceClass.QUARANTINED) == [QUARANTINED]
    assert result.dossiers(DifferenceClass.PENDING) == [PENDING]
    assert result.dossiers(DifferenceClass.MINISTRY_ONLY) == [MINISTRY_ONLY, UNDATED_IN]
    assert result.dossiers(DifferenceClass.DUPLICATE) == [IN_STEP]
    assert len(result.differences) == 7
    assert result.counts == {
        DifferenceClass.MISSING_AT_PORTAL: 1,
        DifferenceClass.BEHIND_AT_PORTAL: 1,
        DifferenceClass.QUARANTINED: 1,
        DifferenceClass.PENDING: 1,
        DifferenceClass.MINISTRY_ONLY: 2,
        DifferenceClass.MINISTRY_AMBIGUOUS: 0,
        DifferenceClass.DUPLICATE: 1,
        DifferenceClass.POSTAL_NO_ORDER: 0,
        DifferenceClass.POSTAL_DELIVERED_NOT_CLOSED: 0,
    }
    (quarantined,) = [d for d in result.differences if d.kind is DifferenceClass.QUARANTINED]
    assert quarantined.detail == "due_before_received, status_requires_return_date"
    (duplicate,) = [d for d in result.differences if d.kind is DifferenceClass.DUPLICATE]
    assert duplicate.source == BUSINESS
    assert result.by_agency == {
        "000.00.01.H26": {DifferenceClass.MINISTRY_ONLY: 1},
        "000.00.12.H26": {
            DifferenceClass.MISSING_AT_PORTAL: 1,
            DifferenceClass.BEHIND_AT_PORTAL: 1,
            DifferenceClass.QUARANTINED: 1,
            DifferenceClass.PENDING: 1,
            DifferenceClass.DUPLICATE: 1,
        },
        "HT": {DifferenceClass.MINISTRY_ONLY: 1},
    }
    assert result.sources == {
        CITY_SOURCE: 6,
        PORTAL: 2,
        "postal": 0,
        "postal_delivered": 0,
        BUSINESS: 1,
        CIVIL_STATUS: 2,
    }


def test_a_number_whose_day_does_not_exist_is_dated_by_its_intake_and_found(store: HubStore) -> None:
    """The store skips numbers dated outside the period only when that day exists."""
    no_such_day = "000.00.12.H26-261131-0008"  # 31 November: received on the 20th, Hanoi time
    other_day = "000.00.12.H26-261029-0009"  # a real day outside the period
    store.staging.stage(
        CITY_SOURCE,
        [StagedRecord(no, f"v1-{no}", {"ma_ho_so": no}, None, _facts(4)) for no in (no_such_day, other_day)],
        "b1",
    )

    result = reconcile(store.db, DAY)

    assert result.dossiers(DifferenceClass.MISSING_AT_PORTAL) == [no_such_day]
    assert result.sources[CITY_SOURCE] == 1


def test_the_hub_flow_identity_fails_while_a_dossier_has_no_disposition_and_holds_once_it_has(
    store: HubStore,
) -> None:
    _store_with_differences(store)

    gap = reconcile(store.db, DAY).identity("hub_flow")
    assert gap.terms == {
        "extracted": 6,
        "delivered": 2,
        "quarantined": 1,
        "pending": 1,
        "out_of_scope": 1,
        "no_disposition": 1,
    }
    assert (gap.left, gap.right, gap.holds) == (6, 5, False)
    assert gap.formula == "extracted = delivered + quarantined + pending + out_of_scope"

    _dispose(store, MISSING, DeliveryState.PENDING)
    closed = reconcile(store.db, DAY)
    assert (closed.identity("hub_flow").terms["pending"], closed.identity("hub_flow").holds) == (2, True)
    assert closed.dossiers(DifferenceClass.MISSING_AT_PORTAL) == []
    assert closed.dossiers(DifferenceClass.PENDING) == [MISSING, PENDING]


def test_table01_adds_up_over_city_and_ministry_only_dossiers(store: HubStore) -> None:
    _store_with_differences(store)

    table01 = reconcile(store.db, DAY).identity("table01")

    assert table01.terms == {
        "received": 8,  # six city dossiers of the day, two only a ministry holds (the duplicate counts once)
        "closed_unresolved": 2,  # rejected at intake, withdrawn
        "total": 6,
        "on_time": 3,
        "late": 1,
        "in_process": 2,
        "unclassified": 0,
    }
    assert table01.holds and (table01.left, table01.right) == (6, 6)
    assert table01.formula.startswith("total = on_time + late + in_process, where total = received - closed_unresolved")


def test_table01_does_not_hold_for_a_resolved_dossier_without_a_due_date_and_says_so(store: HubStore) -> None:
    _store_with_differences(store)
    no_due = "000.00.12.H26-261120-0009"
    store.staging.stage(
        CITY_SOURCE, [StagedRecord(no_due, "v1", {"ma_ho_so": no_due}, None, _facts(10, finished=_at(20)))], "b3"
    )

    result = reconcile(store.db, DAY)

    table01 = result.identity("table01")
    assert (table01.terms["total"], table01.terms["unclassified"], table01.holds) == (7, 1, False)
    document = result.to_dict()
    assert document["verdict"]["reconciled"] is False
    assert {"key": "table01", "left": 7, "right": 6, "holds": False}.items() <= document["identities"][1].items()


def test_kpis_match_the_hand_computed_values(store: HubStore) -> None:
    _store_with_differences(store)

    result = reconcile(store.db, DAY)

    figures = {k.key: (k.numerator, k.denominator) for k in result.kpis}
    assert figures == {
        "synced_to_portal": (1, 7),  # only IN_STEP's current version is acknowledged; OUT_OF_SCOPE is not integrated
        "on_time": (3, 4),
        "online": (4, 8),
        "portal_submitted": (1, 4),  # of the online MISSING, QUARANTINED, IN_STEP, MINISTRY_ONLY: MISSING
        "paid_online": (2, 4),  # fee above 0: MISSING, BEHIND, IN_STEP, OUT_OF_SCOPE; PENDING paid nothing due
        "digitised": (2, 8),  # components and a coded result: MISSING, MINISTRY_ONLY (BEHIND has no coded result)
        "result_coded": (3, 4),  # resolved: MISSING, BEHIND, IN_STEP, MINISTRY_ONLY
        "vneid_verified": (2, 4),  # online: MISSING, IN_STEP
        "national_data": (3, 4),  # identified: MISSING, BEHIND, QUARANTINED, IN_STEP; BEHIND consulted nothing
    }
    assert result.kpi("on_time").value == 0.75
    assert result.kpi("on_time").by_agency == {"000.00.01.H26": (1, 1), "000.00.12.H26": (2, 3), "HT": (0, 0)}
    on_time = result.to_dict()["kpis"][1]
    assert on_time["by_agency"]["HT"] == {"numerator": 0, "denominator": 0, "value": None}


def test_breakdown_counts_each_source_by_agency_procedure_and_status(store: HubStore) -> None:
    _store_with_differences(store)

    breakdown = reconcile(store.db, DAY).breakdown
    rows = {(r.agency, r.procedure, r.status): (r.city, r.portal, r.ministry) for r in breakdown}

    assert rows[("000.00.12.H26", INTEGRATED, 10)] == (2, 1, 1)  # MISSING, IN_STEP (acked), IN_STEP at business
    assert rows[("000.00.12.H26", INTEGRATED, 9)] == (1, 1, 0)  # BEHIND: the portal holds an older version
    assert rows[("000.00.01.H26", MINISTRY_PROCEDURE, 10)] == (0, 0, 1)
    assert sum(city for city, _, _ in rows.values()) == 6


def test_json_is_the_v3_document_and_holds_no_personal_data(store: HubStore) -> None:
    _store_with_differences(store)

    text = reconcile(store.db, Period.parse("2026-11")).to_json()

    data = json.loads(text)
    assert data["schema"] == "hub.reconciliation/3"
    assert data["period"] == {"first": "2026-11-01", "last": "2026-11-30", "kind": "month", "label": "2026-11"}
    assert data["verdict"] == {
        "status": "not_reconciled",  # a dossier missing at the portal is not an expected class
        "reconciled": False,
        "differing_dossiers": 8,
        "largest_class": "ministry_only",
        "largest_class_count": 3,
        "identities_hold": False,
        "expected_classes": [
            "quarantined",
            "pending",
            "behind_at_portal",
            "ministry_only",
            "postal_delivered_not_closed",
        ],
        "unexpected_classes": ["missing_at_portal", "duplicate"],
        "not_compared": ["national_portal:export"],
    }
    assert sum(data["counts"].values()) == 8  # each differing dossier in exactly one class
    # The month's portal export was never fetched: the document says so, not just the verdict.
    assert data["compared"] == {
        "portal_basis": "acknowledged",
        "not_compared": [{"source": "national_portal:export", "reason": "not_fetched"}],
    }
    assert [i["key"] for i in data["identities"]] == ["hub_flow", "table01", "ministries"]
    assert set(data["counts"]) == {c.value for c in CHECKED}
    assert {
        "dossier_no": MISSING,
        "kind": "missing_at_portal",
        "source": CITY_SOURCE,
        "agency": "000.00.12.H26",
    } in data["differences"]
    assert [point["day"] for point in data["trend"]] == ["2026-11-19", "2026-11-20", "2026-11-21"]
    assert all(value not in text for value in PERSON.values())


def test_an_empty_store_is_no_data_never_reconciled(store: HubStore) -> None:
    result = reconcile(store.db, DAY, batch_rows=2)
    assert result.differences == []
    assert all(i.holds and i.left == 0 for i in result.identities)
    assert result.verdict() | {"expected_classes": []} == {
        "status": "no_data",
        "reconciled": False,  # nothing was compared, so nothing is said to agree
        "differing_dossiers": 0,
        "largest_class": None,
        "largest_class_count": 0,
        "identities_hold": True,
        "expected_classes": [],
        "unexpected_classes": [],
        "not_compared": ["national_portal:export"],
    }
    assert all(k.value is None for k in result.kpis)


@pytest.mark.parametrize(
    ("text", "first", "last", "kind", "label"),
    [
        ("2026-11-20", date(2026, 11, 20), date(2026, 11, 20), "day", "2026-11-20"),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28), "month", "2026-02"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "month", "2024-02"),
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31), "quarter", "2026-Q4"),
        ("2026-q1", date(2026, 1, 1), date(2026, 3, 31), "quarter", "2026-Q1"),
        ("2023", date(2023, 1, 1), date(2023, 12, 31), "year", "2023"),
        ("2026-11-01..2026-11-20", date(2026, 11, 1), date(2026, 11, 20), "range", "2026-11-01..2026-11-20"),
        ("2026-11-01..2026-11-30", date(2026, 11, 1), date(2026, 11, 30), "month", "2026-11"),
    ],
)
def test_periods_parse_from_text_with_their_kind_and_label(
    text: str, first: date, last: date, kind: str, label: str
) -> None:
    period = Period.parse(text)
    assert (period.first, period.last, period.kind, period.label) == (first, last, kind, label)
    assert Period.parse(period.label) == period


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "20261120", "2026-11-31", "2026-11-20..2026-11-01", "Q4"])
def test_a_malformed_period_is_refused_with_the_text_it_got(text: str) -> None:
    with pytest.raises(ValueError, match="period"):
        Period.parse(text)


# Results returned by post, one per case the reconciliation must tell apart.
POST_IN_TRANSIT = "000.00.12.H26-261120-0101"  # ordered, on its way: no difference
POST_DELIVERED_OPEN = "000.00.12.H26-261120-0102"  # delivered, city still at 9 processed
POST_DELIVERED_CLOSED = "000.00.12.H26-261120-0103"  # delivered, city at 10: no difference
POST_BAD_ADDRESS = "000.00.12.H26-261120-0104"  # dispatch quarantined: no order
POST_OUTAGE = "000.00.12.H26-261120-0105"  # dispatch pending after a carrier outage: no order
POST_NOT_PLANNED = "000.00.12.H26-261120-0106"  # ready, never planned (e.g. no result attached)
POST_NOT_READY = "000.00.12.H26-261120-0107"  # still in progress: nothing to send yet
BAD_ADDRESS = "postal.address_missing"


def _postal_store(store: HubStore) -> None:
    status = {POST_DELIVERED_OPEN: 9, POST_NOT_PLANNED: 9, POST_NOT_READY: 4}
    records = [
        StagedRecord(
            no,
            f"v1-{no}",
            {"ma_ho_so": no, **PERSON},
            None,
            DossierFacts(INTEGRATED, status.get(no, 10), 1, RECEIVED, _at(25), _at(21), False, False, True),
        )
        for no in (
            POST_IN_TRANSIT,
            POST_DELIVERED_OPEN,
            POST_DELIVERED_CLOSED,
            POST_BAD_ADDRESS,
            POST_OUTAGE,
            POST_NOT_PLANNED,
            POST_NOT_READY,
        )
    ]
    store.staging.stage(CITY_SOURCE, records, "p1")
    orders = PostalOrders(store)
    ordered = [POST_IN_TRANSIT, POST_DELIVERED_OPEN, POST_DELIVERED_CLOSED]
    orders.record_decisions(
        CITY_SOURCE,
        [DispatchDecision(no, f"v1-{no}", "vnpost", Dispatch.PENDING) for no in [*ordered, POST_OUTAGE]]
        + [
            DispatchDecision(
                POST_BAD_ADDRESS, f"v1-{POST_BAD_ADDRESS}", None, Dispatch.QUARANTINED, "postal.address_missing"
            )
        ],
    )
    orders.settle(
        [
            OrderOutcome(result_reference(no), Dispatch.ORDERED, order_id=f"VN{k}", placed_at=_at(21))
            for k, no in enumerate(ordered)
        ]
    )
    orders.record_tracks(
        "vnpost",
        {
            "VN0": (Track(PostalState.IN_TRANSIT, state_at=_at(22)), False),
            "VN1": (Track(PostalState.DELIVERED, state_at=_at(23)), False),
            "VN2": (Track(PostalState.DELIVERED, state_at=_at(23)), False),
        },
        _at(23, 12),
    )


def test_postal_returns_without_an_order_and_delivered_results_left_open_are_found(store: HubStore) -> None:
    _postal_store(store)

    result = reconcile(store.db, DAY)

    assert result.dossiers(DifferenceClass.POSTAL_NO_ORDER) == [POST_BAD_ADDRESS, POST_OUTAGE, POST_NOT_PLANNED]
    assert result.dossiers(DifferenceClass.POSTAL_DELIVERED_NOT_CLOSED) == [POST_DELIVERED_OPEN]
    details = {d.dossier_no: (d.source, d.detail) for d in result.differences if d.kind.value.startswith("postal")}
    assert details == {
        POST_BAD_ADDRESS: (CITY_SOURCE, f"dispatch_quarantined: {BAD_ADDRESS}"),
        POST_OUTAGE: (CITY_SOURCE, "dispatch_pending"),
        POST_NOT_PLANNED: (CITY_SOURCE, "dispatch_not_planned"),
        POST_DELIVERED_OPEN: ("postal", None),
    }
    assert (result.sources["postal"], result.sources["postal_delivered"]) == (3, 2)
    # The postal dimension is beside the portal one: none of these reached the portal either.
    assert len(result.dossiers(DifferenceClass.MISSING_AT_PORTAL)) == 7


def test_the_report_shows_the_decision_766_kpis_in_both_languages(store: HubStore, tmp_path: Path) -> None:
    """The official's view of the hand-computed KPIs: label, formula, figures, per agency -- from the document."""
    _store_with_differences(store)
    document = reconcile(store.db, DAY).to_dict()

    vi = write_reconciliation_report(document, tmp_path / "vi", signer=None).html.read_text(encoding="utf-8")
    en = write_reconciliation_report(document, tmp_path / "en", signer=None, language="en").html.read_text("utf-8")

    kpis_vi, kpis_en = text_of(vi, "kpis"), text_of(en, "kpis")
    assert "Tỷ lệ hồ sơ thanh toán trực tuyến" in kpis_vi and "2 4 50,0 %" in kpis_vi
    assert "Tỷ lệ hồ sơ có kết quả điện tử gắn mã" in kpis_vi and "3 4 75,0 %" in kpis_vi
    assert "Share paid online" in kpis_en and "F766 3.6" in kpis_en
    for label in ("Share digitised (components and result)", "Share of online dossiers from VNeID-verified accounts"):
        assert label in kpis_en
    assert "2 8 25.0 %" in kpis_en  # digitised: components and a coded result
