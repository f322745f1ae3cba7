"""Follow every placed order to a final state: poll, merge with the callbacks, derive, flag.
Airflow-free; ``hub.jobs.postal`` calls it per carrier.

Two ways in, one truth: the webhook receiver keeps the carriers' callbacks in ``postal_event``;
this step polls the carrier (``Carrier.track``, full histories, in pages of ``page_size``
orders) and keeps what it returns in the same table, where a status seen both ways is one row.
Polling is what closes the gaps the callbacks leave -- lost, or never configured. The delivery
state is then re-derived from all of an order's kept events (``mappings.postal.states.fold``:
ordered by the carrier's timestamps, illegal transitions flagged and kept as anomalies), so the
result does not depend on which way, or in which order, the events came.

Overdue: an order is flagged when its delivery deadline (placed + N working days, set at
dispatch; ``HUB_POSTAL_DELIVERY_DAYS``) passed before it was delivered -- still on its way, or
delivered late, or returned. A carrier outage leaves the orders with what the callbacks said
(re-derived all the same) and the task succeeds; the next run polls them again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.errors import AdapterError
from adapters.postal.carrier import Carrier
from hub.pipeline.redelivery import raise_unless_retryable
from hub.store import HubStore
from hub.store.database import utc
from hub.store.postal import PostalOrders, StoredEvent, TrackedOrder
from mappings.postal.states import PostalState, Track, fold, load_status_table, lookup


@dataclass
class TrackReport:
    carrier: str
    orders: int = 0
    polled: int = 0
    unpolled: int = 0
    events_new: int = 0
    final: int = 0
    overdue: int = 0
    anomalies: int = 0
    error: str | None = None


def _overdue(track: Track, order: TrackedOrder, now: datetime) -> bool:
    """The deadline passed before the parcel was delivered."""
    if order.deadline is None:
        return False
    if track.state is PostalState.DELIVERED:
        return track.state_at is not None and track.state_at > order.deadline
    return now > order.deadline


def track_carrier(store: HubStore, carrier: Carrier, *, page_size: int = 100, poll: bool = True) -> TrackReport:
    """Poll ``carrier``'s non-final orders, keep the events, re-derive every order that may have moved.

    ``poll=False`` re-derives from the kept events alone (no call to the carrier): what the states
    are from the callbacks received so far.
    """
    orders = PostalOrders(store)
    report = TrackReport(carrier.name)
    failure: AdapterError | None = None
    for page in orders.iter_tracked(carrier.name, page_size):
        to_poll = [o.order_id for o in page if not o.final] if poll else []
        if to_poll and failure is None:
            try:
                histories = carrier.track(to_poll)
            except AdapterError as error:  # keep deriving from the callbacks; poll again next run
                failure = error
            else:
                report.polled += len(to_poll)
                report.events_new += orders.add_events([e for h in histories.values() for e in h], "poll")
        report.unpolled += len(to_poll) if failure is not None else 0
        # After the polled events are in, before reading: a callback kept later is newer than the
        # derivation and brings the order back next run (one committing in between with an earlier
        # clock reading could slip by a final order; a non-final one is derived every run anyway).
        as_of = store.db.now()
        kept = orders.events_of(carrier.name, [o.order_id for o in page])
        tracks: dict[str, tuple[Track, bool]] = {}
        for order in page:
            track = fold(kept[order.order_id])
            tracks[order.order_id] = (track, _overdue(track, order, as_of))
        orders.record_tracks(carrier.name, tracks, as_of)
        report.orders += len(page)
        report.final += sum(track.final for track, _ in tracks.values())
        report.overdue += sum(overdue for _, overdue in tracks.values())
        report.anomalies += sum(len(track.anomalies) for track, _ in tracks.values())
    report.error = None if failure is None else str(failure)
    raise_unless_retryable(failure)
    return report


def unknown_statuses(anomalies: list[dict[str, Any]]) -> dict[str, int]:
    """``{"<carrier>:<code>": events}`` of the kept anomalies whose status the table did not know on
    its day: a carrier's code to add to ``carrier_statuses.csv`` (the orders went on without it)."""
    table = load_status_table()
    kept = [StoredEvent(a["event_key"], a["carrier"], a["order_id"], a["status_code"], utc(a["occurred_at"]))
            for a in anomalies]  # fmt: skip
    unknown = Counter(f"{e.carrier}:{e.status_code}" for e in kept if lookup(table, e) is None)
    return dict(sorted(unknown.items()))


def tracking_summary(store: HubStore) -> dict[str, Any]:
    """Per carrier: ordered results by delivery state and overdue; the anomalies (the unknown status
    codes among them by code); the event count."""
    orders = PostalOrders(store)
    anomalies = orders.anomalies()
    return {
        "delivery": orders.delivery_counts(),
        "events": orders.count_events(),
        "anomalies": len(anomalies),
        "anomaly_reasons": sorted({a["reason"] for a in anomalies}),
        "unknown_statuses": unknown_statuses(anomalies),
    }


__all__ = ["TrackReport", "track_carrier", "tracking_summary", "unknown_statuses"]
