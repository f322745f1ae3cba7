"""Dossier results sent home by post: the orders, every status the carriers reported, the anomalies.

``postal_order`` holds one row per dossier result, keyed by its reference (``<dossier_no>/KQ``, also
the carrier's order reference). It is the outbox and the disposition in one, like
``ministry_push``: creating an order is one idempotent call per result. ``dispatch`` says where
the result stands:

- ``pending`` -- to order (again), not before ``next_attempt_at``; ``sent`` -- claimed by a batch
  whose outcome is not recorded yet (due again after a lease: the carrier answers a repeated
  reference with the existing order, so a resend after a crash is harmless);
- ``ordered`` -- the carrier holds the order: ``order_id``, the S10 ``item_code``, ``placed_at``,
  the delivery ``deadline``; ``state``..``overdue`` are the delivery as the hub last derived it;
- ``quarantined`` -- the result cannot be ordered as it is (no or invalid address, the carrier
  refused it, retries exhausted): ``reason`` names the rule; a new version of the city record is
  considered again.

So ``results ready = ordered + pending (incl. sent) + quarantined`` is a query.

``postal_event`` keeps each reported status once (``event_key``), whether a webhook or polling
brought it, and whether or not the order is known yet (a webhook may beat the order's recording).
The delivery state is derived from these rows (``mappings.postal.states.fold``), never from the
last event received. ``postal_anomaly`` keeps the events the state machine refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from hub.store import schema as t
from hub.store.database import chunks, utc
from hub.store.facts import dossier_facts
from hub.store.staging import current_version_of
from hub.store.store import HubStore
from hub.store.work_queue import LEASE, QueueSpec, WorkQueue
from mappings.postal.dispatch import READY_STATUSES, Dispatch, result_reference
from mappings.postal.states import Anomaly, Track

QUEUE = QueueSpec(
    table=t.postal_order,
    key=("reference",),
    state="dispatch",
    retrying=(Dispatch.PENDING.value,),
    claimed=Dispatch.SENT.value,
)


class ReportedEvent(Protocol):
    """A carrier's status report as the store keeps it (an adapter's ``CarrierEvent`` is one): the
    store declares what it reads instead of importing the adapter."""

    @property
    def event_key(self) -> str: ...
    @property
    def carrier(self) -> str: ...
    @property
    def order_id(self) -> str: ...
    @property
    def reference(self) -> str | None: ...
    @property
    def status_code(self) -> str: ...
    @property
    def status_name(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...


@dataclass(frozen=True)
class ReadyCandidate:
    """A staged dossier asking for postal return, with no order planned for this version."""

    dossier_no: str
    content_hash: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class DispatchDecision:
    """Planning's verdict on a ready result: pending (with its carrier) or quarantined."""

    dossier_no: str
    content_hash: str
    carrier: str | None
    dispatch: Dispatch
    reason: str | None = None


@dataclass(frozen=True)
class ClaimedOrder:
    """A result taken for ordering, with the staged city record of the planned version."""

    reference: str
    dossier_no: str
    content_hash: str
    carrier: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class OrderOutcome:
    """What one create-order call came to. ``tried``: the carrier was called (counts as an attempt)."""

    reference: str
    dispatch: Dispatch
    reason: str | None = None
    next_attempt_at: datetime | None = None
    order_id: str | None = None
    item_code: str | None = None
    placed_at: datetime | None = None
    deadline: datetime | None = None
    tried: bool = True


@dataclass(frozen=True)
class StoredEvent:
    """A kept carrier event (satisfies ``mappings.postal.states.StatusEvent``)."""

    event_key: str
    carrier: str
    order_id: str
    status_code: str
    occurred_at: datetime


@dataclass(frozen=True)
class TrackedOrder:
    """An ordered result whose delivery state is (re)derived; only non-final ones are polled."""

    dossier_no: str
    reference: str
    order_id: str
    deadline: datetime | None
    final: bool

    @classmethod
    def of(cls, dossier_no: str, reference: str, order_id: str, deadline: datetime | None, final: bool) -> TrackedOrder:
        return cls(dossier_no, reference, order_id, utc(deadline), bool(final))


class PostalOrders:
    """The postal tables on the hub store's database; orders move through the shared work queue."""

    def __init__(self, store: HubStore) -> None:
        self.db = store.db
        self.queue = WorkQueue(self.db, QUEUE)

    # -- planning --------------------------------------------------------------------------

    def iter_candidates(self, source: str, page_size: int) -> Iterator[list[ReadyCandidate]]:
        """Current staged dossiers whose staging facts say "return by post" with a ready status,
        without an order row -- or with only a pending or quarantined one for an older
        version (a corrected address is considered again). Keyset-paged, so the caller records
        decisions between pages. The facts are written with every staged version (``hub.store.facts``),
        so no payload is parsed to find the few postal results among a day's dossiers."""
        cur, staged, order, facts = t.dossier_current, t.staged_dossier, t.postal_order, dossier_facts
        replanned = [Dispatch.QUARANTINED.value, Dispatch.PENDING.value]
        query = (
            sa.select(cur.c.dossier_no, cur.c.content_hash, staged.c.payload)
            .join(staged, current_version_of(staged, cur))
            .join(facts, current_version_of(facts, cur))
            .outerjoin(order, sa.and_(order.c.source == cur.c.source, order.c.dossier_no == cur.c.dossier_no))
            .where(
                cur.c.source == source,
                facts.c.return_by_post.is_(True),
                facts.c.status.in_(READY_STATUSES),
                sa.or_(
                    order.c.reference.is_(None),
                    sa.and_(order.c.dispatch.in_(replanned), order.c.content_hash != cur.c.content_hash),
                ),
            )
        )
        return self.db.keyset_pages(query, cur.c.dossier_no, page_size, ReadyCandidate)

    def record_decisions(self, source: str, decisions: Sequence[DispatchDecision]) -> None:
        """Upsert one page of planning decisions (a re-planned result starts its attempts afresh)."""
        if not decisions:
            return
        now = self.db.now()
        upsert = self.db.insert(t.postal_order)
        kept = ("content_hash", "carrier", "dispatch", "reason", "attempts", "next_attempt_at", "updated_at")
        statement = upsert.on_conflict_do_update(
            index_elements=["reference"], set_={c: upsert.excluded[c] for c in kept}
        )
        rows = [
            {
                "reference": result_reference(d.dossier_no),
                "source": source,
                "dossier_no": d.dossier_no,
                "content_hash": d.content_hash,
                "carrier": d.carrier,
                "dispatch": d.dispatch.value,
                "reason": d.reason,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for d in decisions
        ]
        with self.db.engine.begin() as conn:
            for chunk in chunks(rows):
                conn.execute(statement, list(chunk))

    def assign_batches(self, batch_size: int, *, lease: timedelta = LEASE) -> dict[str, list[str]]:
        """Batch the results due for ordering, per carrier: pending and due, or sent so long ago the
        sender died. Returns ``{carrier: [batch ids]}``."""
        return self.queue.assign_per("carrier", batch_size, "postal", lease=lease)

    def claim_batch(self, batch_id: str) -> list[ClaimedOrder]:
        """Take a batch's still-open results, with the staged record of the planned version; mark them sent."""
        order, staged = t.postal_order, t.staged_dossier
        query = sa.select(
            order.c.reference,
            order.c.dossier_no,
            order.c.content_hash,
            order.c.carrier,
            staged.c.payload,
            order.c.attempts,
        ).join(staged, current_version_of(staged, order))  # the version planned
        return [ClaimedOrder(*row) for row in self.queue.claim(batch_id, query)]

    def settle(self, outcomes: Sequence[OrderOutcome]) -> None:
        """Record a batch's create-order outcomes in one statement; an ordered result starts ``created``."""
        order = t.postal_order
        ordered = sa.bindparam("b_state", type_=sa.String) == Dispatch.ORDERED.value
        params = [
            {
                "k_reference": o.reference,
                "b_state": o.dispatch.value,
                "b_tried": int(o.tried),
                "b_reason": o.reason,
                "b_next": utc(o.next_attempt_at),
                "b_order_id": o.order_id,
                "b_item_code": o.item_code,
                "b_placed_at": utc(o.placed_at),
                "b_deadline": utc(o.deadline),
            }
            for o in outcomes
        ]
        self.queue.settle(
            params,
            reason=sa.bindparam("b_reason"),
            next_attempt_at=sa.bindparam("b_next"),
            order_id=sa.bindparam("b_order_id"),
            item_code=sa.bindparam("b_item_code"),
            placed_at=sa.bindparam("b_placed_at"),
            deadline=sa.bindparam("b_deadline"),
            state=sa.case((ordered, sa.func.coalesce(order.c.state, "created")), else_=order.c.state),
        )

    # -- events ----------------------------------------------------------------------------

    def add_events(self, events: Sequence[ReportedEvent], via: str) -> int:
        """Keep carrier events idempotently (insert or ignore by ``event_key``); returns how many were new."""
        if not events:
            return 0
        with self.db.engine.begin() as conn:
            return self._insert_events(conn, events, via)

    def add_feed_page(self, carrier: str, events: Sequence[ReportedEvent], last_id: str) -> int:
        """Keep one page of a carrier's feed and move its cursor to ``last_id`` in the same
        transaction: the cursor never passes an event that is not stored (a crash re-reads the page,
        and the events' keys make the re-read harmless). Returns how many events were new."""
        cursor = t.postal_feed_cursor
        upsert = self.db.insert(cursor).values(carrier=carrier, last_id=last_id, updated_at=self.db.now())
        with self.db.engine.begin() as conn:
            added = self._insert_events(conn, events, "feed") if events else 0
            conn.execute(upsert.on_conflict_do_update(index_elements=["carrier"], set_={
                "last_id": upsert.excluded.last_id, "updated_at": upsert.excluded.updated_at}))  # fmt: skip
        return added

    def feed_cursor(self, carrier: str) -> str | None:
        """The ``lastId`` after the last committed page of ``carrier``'s feed (None: never read)."""
        cursor = t.postal_feed_cursor
        with self.db.engine.connect() as conn:
            return conn.execute(sa.select(cursor.c.last_id).where(cursor.c.carrier == carrier)).scalar_one_or_none()

    def _insert_events(self, conn: Any, events: Sequence[ReportedEvent], via: str) -> int:
        now = self.db.now()
        rows = {
            e.event_key: {
                "event_key": e.event_key,
                "carrier": e.carrier,
                "order_id": e.order_id,
                "reference": e.reference,
                "status_code": e.status_code,
                "status_name": e.status_name,
                "occurred_at": utc(e.occurred_at),
                "via": via,
                "received_at": now,
            }
            for e in events
        }
        return self.db.insert_new(t.postal_event, "event_key", list(rows.values()), conn)

    def events_of(self, carrier: str, order_ids: Sequence[str]) -> dict[str, list[StoredEvent]]:
        """Every kept event of the given orders (each order present, possibly with none)."""
        event = t.postal_event
        found: dict[str, list[StoredEvent]] = {order_id: [] for order_id in order_ids}
        columns = (event.c.event_key, event.c.carrier, event.c.order_id, event.c.status_code, event.c.occurred_at)
        with self.db.engine.connect() as conn:
            for chunk in chunks(list(order_ids)):
                query = sa.select(*columns).where(event.c.carrier == carrier, event.c.order_id.in_(list(chunk)))
                for row in conn.execute(query):
                    found[row.order_id].append(StoredEvent(*row[:4], utc(row.occurred_at)))  # type: ignore[arg-type]
        return found

    def count_events(self) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t.postal_event)).scalar_one())

    # -- tracking --------------------------------------------------------------------------

    def iter_tracked(self, carrier: str, page_size: int) -> Iterator[list[TrackedOrder]]:
        """Ordered results of ``carrier`` whose state may still change or is stale: not yet final, or
        with events received since it was last derived (a late callback for a delivered parcel must
        still be seen, and flagged). Keyset pages by dossier number."""
        order, event = t.postal_order, t.postal_event
        fresh_events = (
            sa.select(event.c.event_key)
            .where(
                event.c.carrier == order.c.carrier,
                event.c.order_id == order.c.order_id,
                sa.or_(order.c.tracked_at.is_(None), event.c.received_at > order.c.tracked_at),
            )
            .exists()
        )
        query = sa.select(
            order.c.dossier_no, order.c.reference, order.c.order_id, order.c.deadline, order.c.final
        ).where(
            order.c.carrier == carrier,
            order.c.dispatch == Dispatch.ORDERED.value,
            sa.or_(order.c.final.is_(False), fresh_events),
        )
        return self.db.keyset_pages(query, order.c.dossier_no, page_size, TrackedOrder.of)

    def has_unfinished(self, carrier: str) -> bool:
        """Whether ``carrier`` holds an order of ours that has not reached a final state."""
        order = t.postal_order
        query = sa.select(order.c.reference).where(
            order.c.carrier == carrier, order.c.dispatch == Dispatch.ORDERED.value, order.c.final.is_(False)
        )
        with self.db.engine.connect() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def record_tracks(self, carrier: str, tracks: dict[str, tuple[Track, bool]], as_of: datetime) -> None:
        """Write derived states ``{order_id: (track, overdue)}`` and keep their anomalies (once each).

        ``as_of``: when the events they were derived from were read -- taken before reading, so an
        event arriving meanwhile is newer than ``tracked_at`` and gets the order derived again.
        """
        if not tracks:
            return
        order, now = t.postal_order, self.db.now()
        statement = (
            order.update()
            .where(order.c.carrier == carrier, order.c.order_id == sa.bindparam("b_order_id"))
            .values(
                state=sa.bindparam("b_state"),
                returning_to_sender=sa.bindparam("b_returning"),
                state_at=sa.bindparam("b_state_at"),
                status_code=sa.bindparam("b_status_code"),
                final=sa.bindparam("b_final"),
                overdue=sa.bindparam("b_overdue"),
                tracked_at=utc(as_of),
                updated_at=now,
            )
        )
        params = [
            {
                "b_order_id": order_id,
                "b_state": track.state.value,
                "b_returning": track.returning,
                "b_state_at": utc(track.state_at),
                "b_status_code": track.status_code,
                "b_final": track.final,
                "b_overdue": overdue,
            }
            for order_id, (track, overdue) in tracks.items()
        ]
        anomalies = [
            self._anomaly_row(carrier, order_id, anomaly, now)
            for order_id, (track, _) in tracks.items()
            for anomaly in track.anomalies
        ]
        keep = self.db.insert(t.postal_anomaly).on_conflict_do_nothing(index_elements=["event_key"])
        with self.db.engine.begin() as conn:
            conn.execute(statement, params)
            for chunk in chunks(anomalies):
                conn.execute(keep, list(chunk))

    @staticmethod
    def _anomaly_row(carrier: str, order_id: str, anomaly: Anomaly, now: datetime) -> dict[str, Any]:
        return {
            "event_key": anomaly.event_key,
            "carrier": carrier,
            "order_id": order_id,
            "status_code": anomaly.status_code,
            "occurred_at": utc(anomaly.occurred_at),
            "from_state": anomaly.from_state.value,
            "reason": anomaly.reason,
            "detected_at": now,
        }

    # -- reporting -------------------------------------------------------------------------

    def dispatch_counts(self) -> dict[str, int]:
        """Results per dispatch state (every state present, zero when empty)."""
        order = t.postal_order
        query = sa.select(order.c.dispatch, sa.func.count()).group_by(order.c.dispatch)
        with self.db.engine.connect() as conn:
            counts = dict(conn.execute(query).all())
        return {d.value: int(counts.get(d.value, 0)) for d in Dispatch}

    def delivery_counts(self) -> dict[str, dict[str, Any]]:
        """Ordered results per carrier: ``orders``, their count ``by_state`` (which adds up to
        ``orders``), and ``overdue`` -- a flag beside the state (a parcel is overdue *and* in
        transit, or delivered late), so never added to the states."""
        order = t.postal_order
        query = (
            sa.select(order.c.carrier, order.c.state, order.c.overdue, sa.func.count())
            .where(order.c.dispatch == Dispatch.ORDERED.value)
            .group_by(order.c.carrier, order.c.state, order.c.overdue)
        )
        counts: dict[str, dict[str, Any]] = {}
        with self.db.engine.connect() as conn:
            for carrier, state, overdue, n in conn.execute(query):
                per_carrier = counts.setdefault(carrier, {"orders": 0, "by_state": {}, "overdue": 0})
                per_carrier["orders"] += int(n)
                per_carrier["by_state"][state] = per_carrier["by_state"].get(state, 0) + int(n)
                per_carrier["overdue"] += int(n) if overdue else 0
        return counts

    def anomalies(self) -> list[dict[str, Any]]:
        """Every refused event, oldest first (for officers and reports; no personal data in them)."""
        anomaly = t.postal_anomaly
        with self.db.engine.connect() as conn:
            rows = conn.execute(sa.select(anomaly).order_by(anomaly.c.occurred_at, anomaly.c.event_key))
            return [dict(row._mapping) for row in rows]

    def get(self, reference: str) -> dict[str, Any] | None:
        """One result's row (for officers and tests)."""
        order = t.postal_order
        with self.db.engine.connect() as conn:
            row = conn.execute(sa.select(order).where(order.c.reference == reference)).one_or_none()
        return None if row is None else dict(row._mapping)


__all__ = [
    "ClaimedOrder",
    "Dispatch",
    "DispatchDecision",
    "OrderOutcome",
    "PostalOrders",
    "ReadyCandidate",
    "ReportedEvent",
    "StoredEvent",
    "TrackedOrder",
]
