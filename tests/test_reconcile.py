"""Record-level reconciliation over a store with one injected difference of each kind, on both stores."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from hub.pipeline.extract import CITY_SOURCE
from hub.store import (
    DeliveryState,
    Disposition,
    HubStore,
    OutboxMessage,
    OutboxState,
    QuarantineItem,
    Settlement,
    StagedRecord,
)
from quality.reconcile import DifferenceClass, Period, reconcile

PORTAL = "national_portal"
CIVIL_STATUS = "ministry:civil_status"
BUSINESS = "ministry:business_registration"
DAY = Period(date(2026, 11, 20), date(2026, 11, 20))

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


def _record(dossier_no: str, version: str = "v1", updated: datetime | None = None) -> StagedRecord:
    return StagedRecord(dossier_no, f"{version}-{dossier_no}", {"ma_ho_so": dossier_no, **PERSON}, updated)


def _dispose(store: HubStore, dossier_no: str, state: DeliveryState, version: str = "v1") -> None:
    store.set_dispositions(PORTAL, [Disposition(dossier_no, CITY_SOURCE, f"{version}-{dossier_no}", state)])


def _deliver(store: HubStore, dossier_nos: list[str]) -> None:
    """The portal acknowledges the staged v1 of each dossier, as the sync would leave it."""
    for no in dossier_nos:
        _dispose(store, no, DeliveryState.PENDING)
    store.enqueue(
        [OutboxMessage(f"sync:{no}", PORTAL, "DongBoHoSoMC", no, f"v1-{no}", {"MaHoSo": no}) for no in dossier_nos]
    )
    (batch,) = store.assign_batches(PORTAL, "DongBoHoSoMC", 100)
    claimed = store.claim_batch(batch)
    store.settle(PORTAL, [Settlement(m.id, OutboxState.ACKNOWLEDGED) for m in claimed], acks_deliver_dossier=True)


def _store_with_differences(store: HubStore) -> None:
    city = [MISSING, BEHIND, QUARANTINED, PENDING, IN_STEP, OUT_OF_SCOPE, OTHER_DAY]
    store.stage(CITY_SOURCE, [_record(no) for no in city], "b1")
    _deliver(store, [BEHIND, IN_STEP])
    store.stage(CITY_SOURCE, [_record(BEHIND, "v2")], "b2")  # a new version the portal has not got
    _dispose(store, QUARANTINED, DeliveryState.QUARANTINED)
    store.quarantine(
        [
            QuarantineItem(CITY_SOURCE, QUARANTINED, rule, "readable reason", f"v1-{QUARANTINED}", PERSON)
            for rule in ("due_before_received", "status_requires_return_date")
        ]
    )
    _dispose(store, PENDING, DeliveryState.PENDING)
    _dispose(store, OUT_OF_SCOPE, DeliveryState.OUT_OF_SCOPE)
    _dispose(store, OTHER_DAY, DeliveryState.OUT_OF_SCOPE)
    store.stage(CIVIL_STATUS, [_record(MINISTRY_ONLY, "m")], "m1")
    store.stage(
        CIVIL_STATUS,
        [
            _record(UNDATED_IN, "m", datetime(2026, 11, 20, 16, 59, tzinfo=UTC)),  # 23:59 in Hanoi
            _record(UNDATED_OUT, "m", datetime(2026, 11, 20, 17, 0, tzinfo=UTC)),  # 00:00 on the 21st
        ],
        "m1",
    )
    store.stage(BUSINESS, [_record(IN_STEP, "m")], "m2")  # also processed on ministry software


def test_each_injected_difference_is_found_and_classified(store: HubStore) -> None:
    _store_with_differences(store)

    result = reconcile(store, DAY)

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
        DifferenceClass.DUPLICATE: 1,
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


def test_the_identity_fails_while_a_dossier_has_no_disposition_and_holds_once_it_has(store: HubStore) -> None:
    _store_with_differences(store)

    gap = reconcile(store, DAY).identity
    assert (gap.extracted, gap.delivered, gap.quarantined, gap.pending, gap.out_of_scope) == (6, 2, 1, 1, 1)
    assert (gap.unaccounted, gap.holds) == (1, False)

    _dispose(store, MISSING, DeliveryState.PENDING)
    closed = reconcile(store, DAY)
    assert (closed.identity.pending, closed.identity.unaccounted, closed.identity.holds) == (2, 0, True)
    assert closed.dossiers(DifferenceClass.MISSING_AT_PORTAL) == []
    assert closed.dossiers(DifferenceClass.PENDING) == [MISSING, PENDING]


def test_json_lists_dossier_numbers_and_no_personal_data(store: HubStore) -> None:
    _store_with_differences(store)

    text = reconcile(store, DAY).to_json()

    data = json.loads(text)
    assert data["identity"]["holds"] is False
    assert data["counts"]["missing_at_portal"] == 1
    assert {
        "dossier_no": MISSING,
        "kind": "missing_at_portal",
        "source": CITY_SOURCE,
        "agency": "000.00.12.H26",
    } in data["differences"]
    assert all(value not in text for value in PERSON.values())


def test_an_empty_store_reconciles_to_nothing(store: HubStore) -> None:
    result = reconcile(store, DAY, batch_rows=2)
    assert result.differences == []
    assert result.identity.holds and result.identity.extracted == 0
