"""Dossier results home by post: plan one order per ready result, place it with the carrier,
keep the order id and S10 item code. Airflow-free; ``hub.jobs_postal`` calls it per DAG task.

Planning reads the staged city dossiers the staging facts mark for postal return with status 9
(processed) or 10 (result returned -- for a postal return, released for the hand-over to the post,
which this order is), without an order row for their current version. Each one becomes:

- ``pending`` with its carrier (``mappings/postal/dispatch_desks.csv``: the handling agency's desk
  and contracted carrier, else the city's service centre and VNPost), or
- ``quarantined`` with the rule it broke -- no address, an incomplete one, a bad phone number, a
  commune that is not valid on the dispatch day (the July 2025 reform) -- also listed in the
  shared quarantine under the source ``postal`` so officers see it with everything else. A new
  version of the city record (a corrected address) is planned again.

Placing: one ``create_order`` per result, with ``<dossier_no>/KQ`` as the carrier's order
reference, so a resend after a crash or a re-run gets the existing order back, never a second
parcel. Outcomes, as for ministry pushes: an outage (``RetryableError``) leaves this result and the
rest of the batch pending with the redelivery policy's retry time and the task succeeds; a refusal
of one result (the carrier rejects the address, or says the hub's request broke its contract)
quarantines that result and the batch goes on; anything systemic (refused credentials, a reply
whose S10 item code fails its check digit, an unreadable reply) leaves the untouched results
pending and turns the task red. Retries exhausted: quarantined, still counted.

So ``results ready = ordered + pending + quarantined`` holds at every moment.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from adapters.errors import (
    AdapterError,
    AuthenticationError,
    ContractViolation,
    PermanentError,
    RetryableError,
    UntrustedReply,
)
from adapters.postal.carrier import Carrier
from hub.pipeline.redelivery import RedeliveryPolicy, raise_unless_retryable
from hub.store import HubStore, QuarantineItem
from hub.store.postal import ClaimedOrder, Dispatch, DispatchDecision, OrderOutcome, PostalOrders
from mappings.city_system import to_canonical
from mappings.code_tables import CodeTables
from mappings.dossier import VN_TZ
from mappings.errors import MappingError
from mappings.postal.dispatch import desk_for, load_desks, order_request, receiver_of, result_ready
from mappings.postal.states import delivery_deadline

QUARANTINE_SOURCE = "postal"
DEFAULT_DELIVERY_DAYS = 3


@dataclass
class DispatchPlanReport:
    considered: int = 0
    not_ready: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    batches: dict[str, list[str]] = field(default_factory=dict)


def _quarantined(candidate: Any, carrier: str | None, error: MappingError) -> tuple[DispatchDecision, QuarantineItem]:
    reason = f"{error.rule}: {error.message}"
    return (
        DispatchDecision(candidate.dossier_no, candidate.content_hash, carrier, Dispatch.QUARANTINED, reason),
        QuarantineItem(QUARANTINE_SOURCE, candidate.dossier_no, error.rule, error.message, candidate.content_hash, {}),
    )


def plan_dispatch(
    store: HubStore,
    tables: CodeTables,
    *,
    source: str,
    on: date | None = None,
    page_size: int = 1000,
    batch_size: int = 100,
) -> DispatchPlanReport:
    """Decide for every ready result without an order (pending or quarantined), then batch what is due.

    ``on`` is the dispatch day the addresses are checked for (today in Hanoi by default). The
    quarantine keeps the rule and reason, not the record: it holds the receiver's address.
    """
    on = on or datetime.now(VN_TZ).date()
    orders, desks = PostalOrders(store), load_desks()
    report = DispatchPlanReport()
    for page in orders.iter_candidates(source, page_size):
        decisions: list[DispatchDecision] = []
        quarantine: list[QuarantineItem] = []
        for candidate in page:
            carrier = None  # known once the handling agency's desk is
            try:
                dossier = to_canonical(candidate.payload, tables)
                if not result_ready(dossier):
                    report.not_ready += 1
                    continue
                desk = desk_for(desks, dossier.handling_agency, on)
                carrier = desk.carrier
                receiver_of(dossier, tables, on)
            except MappingError as error:
                decision, item = _quarantined(candidate, carrier, error)
                decisions.append(decision)
                quarantine.append(item)
                report.rules[error.rule] += 1
                continue
            decisions.append(DispatchDecision(candidate.dossier_no, candidate.content_hash, carrier, Dispatch.PENDING))
        orders.record_decisions(source, decisions)
        store.quarantine(quarantine)
        store.resolve_quarantine(QUARANTINE_SOURCE, [d.dossier_no for d in decisions if d.dispatch is Dispatch.PENDING])
        report.considered += len(page)
        report.decisions.update(d.dispatch.value for d in decisions)
    report.batches = orders.assign_batches(batch_size)
    return report


@dataclass
class PlaceReport:
    batch_id: str
    results: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def _retry_later(
    policy: RedeliveryPolicy, claim: ClaimedOrder, error: str, now: datetime
) -> tuple[OrderOutcome, QuarantineItem | None]:
    """Pending with the shared redelivery backoff -- quarantined once it gives up (still counted)."""
    due = policy.next_attempt(claim.attempts, now)
    if due is None:
        return _refusal(claim, "delivery.retries_exhausted", error, tried=True)
    return OrderOutcome(claim.reference, Dispatch.PENDING, error, due), None


def _refusal(claim: ClaimedOrder, rule: str, message: str, *, tried: bool) -> tuple[OrderOutcome, QuarantineItem]:
    """A result that cannot be ordered as it is: quarantined here and in the shared quarantine."""
    return (
        OrderOutcome(claim.reference, Dispatch.QUARANTINED, f"{rule}: {message}", tried=tried),
        QuarantineItem(QUARANTINE_SOURCE, claim.dossier_no, rule, message, claim.content_hash, {}),
    )


def _refused(error: AdapterError) -> bool:
    """A refusal of this one result (its content), as opposed to a systemic failure."""
    if isinstance(error, ContractViolation):
        return error.side == "hub"
    return isinstance(error, PermanentError) and not isinstance(error, AuthenticationError | UntrustedReply)


def place_batch(
    store: HubStore,
    carrier: Carrier,
    batch_id: str,
    *,
    tables: CodeTables,
    policy: RedeliveryPolicy,
    delivery_days: int = DEFAULT_DELIVERY_DAYS,
    on: date | None = None,
) -> PlaceReport:
    """Place one batch's orders with ``carrier``, one idempotent call per result, and record every outcome."""
    on = on or datetime.now(VN_TZ).date()
    orders, desks = PostalOrders(store), load_desks()
    claimed = orders.claim_batch(batch_id)
    report = PlaceReport(batch_id, results=len(claimed))
    outcomes: list[OrderOutcome] = []
    quarantine: list[QuarantineItem] = []
    failure: AdapterError | None = None
    for position, claim in enumerate(claimed):
        try:
            dossier = to_canonical(claim.payload, tables)
            desk = desk_for(desks, dossier.handling_agency, on)
            placed = carrier.create_order(order_request(dossier, desk, receiver_of(dossier, tables, on)))
        except MappingError as error:  # the tables changed since planning (e.g. a desk's period ended)
            refusal = _refusal(claim, error.rule, error.message, tried=False)
        except RetryableError as error:
            now = store.now()
            for waiting in claimed[position:]:
                outcome, item = _retry_later(policy, waiting, str(error), now)
                outcomes.append(outcome)
                quarantine.extend([item] if item else [])
            failure = error
            break
        except AdapterError as error:
            if not _refused(error):
                failure = error
                break
            refusal = _refusal(claim, "postal.carrier_refused", error.detail, tried=True)
        else:
            refusal = None
            outcomes.append(
                OrderOutcome(
                    claim.reference,
                    Dispatch.ORDERED,
                    order_id=placed.order_id,
                    item_code=placed.item_code,
                    placed_at=placed.placed_at,
                    deadline=delivery_deadline(placed.placed_at, delivery_days),
                )
            )
        if refusal is not None:
            outcomes.append(refusal[0])
            quarantine.append(refusal[1])
    settled = {o.reference for o in outcomes}
    if failure is not None and not isinstance(failure, RetryableError):
        now = store.now()  # not the results' fault: due again at once, attempts unchanged
        outcomes.extend(
            OrderOutcome(c.reference, Dispatch.PENDING, str(failure), now, tried=False)
            for c in claimed
            if c.reference not in settled
        )
    orders.settle(outcomes)
    store.quarantine(quarantine)
    report.outcomes.update(o.dispatch.value for o in outcomes)
    raise_unless_retryable(failure)
    return report


def dispatch_summary(store: HubStore) -> dict[str, Any]:
    """Where every ready result stands, and whether ``ready = ordered + pending + quarantined``."""
    counts = PostalOrders(store).dispatch_counts()
    dispatch = {
        "ready": sum(counts.values()),
        "ordered": counts[Dispatch.ORDERED.value],
        "pending": counts[Dispatch.PENDING.value] + counts[Dispatch.SENT.value],
        "quarantined": counts[Dispatch.QUARANTINED.value],
    }
    return {
        "dispatch": dispatch,
        "identity": "ready = ordered + pending + quarantined",
        "identity_holds": dispatch["ready"] == dispatch["ordered"] + dispatch["pending"] + dispatch["quarantined"],
        "quarantine_by_rule": store.quarantine_counts_by_rule(QUARANTINE_SOURCE),
    }


def as_dict(report: DispatchPlanReport | PlaceReport) -> dict[str, Any]:
    """A report as an XCom-sized dict (counters as plain dicts)."""
    return {k: dict(v) if isinstance(v, Counter) else v for k, v in vars(report).items()}


__all__ = [
    "DEFAULT_DELIVERY_DAYS",
    "QUARANTINE_SOURCE",
    "DispatchPlanReport",
    "PlaceReport",
    "as_dict",
    "dispatch_summary",
    "place_batch",
    "plan_dispatch",
]
