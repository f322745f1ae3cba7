"""What the citizen-notification planner reads from the store, and the counts the reconciliation reports.

Notifications themselves are outbox messages (partner ``ihanoi``): queued, batched, claimed and
settled as the portal sync's are, keyed per event occurrence so nothing is queued twice. This
module adds only the reads that find the events -- dossier versions and parcels that changed
since the planner last looked (its position is a watermark, like an extraction's) -- the closing
of the records of events too old to tell, and counts notifications by outcome for a period of
event days.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from hub.store import schema as t
from hub.store.database import utc
from hub.store.facts import dossier_facts
from hub.store.postal import StoredEvent
from hub.store.records import OutboxState
from hub.store.staging import current_version_of
from hub.store.store import HubStore
from mappings.postal.dispatch import Dispatch

WATERMARK = "notify:ihanoi"  # the planner's position in the watermark table (beside the extractions')
TOO_OLD_REASON = "not sent: the event was older than the notification age limit when first seen"
# Outbox states by what they mean for the citizen: told, still to be told (queued, in flight, waiting
# to retry), not told (the app refused it, or the retries ran out). ``superseded`` is named by none:
# no notification is ever superseded, so one that were would break the identity, visibly.
_SENT = (OutboxState.ACKNOWLEDGED.value,)
_PENDING = (OutboxState.PENDING.value, OutboxState.SENT.value, OutboxState.FAILED.value)
_REFUSED = (OutboxState.DEAD.value,)


@dataclass(frozen=True)
class DossierChange:
    """A current dossier version staged since the planner last looked, with the facts it is read by."""

    source: str
    dossier_no: str
    status: int | None
    received_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime | None
    payload: dict[str, Any]

    @classmethod
    def of(
        cls, source: str, dossier_no: str, status: Any, received: Any, finished: Any, updated: Any, payload: Any
    ) -> DossierChange:
        return cls(source, dossier_no, status, utc(received), utc(finished), utc(updated), payload)


@dataclass(frozen=True)
class ParcelChange:
    """A result parcel whose delivery state was derived since the planner last looked."""

    dossier_no: str
    carrier: str
    order_id: str
    state: str | None
    state_at: datetime | None
    payload: dict[str, Any]

    @classmethod
    def of(cls, dossier_no: str, carrier: str, order_id: str, state: Any, state_at: Any, payload: Any) -> ParcelChange:
        return cls(dossier_no, carrier, order_id, state, utc(state_at), payload)


@dataclass(frozen=True)
class NotificationCounts:
    """Notifications of events on the period's days, by outcome: ``planned = sent + pending + refused +
    too_old`` holds when every message is in one of the outcomes (a state no outcome names breaks it,
    visibly). ``too_old`` counts the events first seen after they stopped being news: recorded under
    their key, never sent."""

    planned: int
    sent: int
    pending: int
    refused: int
    too_old: int = 0

    @classmethod
    def of(cls, by_state: Mapping[str, int], too_old: int = 0) -> NotificationCounts:
        """From the notifications' counts by outbox state and the too-old records' count; ``planned``
        counts every state, named by an outcome or not."""
        return cls(
            planned=sum(by_state.values()) + too_old,
            sent=sum(by_state.get(s, 0) for s in _SENT),
            pending=sum(by_state.get(s, 0) for s in _PENDING),
            refused=sum(by_state.get(s, 0) for s in _REFUSED),
            too_old=too_old,
        )

    @property
    def holds(self) -> bool:
        return self.planned == self.sent + self.pending + self.refused + self.too_old


class CitizenNotificationReads:
    """The planner's reads and the period counts, on the hub store's database."""

    def __init__(self, store: HubStore, partner: str) -> None:
        self.db = store.db
        self.staging = store.staging
        self.partner = partner

    def watermark(self) -> datetime | None:
        return self.staging.watermark(WATERMARK)

    def advance(self, as_of: datetime) -> None:
        self.staging.advance_watermark(WATERMARK, as_of)

    def dossier_changes(self, since: datetime | None, page_size: int) -> Iterator[list[DossierChange]]:
        """Current versions staged after ``since`` (all when None) with their facts, source by source,
        in pages by dossier number (a number may exist under two sources)."""
        current, staged, facts = t.dossier_current, t.staged_dossier, dossier_facts
        with self.db.engine.connect() as conn:
            sources = [s for (s,) in conn.execute(sa.select(current.c.source).distinct().order_by(current.c.source))]
        for source in sources:
            query = (
                sa.select(
                    current.c.source,
                    current.c.dossier_no,
                    facts.c.status,
                    facts.c.received_at,
                    facts.c.finished_at,
                    current.c.source_updated_at,
                    staged.c.payload,
                )
                .join(facts, current_version_of(facts, current))
                .join(staged, current_version_of(staged, current))
                .where(current.c.source == source)
            )
            if since is not None:
                query = query.where(current.c.staged_at > since)
            yield from self.db.keyset_pages(query, current.c.dossier_no, page_size, DossierChange.of)

    def parcel_changes(self, since: datetime | None, page_size: int) -> Iterator[list[ParcelChange]]:
        """Ordered result parcels updated after ``since``, with the staged version they carry (whose
        applicant is the recipient)."""
        order, staged = t.postal_order, t.staged_dossier
        query = (
            sa.select(
                order.c.dossier_no, order.c.carrier, order.c.order_id, order.c.state, order.c.state_at, staged.c.payload
            )
            .join(staged, current_version_of(staged, order))
            .where(order.c.dispatch == Dispatch.ORDERED.value, order.c.state.is_not(None))
        )
        if since is not None:
            query = query.where(order.c.updated_at > since)
        return self.db.keyset_pages(query, order.c.dossier_no, page_size, ParcelChange.of)

    def parcel_events(self, parcels: list[ParcelChange]) -> dict[tuple[str, str], list[StoredEvent]]:
        """Every kept carrier event of the parcels, by (carrier, order id)."""
        event = t.postal_event
        found: dict[tuple[str, str], list[StoredEvent]] = {(p.carrier, p.order_id): [] for p in parcels}
        columns = (event.c.event_key, event.c.carrier, event.c.order_id, event.c.status_code, event.c.occurred_at)
        keys = sa.tuple_(event.c.carrier, event.c.order_id).in_(list(found))
        if found:
            with self.db.engine.connect() as conn:
                for row in conn.execute(sa.select(*columns).where(keys)):
                    found[(row.carrier, row.order_id)].append(StoredEvent(*row[:4], utc(row.occurred_at)))  # type: ignore[arg-type]
        return found

    def settle_too_old(self, operation: str) -> int:
        """Close the too-old records just queued (operation ``operation``, never batched): dead with
        the reason, so no queue, alert or backlog ever counts them as waiting."""
        ob = t.outbox
        query = (
            sa.update(ob)
            .where(ob.c.partner == self.partner, ob.c.operation == operation, ob.c.state == OutboxState.PENDING.value)
            .values(state=OutboxState.DEAD.value, last_error=TOO_OLD_REASON, updated_at=self.db.now())
        )
        with self.db.engine.begin() as conn:
            return conn.execute(query).rowcount or 0

    def counts(self, first: date, last: date, operation: str, too_old_operation: str) -> NotificationCounts:
        """Notifications (``operation``) and too-old records (``too_old_operation``) of events whose
        (Hanoi) day is in ``first..last``, by outcome."""
        ob = t.outbox
        day = sa.func.substr(ob.c.payload["event_time"].as_string(), 1, 10)
        query = (
            sa.select(ob.c.operation, ob.c.state, sa.func.count())
            .where(ob.c.partner == self.partner, day >= first.isoformat(), day <= last.isoformat())
            .where(ob.c.operation.in_([operation, too_old_operation]))
            .group_by(ob.c.operation, ob.c.state)
        )
        with self.db.engine.connect() as conn:
            rows = [(op, state, int(n)) for op, state, n in conn.execute(query)]
        too_old = sum(n for op, _, n in rows if op == too_old_operation)
        return NotificationCounts.of({state: n for op, state, n in rows if op == operation}, too_old)
