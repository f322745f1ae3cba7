"""Dossier results home by post: plan one order per ready result, place it with the carrier,
keep the order id and S10 item code. Airflow-free; ``hub.jobs.postal`` calls it per DAG task.

Planning reads the staged city dossiers the staging facts mark for postal return with status 9
(processed) or 10 (result returned -- for a postal return, released for the hand-over to the post,
which this order is), without an order row for their current version. Each one becomes:

- ``pending`` with its carrier (``mappings/postal/dispatch_desks.csv``: the handling agency's desk
  and contracted carrier, else the city's service centre and VNPost), or
- ``quarantined`` with the rule it broke -- no address, an incomplete one, a bad phone number, a
  commune that is not valid on the dispatch day (the July 2025 reform) -- also listed in the
  shared quarantine under the source ``postal`` so officers see it with everything else. A new
  version of the city record (a corrected address) is planned again. The orders that map then
  pass the ``postal_orders`` suite (the stored quality gate), which quarantines by its own rules:
  a malformed dossier number would become the carrier's order reference and idempotency key.

Placing: one ``create_order`` per result, with ``<dossier_no>/KQ`` as the carrier's order
reference, so a resend after a crash or a re-run gets the existing order back, never a second
parcel. Outcomes, as for ministry pushes: an outage (``RetryableError``) leaves this result and the
rest of the batch pending with the redelivery policy's retry time and the task succeeds; a refusal
of one result (the carrier rejects the address, or says the hub's request broke its contract)
quarantines that result and the batch goes on; anything systemic (refused credentials, a reply
whose S10 item code fails its check digit, an unreadable reply) leaves the untouched results
pending and turns the task red. Retries exhausted: quarantined, still counted. The batch's
accepted orders then pass the ``postal_replies`` suite: the adapters already refuse a reply with a
bad S10 code, an empty order id or no creation time on its own, but only the whole batch shows one
carrier order id given to two results (one parcel paid twice, and a clash with the store's unique
order id): both results are quarantined with the id kept in the entry, and the rest settle.

So ``results ready = ordered + pending + quarantined`` holds at every moment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
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
from hub.store.postal import ClaimedOrder, DispatchDecision, OrderOutcome, PostalOrders
from mappings.city_system import to_canonical
from mappings.dossier import VN_TZ
from mappings.errors import MappingError
from mappings.postal.dispatch import Dispatch, desk_for, load_desks, order_request, receiver_of, result_ready
from mappings.working_days import add_working_days
from quality.expectations.datasets import POSTAL_ORDERS, POSTAL_REPLIES
from quality.gate import QualityGate, Violation

QUARANTINE_SOURCE = "postal"
DEFAULT_DELIVERY_DAYS = 3


@dataclass
class DispatchPlanReport:
    considered: int = 0
    not_ready: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    batches: dict[str, list[str]] = field(default_factory=dict)


def _reason(violations: Sequence[Violation]) -> str:
    return "; ".join(f"{v.rule}: {v.reason}" for v in violations)


def _entries(
    dossier_no: str, content_hash: str, violations: Sequence[Violation], kept: dict[str, Any] | None = None
) -> list[QuarantineItem]:
    """The shared quarantine's entries, one per rule: the rule and reason, not the record (it holds
    the receiver's address); ``kept`` is what a person needs beyond the masked reason."""
    return [
        QuarantineItem(QUARANTINE_SOURCE, dossier_no, v.rule, v.reason, content_hash, kept or {}) for v in violations
    ]


def _quarantined(
    candidate: Any, carrier: str | None, violations: Sequence[Violation]
) -> tuple[DispatchDecision, list[QuarantineItem]]:
    return (
        DispatchDecision(
            candidate.dossier_no, candidate.content_hash, carrier, Dispatch.QUARANTINED, _reason(violations)
        ),
        _entries(candidate.dossier_no, candidate.content_hash, violations),
    )


def plan_dispatch(
    store: HubStore,
    gate: QualityGate,
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
    orders, desks, tables = PostalOrders(store), load_desks(), gate.tables
    report = DispatchPlanReport()
    for page in orders.iter_candidates(source, page_size):
        decisions: list[DispatchDecision] = []
        quarantine: list[QuarantineItem] = []
        failed: list[tuple[Any, str | None, list[Violation]]] = []
        planned: list[tuple[Any, str, dict[str, Any]]] = []  # candidate, carrier, the order's checked columns
        for candidate in page:
            carrier = None  # known once the handling agency's desk is
            try:
                dossier = to_canonical(candidate.payload, tables)
                if not result_ready(dossier):
                    report.not_ready += 1
                    continue
                desk = desk_for(desks, dossier.handling_agency, on)
                carrier = desk.carrier
                receiver = receiver_of(dossier, tables, on)
            except MappingError as error:
                failed.append((candidate, carrier, [Violation(error.rule, error.message)]))
                continue
            row = {
                "dossier_no": dossier.dossier_no,
                "carrier": carrier,
                "receiver_province_code": receiver.province_code,
                "receiver_commune_code": receiver.commune_code,
            }
            planned.append((candidate, carrier, row))
        checked = gate.check(POSTAL_ORDERS, [row for _, _, row in planned])
        failed += [(planned[p][0], planned[p][1], violations) for p, violations in checked.failed.items()]
        for candidate, carrier, violations in failed:
            decision, items = _quarantined(candidate, carrier, violations)
            decisions.append(decision)
            quarantine.extend(items)
            report.rules.update(v.rule for v in violations)
        for position in checked.passed:
            candidate, carrier, _ = planned[position]
            decisions.append(DispatchDecision(candidate.dossier_no, candidate.content_hash, carrier, Dispatch.PENDING))
        orders.record_decisions(source, decisions)
        store.quarantine.add(quarantine)
        store.quarantine.resolve(QUARANTINE_SOURCE, [d.dossier_no for d in decisions if d.dispatch is Dispatch.PENDING])
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
) -> tuple[OrderOutcome, list[QuarantineItem]]:
    """Pending with the shared redelivery backoff -- quarantined once it gives up (still counted)."""
    due = policy.next_attempt(claim.attempts, now)
    if due is None:
        return _refusal(claim, [Violation("delivery.retries_exhausted", error)], tried=True)
    return OrderOutcome(claim.reference, Dispatch.PENDING, error, due), []


def _refusal(
    claim: ClaimedOrder, violations: Sequence[Violation], *, tried: bool, kept: dict[str, Any] | None = None
) -> tuple[OrderOutcome, list[QuarantineItem]]:
    """A result that cannot be ordered as it is: quarantined here and in the shared quarantine."""
    return (
        OrderOutcome(claim.reference, Dispatch.QUARANTINED, _reason(violations), tried=tried),
        _entries(claim.dossier_no, claim.content_hash, violations, kept),
    )


def _check_replies(
    gate: QualityGate, carrier: str, claimed: Sequence[ClaimedOrder], outcomes: list[OrderOutcome]
) -> tuple[list[OrderOutcome], list[QuarantineItem]]:
    """The batch's accepted orders through the ``postal_replies`` suite: a failing one becomes a
    quarantined result without its order id (kept with the quarantine entry, where a person cancels
    or confirms the parcel; the reason masks it like any long number), so the rest still settle."""
    claims = {c.reference: c for c in claimed}
    placed = [o for o in outcomes if o.dispatch is Dispatch.ORDERED]
    checked = gate.check(
        POSTAL_REPLIES,
        [
            {
                "dossier_no": claims[o.reference].dossier_no,
                "carrier": carrier,
                "order_id": o.order_id,
                "created_at": o.placed_at,
            }
            for o in placed
        ],
    )
    refused = {
        o.reference: _refusal(
            claims[o.reference], vs, tried=True, kept={"order_id": o.order_id, "item_code": o.item_code}
        )
        for o, vs in ((placed[p], vs) for p, vs in checked.failed.items())
    }
    return (
        [refused[o.reference][0] if o.reference in refused else o for o in outcomes],
        [item for _, items in refused.values() for item in items],
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
    gate: QualityGate,
    policy: RedeliveryPolicy,
    delivery_days: int = DEFAULT_DELIVERY_DAYS,
    on: date | None = None,
) -> PlaceReport:
    """Place one batch's orders with ``carrier``, one idempotent call per result, and record every outcome."""
    on = on or datetime.now(VN_TZ).date()
    orders, desks, tables = PostalOrders(store), load_desks(), gate.tables
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
        except MappingError as error:  # tables changed since planning, or a carrier has no own id for the address
            refusal = _refusal(claim, [Violation(error.rule, error.message)], tried=False)
        except RetryableError as error:
            now = store.db.now()
            for waiting in claimed[position:]:
                outcome, items = _retry_later(policy, waiting, str(error), now)
                outcomes.append(outcome)
                quarantine.extend(items)
            failure = error
            break
        except AdapterError as error:
            if not _refused(error):
                failure = error
                break
            refusal = _refusal(claim, [Violation("postal.carrier_refused", error.detail)], tried=True)
        else:
            refusal = None
            outcomes.append(
                OrderOutcome(
                    claim.reference,
                    Dispatch.ORDERED,
                    order_id=placed.order_id,
                    item_code=placed.item_code,
                    placed_at=placed.placed_at,
                    deadline=add_working_days(placed.placed_at, delivery_days),
                )
            )
        if refusal is not None:
            outcomes.append(refusal[0])
            quarantine.extend(refusal[1])
    outcomes, duplicates = _check_replies(gate, carrier.name, claimed, outcomes)
    quarantine.extend(duplicates)
    settled = {o.reference for o in outcomes}
    if failure is not None and not isinstance(failure, RetryableError):
        now = store.db.now()  # not the results' fault: due again at once, attempts unchanged
        outcomes.extend(
            OrderOutcome(c.reference, Dispatch.PENDING, str(failure), now, tried=False)
            for c in claimed
            if c.reference not in settled
        )
    orders.settle(outcomes)
    store.quarantine.add(quarantine)
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
        "quarantine_by_rule": store.quarantine.counts_by_rule(QUARANTINE_SOURCE),
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
