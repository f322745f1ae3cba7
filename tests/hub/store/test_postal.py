"""The postal tables on SQLite and PostgreSQL: one order per result reference, events kept once,
anomalies kept once, counts that add up."""

from __future__ import annotations

from datetime import datetime, timedelta

from adapters.postal.carrier import CarrierEvent
from hub.store import HubStore, StagedRecord
from hub.store.postal import DispatchDecision, OrderOutcome, PostalOrders
from mappings.dossier import VN_TZ
from mappings.facts import DossierFacts
from mappings.postal.dispatch import Dispatch, result_reference
from mappings.postal.states import PostalState, fold

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=VN_TZ)


def _stage(store: HubStore, numbers: list[str], *, by_post: bool = True, status: int = 9, version: str = "v1") -> None:
    facts = DossierFacts(None, status, 1, None, None, None, False, False, by_post)
    records = [StagedRecord(n, f"{n}-{version}", {"ma_ho_so": n, "v": version}, None, facts) for n in numbers]
    store.staging.stage("city", records, f"batch-{version}")


def _candidates(orders: PostalOrders) -> list[str]:
    return [c.dossier_no for page in orders.iter_candidates("city", 2) for c in page]


def test_only_postal_results_without_an_order_are_candidates(store: HubStore) -> None:
    orders = PostalOrders(store)
    _stage(store, ["A", "B", "C", "D", "E"])
    _stage(store, ["F"], by_post=False)
    _stage(store, ["G"], status=4)  # still in process: its result is not ready
    assert _candidates(orders) == ["A", "B", "C", "D", "E"]

    orders.record_decisions(
        "city",
        [
            DispatchDecision("A", "A-v1", "vnpost", Dispatch.PENDING),
            DispatchDecision("B", "B-v1", "viettel_post", Dispatch.QUARANTINED, "postal.address_missing: ..."),
        ],
    )
    assert _candidates(orders) == ["C", "D", "E"]
    _stage(store, ["B"], version="v2")  # the city corrected the address: considered again
    assert _candidates(orders) == ["B", "C", "D", "E"]
    # Planning the same result twice keeps one row: the reference is the key.
    orders.record_decisions("city", [DispatchDecision("B", "B-v2", "viettel_post", Dispatch.PENDING)])
    assert orders.dispatch_counts() == {"pending": 2, "sent": 0, "ordered": 0, "quarantined": 0}


def test_batches_claims_and_outcomes(store: HubStore) -> None:
    orders = PostalOrders(store)
    _stage(store, ["A", "B", "C"])
    orders.record_decisions(
        "city",
        [
            DispatchDecision("A", "A-v1", "vnpost", Dispatch.PENDING),
            DispatchDecision("B", "B-v1", "vnpost", Dispatch.PENDING),
            DispatchDecision("C", "C-v1", "viettel_post", Dispatch.PENDING),
        ],
    )
    batches = orders.assign_batches(batch_size=1)
    assert {carrier: len(ids) for carrier, ids in batches.items()} == {"vnpost": 2, "viettel_post": 1}
    claimed = orders.claim_batch(batches["viettel_post"][0])
    assert [(c.reference, c.carrier, c.payload["ma_ho_so"]) for c in claimed] == [("C/KQ", "viettel_post", "C")]
    assert orders.claim_batch(batches["viettel_post"][0])[0].reference == "C/KQ"  # a retried task takes it again
    again = orders.assign_batches(batch_size=10)  # sent within its lease: not due; the others still are
    assert {carrier: len(ids) for carrier, ids in again.items()} == {"vnpost": 1}

    orders.settle(
        [
            OrderOutcome(
                "C/KQ",
                Dispatch.ORDERED,
                order_id="V1",
                item_code="EE123456785VN",
                placed_at=T0,
                deadline=T0 + timedelta(days=3),
            ),
        ]
    )
    row = orders.get(result_reference("C"))
    assert row is not None
    assert (row["dispatch"], row["order_id"], row["item_code"], row["state"], row["attempts"]) == (
        "ordered",
        "V1",
        "EE123456785VN",
        "created",
        1,
    )
    later = T0 + timedelta(minutes=5)
    orders.settle([OrderOutcome("A/KQ", Dispatch.PENDING, "carrier down", next_attempt_at=later)])
    assert orders.dispatch_counts() == {"pending": 2, "sent": 0, "ordered": 1, "quarantined": 0}


def test_events_are_kept_once_and_tracks_with_their_anomalies(store: HubStore) -> None:
    orders = PostalOrders(store)
    events = [
        CarrierEvent("viettel_post", "V1", "C/KQ", code, code, T0 + timedelta(hours=i))
        for i, code in enumerate(["100", "105", "501", "300"])
    ]
    assert orders.add_events(events[:2], "webhook") == 2
    assert orders.add_events(events, "poll") == 2  # the first two are the same changes
    assert orders.add_events(list(reversed(events)), "webhook") == 0
    assert orders.count_events() == 4

    stored = orders.events_of("viettel_post", ["V1", "V2"])
    assert stored["V2"] == []
    assert {e.event_key for e in stored["V1"]} == {e.event_key for e in events}
    track = fold(stored["V1"])
    assert track.state is PostalState.DELIVERED and len(track.anomalies) == 1
    assert fold(stored["V1"]) == fold(events)  # stored times (UTC) fold like the carrier's

    _stage(store, ["C"])
    orders.record_decisions("city", [DispatchDecision("C", "C-v1", "viettel_post", Dispatch.PENDING)])
    orders.settle([OrderOutcome("C/KQ", Dispatch.ORDERED, order_id="V1", item_code="EE123456785VN", placed_at=T0)])
    assert [a.order_id for page in orders.iter_tracked("viettel_post", 10) for a in page] == ["V1"]
    orders.record_tracks("viettel_post", {"V1": (track, False)}, store.db.now())
    orders.record_tracks("viettel_post", {"V1": (track, False)}, store.db.now())  # re-derived: anomalies stay one each
    assert [a["reason"] for a in orders.anomalies()] == [track.anomalies[0].reason]
    assert list(orders.iter_tracked("viettel_post", 10)) == []  # final, nothing new
    late = CarrierEvent("viettel_post", "V1", "C/KQ", "502", "502", T0 + timedelta(days=1))
    orders.add_events([late], "webhook")
    assert [a.final for page in orders.iter_tracked("viettel_post", 10) for a in page] == [True]
    assert orders.delivery_counts() == {"viettel_post": {"orders": 1, "by_state": {"delivered": 1}, "overdue": 0}}
