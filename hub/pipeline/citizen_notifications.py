"""Dossier events -> the citizen's iHaNoi app: plan what to tell whom, push it in batches, settle.

``plan`` reads what changed since it last looked -- current dossier versions (the city's and the
ministries' pull-backs, VBDLIS's callbacks folded in) and result parcels whose delivery state was
derived again -- turns them into events (:mod:`mappings.ihanoi`) and queues one outbox message per
event occurrence whose applicant the app can reach. The key is the event's identity -- (dossier,
event), and for an event a dossier can have again (a new request for documents) its moment too --
so a re-run, an older version staged again or the same event read from two sources queues nothing
twice, while a genuinely new request is told once; the same key travels as the request's
``Idempotency-Key``, so a resend after a lost reply is answered "duplicate" and the citizen is told once.

An event that happened before ``not_before`` (the job passes the run's day less
``HUB_NOTIFY_MAX_AGE_DAYS``) is not news any more: a first run over an old store must not tell
citizens about last year. It is kept under its key as a "too old" record (operation
:data:`TOO_OLD`, settled at once, never sent), so it is counted -- planned = sent + pending +
refused + too old -- and never told later either.

``deliver`` sends one batch through the portal sync's machinery: claimed from the outbox, every
exchange in the message log before the next call, an outage settled "retry later" with the
redelivery policy's backoff (delayed, never dropped), a refusal of one notification settled dead
with the app's reason (counted as refused, never retried), anything else turning the task red.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from adapters.errors import AdapterError, AuthenticationError, ContractViolation, RetryableError, UntrustedReply
from adapters.ihanoi.client import PARTNER, IHaNoiClient
from hub.pipeline.redelivery import DeliveryReport, RedeliveryPolicy, raise_unless_retryable
from hub.store import ClaimedMessage, HubStore, OutboxMessage, OutboxState, Settlement
from hub.store.notifications import CitizenNotificationReads, NotificationCounts, ParcelChange
from hub.store.postal import StoredEvent
from mappings.ihanoi import DossierEvent, dossier_events, notification, parcel_events, recipient_of
from mappings.postal.states import PostalState, load_status_table, lookup
from signing.digests import content_hash, idempotency_key

OPERATION = "notify"  # the outbox operation of a notification
TOO_OLD = "notify_too_old"  # the record of an event too old to tell: never batched, settled at once
_BEYOND_CREATED = frozenset(PostalState) - {PostalState.CREATED, PostalState.CANCELLED}


@dataclass
class PlanReport:
    dossiers_considered: int = 0
    parcels_considered: int = 0
    events: Counter[str] = field(default_factory=Counter)
    no_recipient: int = 0  # events of applicants the app cannot be told about (no personal number)
    queued: int = 0
    too_old: int = 0  # events first seen after they stopped being news: recorded, not sent
    batches: list[str] = field(default_factory=list)


def notification_key(event: DossierEvent) -> str:
    """One key per event occurrence (:attr:`DossierEvent.identity`): the outbox's and the request's
    ``Idempotency-Key``."""
    return idempotency_key(PARTNER, OPERATION, *event.identity)


@dataclass
class _Planned:
    """The messages one page of changes gives: to send, and the records of events too old to send."""

    to_send: list[OutboxMessage] = field(default_factory=list)
    too_old: list[OutboxMessage] = field(default_factory=list)

    def add(
        self, events: Iterable[DossierEvent], recipient: str | None, not_before: datetime | None, report: PlanReport
    ) -> None:
        for event in events:
            report.events[event.code.value] += 1
            if recipient is None:  # the app has no way to reach this applicant
                report.no_recipient += 1
                continue
            key = notification_key(event)
            if not_before is not None and event.occurred_at < not_before:
                body = notification(key, "", event)  # never sent: the recipient's number is not kept
                self.too_old.append(OutboxMessage(key, PARTNER, TOO_OLD, event.dossier_no, content_hash(body), body))
            else:
                body = notification(key, recipient, event)
                self.to_send.append(OutboxMessage(key, PARTNER, OPERATION, event.dossier_no, content_hash(body), body))


def _handed_over_at(events: Sequence[StoredEvent]) -> datetime | None:
    """When the carrier first reported the parcel past "created": the moment it took it."""
    table = load_status_table()
    rows = [(e.occurred_at, lookup(table, e)) for e in events]
    moments = [moment for moment, row in rows if row is not None and PostalState(row.state) in _BEYOND_CREATED]
    return min(moments, default=None)


def plan(
    store: HubStore, *, not_before: datetime | None = None, page_size: int = 1000, batch_size: int = 200
) -> PlanReport:
    """Queue the notifications of every event since the last plan (an event before ``not_before``
    recorded as too old instead); return the batches due now."""
    reads = CitizenNotificationReads(store, PARTNER)
    report = PlanReport()
    as_of, since = store.db.now(), reads.watermark()  # taken before reading: a change meanwhile is read next time
    for page in reads.dossier_changes(since, page_size):
        report.dossiers_considered += len(page)
        planned = _Planned()
        for change in page:
            events = dossier_events(
                change.dossier_no, change.status, change.received_at, change.finished_at, change.updated_at
            )
            planned.add(events, recipient_of(change.payload), not_before, report)
        _enqueue(store, reads, planned, report)
    for parcels in reads.parcel_changes(since, page_size):
        report.parcels_considered += len(parcels)
        _enqueue(store, reads, _parcel_messages(parcels, reads.parcel_events(parcels), report, not_before), report)
    reads.advance(as_of)
    report.batches = store.outbox.assign_batches(PARTNER, OPERATION, batch_size)
    return report


def _enqueue(store: HubStore, reads: CitizenNotificationReads, planned: _Planned, report: PlanReport) -> None:
    """Queue what is to be sent; record (insert-or-ignore on the same keys) what is too old, settled."""
    report.queued += store.outbox.enqueue(planned.to_send)
    if planned.too_old:
        report.too_old += store.outbox.enqueue(planned.too_old)
        reads.settle_too_old(TOO_OLD)


def _parcel_messages(
    parcels: Sequence[ParcelChange],
    events: dict[tuple[str, str], list[StoredEvent]],
    report: PlanReport,
    not_before: datetime | None,
) -> _Planned:
    planned = _Planned()
    for parcel in parcels:
        handed_over = _handed_over_at(events[(parcel.carrier, parcel.order_id)])
        found = parcel_events(parcel.dossier_no, parcel.state, parcel.state_at, handed_over)
        planned.add(found, recipient_of(parcel.payload), not_before, report)
    return planned


def deliver(store: HubStore, client: IHaNoiClient, batch_id: str, *, policy: RedeliveryPolicy) -> DeliveryReport:
    """Push one batch, one call per notification, and settle every message of it in one write.

    Once the app is down (a retryable error) the rest of the batch is not tried: it waits with the
    policy's backoff like the failed one. A refused key or an unreadable reply keeps the batch's
    messages pending and turns the task red (a person must look); the app refusing one notification
    settles that one as refused, with the app's reason.
    """
    claimed = store.outbox.claim_batch(batch_id)
    report = DeliveryReport(batch_id, messages=len(claimed), records=len(claimed))
    settlements: list[Settlement] = []
    failure: AdapterError | None = None
    now = store.db.now()

    def retry_later(message: ClaimedMessage, error: AdapterError) -> None:
        settlement = policy.failed(message, str(error), now)
        settlements.append(settlement)
        report.outcomes["given_up" if settlement.state is OutboxState.DEAD else "retry_later"] += 1

    for message in claimed:
        if failure is not None:
            retry_later(message, failure)
            continue
        try:
            reply = client.notify(message.payload)
        except (RetryableError, AuthenticationError, ContractViolation, UntrustedReply) as exc:
            failure = exc
            retry_later(message, exc)
        except AdapterError as exc:  # the app refuses this notification: a person reads why, no retry
            settlements.append(Settlement(message.id, OutboxState.DEAD, error=exc.detail))
            report.outcomes["refused"] += 1
        else:
            settlements.append(Settlement(message.id, OutboxState.ACKNOWLEDGED))
            report.outcomes[reply.status] += 1
    store.outbox.settle(PARTNER, settlements, acks_deliver_dossier=False)
    raise_unless_retryable(failure)
    return report


def period_counts(store: HubStore, first: date, last: date) -> NotificationCounts:
    """Notifications by outcome (too old among them) for events on the (Hanoi) days ``first..last``."""
    return CitizenNotificationReads(store, PARTNER).counts(first, last, OPERATION, TOO_OLD)
