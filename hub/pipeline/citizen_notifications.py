"""Dossier events -> the citizen's iHaNoi app: plan what to tell whom, push it in batches, settle.

``plan`` reads what changed since it last looked -- current dossier versions (the city's and the
ministries' pull-backs, VBDLIS's callbacks folded in) and result parcels whose delivery state was
derived again -- turns them into events (:mod:`mappings.ihanoi`) and queues one outbox message per
(dossier, event) whose applicant the app can reach. The key is that pair, so a re-run, an older
version staged again or the same event read from two sources queues nothing twice; the same key
travels as the request's ``Idempotency-Key``, so a resend after a lost reply is answered
"duplicate" and the citizen is told once.

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
_BEYOND_CREATED = frozenset(PostalState) - {PostalState.CREATED, PostalState.CANCELLED}


@dataclass
class PlanReport:
    dossiers_considered: int = 0
    parcels_considered: int = 0
    events: Counter[str] = field(default_factory=Counter)
    no_recipient: int = 0  # events of applicants the app cannot be told about (no personal number)
    queued: int = 0
    batches: list[str] = field(default_factory=list)


def notification_key(dossier_no: str, event_code: str) -> str:
    """One key per (dossier, event): the outbox's and the request's ``Idempotency-Key``."""
    return idempotency_key(PARTNER, OPERATION, dossier_no, event_code)


def _messages(events: Iterable[DossierEvent], recipient: str | None, report: PlanReport) -> list[OutboxMessage]:
    messages = []
    for event in events:
        report.events[event.code.value] += 1
        if recipient is None:
            report.no_recipient += 1
            continue
        key = notification_key(event.dossier_no, event.code.value)
        body = notification(key, recipient, event)
        messages.append(OutboxMessage(key, PARTNER, OPERATION, event.dossier_no, content_hash(body), body))
    return messages


def _handed_over_at(events: Sequence[StoredEvent]) -> datetime | None:
    """When the carrier first reported the parcel past "created": the moment it took it."""
    table = load_status_table()
    rows = [(e.occurred_at, lookup(table, e)) for e in events]
    moments = [moment for moment, row in rows if row is not None and PostalState(row.state) in _BEYOND_CREATED]
    return min(moments, default=None)


def plan(store: HubStore, *, page_size: int = 1000, batch_size: int = 200) -> PlanReport:
    """Queue the notifications of every event since the last plan; return the batches due now."""
    reads = CitizenNotificationReads(store, PARTNER)
    report = PlanReport()
    as_of, since = store.db.now(), reads.watermark()  # taken before reading: a change meanwhile is read next time
    for page in reads.dossier_changes(since, page_size):
        report.dossiers_considered += len(page)
        messages = []
        for change in page:
            events = dossier_events(
                change.dossier_no, change.status, change.received_at, change.finished_at, change.updated_at
            )
            messages += _messages(events, recipient_of(change.payload), report)
        report.queued += store.outbox.enqueue(messages)
    for parcels in reads.parcel_changes(since, page_size):
        report.parcels_considered += len(parcels)
        report.queued += store.outbox.enqueue(_parcel_messages(parcels, reads.parcel_events(parcels), report))
    reads.advance(as_of)
    report.batches = store.outbox.assign_batches(PARTNER, OPERATION, batch_size)
    return report


def _parcel_messages(
    parcels: Sequence[ParcelChange], events: dict[tuple[str, str], list[StoredEvent]], report: PlanReport
) -> list[OutboxMessage]:
    messages = []
    for parcel in parcels:
        handed_over = _handed_over_at(events[(parcel.carrier, parcel.order_id)])
        found = parcel_events(parcel.dossier_no, parcel.state, parcel.state_at, handed_over)
        messages += _messages(found, recipient_of(parcel.payload), report)
    return messages


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
    """Notifications by outcome for events on the (Hanoi) days ``first..last``."""
    return CitizenNotificationReads(store, PARTNER).counts(first, last)
