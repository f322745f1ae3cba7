"""City dossiers -> national portal: plan what to send, deliver it in batches, settle the outcome.

``plan`` compares each dossier's newest staged version with what the portal last acknowledged
and with the quality gate, and gives it exactly one disposition: pending (messages queued),
delivered (nothing new to send), quarantined (a named rule broken) or out of scope (procedure
not integrated on the portal). ``deliver_*`` send one outbox batch each; a DAG maps them over
the batch ids ``plan`` returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from adapters.errors import AdapterError
from adapters.national_portal.client import NationalPortalClient, RecordResult
from hub.pipeline.redelivery import (
    RETRIES_EXHAUSTED,
    DeliveryReport,
    RedeliveryPolicy,
    exhausted_reason,
    raise_unless_retryable,
)
from hub.store import (
    WHOLE,
    ClaimedMessage,
    CurrentRecord,
    Disposition,
    HubStore,
    OutboxMessage,
    OutboxState,
    Partition,
    QuarantineItem,
    RecordProofs,
    SentRecord,
    Settlement,
)
from mappings.code_tables import CodeTables
from mappings.delivery import DeliveryState
from mappings.dossier import Dossier
from mappings.errors import MappingError
from mappings.national_portal import to_dong_bo_ho_so, to_progress_entries
from mappings.sources import PORTAL
from quality.expectations.datasets import PORTAL_PAYLOADS
from quality.gate import QualityGate
from signing.digests import canonical_json, content_hash, idempotency_key
from signing.keys import SigningIdentity
from signing.merkle import MerkleTree, sign_batch

PARTNER = PORTAL  # this flow delivers to the portal (mappings.sources names it for the reconciliation too)
SYNC_OPERATION = "DongBoHoSoMC"
PROGRESS_OPERATION = "CapNhatTienDoHoSoMC"
# Two source records (different ids) carrying one dossier number: both held, neither sent.
SHARED_NUMBER_RULE = "dossier_no.unique"


@dataclass
class PlanReport:
    considered: int = 0
    dispositions: Counter[str] = field(default_factory=Counter)
    messages_queued: int = 0
    superseded: int = 0
    dossier_batches: list[str] = field(default_factory=list)


def _integrated(dossier: Dossier, tables: CodeTables) -> bool:
    procedure = tables.procedures.get(dossier.procedure_code, dossier.submitted_at.date())
    return bool(procedure is not None and procedure.integrated_on_portal)


class _PagePlan:
    """Collects one page's writes so they go to the store as a handful of bulk statements."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.dispositions: list[Disposition] = []
        self.quarantine: list[QuarantineItem] = []
        self.messages: list[OutboxMessage] = []
        self.current: dict[str, str] = {}

    def quarantined(self, record: CurrentRecord, violations: Sequence[tuple[str, str]]) -> None:
        for rule, reason in violations:
            self.quarantine.append(
                QuarantineItem(self.source, record.dossier_no, rule, reason, record.content_hash, record.payload)
            )
        rules = ", ".join(rule for rule, _ in violations)
        self.settle(record, DeliveryState.QUARANTINED, f"quality gate: {rules}")

    def withdraw(self, record: CurrentRecord) -> None:
        """Retire every unsent message of this dossier, whatever its version: none may go (a hash no
        version has makes ``Outbox.record_plan`` supersede them all)."""
        self.current[record.dossier_no] = ""

    def settle(self, record: CurrentRecord, state: DeliveryState, reason: str | None = None) -> None:
        self.dispositions.append(Disposition(record.dossier_no, self.source, record.content_hash, state, reason))

    def queue(self, record: CurrentRecord, dossier: Dossier, sync: dict[str, Any], queued: Set[str]) -> None:
        """The dossier version's sync message and, when it has steps not ``queued`` before (content
        hashes of the entries earlier messages of this dossier carry), those steps as one message
        (one hash, one idempotency key over them); delivery cuts the histories into the portal's
        calls of 10 entries. An entry is queued once, as when every entry was a message of its own:
        nothing says the portal ignores a repeat (docs/interfaces.md 2.7)."""
        h = record.content_hash
        self.messages.append(
            OutboxMessage(
                idempotency_key(PARTNER, SYNC_OPERATION, record.dossier_no, h),
                PARTNER,
                SYNC_OPERATION,
                record.dossier_no,
                h,
                sync,
            )
        )
        history = to_progress_entries(dossier)
        if queued:  # a first version (a backfill's every dossier) has nothing queued: no hash per entry
            history = [entry for entry in history if content_hash(entry) not in queued]
        if history:
            history_hash = content_hash(history)
            self.messages.append(
                OutboxMessage(
                    idempotency_key(PARTNER, PROGRESS_OPERATION, record.dossier_no, history_hash),
                    PARTNER,
                    PROGRESS_OPERATION,
                    record.dossier_no,
                    history_hash,
                    history,
                )
            )
        self.current[record.dossier_no] = h
        self.settle(record, DeliveryState.PENDING)


# Why 5,000 and not 1,000: each page costs two GX validations (city suite, portal-payload suite)
# of ~0.75 s CPU fixed plus ~0.4 ms per row, so at 1,000 the fixed part alone is ~1.5 ms per
# dossier. On 9,635 records (SQLite, docs/benchmarks.md) plan took 34.8 s CPU at 1,000 and 23.2 s
# at 5,000 (gate 22.1 -> 10.5 s). Memory still grows with the page, never with the store: peak
# RSS rose 87 MiB at 1,000 and 354 MiB at 5,000; a page is also one store transaction.
PLAN_PAGE_SIZE = 5000
DOSSIER_BATCH_SIZE = 500


def plan(
    store: HubStore,
    gate: QualityGate,
    *,
    source: str,
    page_size: int = PLAN_PAGE_SIZE,
    batch_size: int = DOSSIER_BATCH_SIZE,
) -> PlanReport:
    """Give every unsettled dossier version a disposition, queue what must be sent, and batch it."""
    report = plan_partition(store, gate, source=source, page_size=page_size)
    report.dossier_batches = batch_plan(store, batch_size=batch_size)
    return report


def plan_partition(
    store: HubStore,
    gate: QualityGate,
    *,
    source: str,
    partition: Partition = WHOLE,
    page_size: int = PLAN_PAGE_SIZE,
) -> PlanReport:
    """:func:`plan` for the unsettled dossiers of one partition, without batching: partitions are
    disjoint (a shared number's records in one), so several task instances plan at once, each
    dossier once, and :func:`batch_plan` batches the union after them."""
    report = PlanReport()
    for page in store.deliveries.iter_unsettled(source, PARTNER, page_size, partition):
        outcome = gate.split([r.payload for r in page])
        page_plan = _PagePlan(source)
        held: dict[int, list[tuple[str, str]]] = {
            position: [(v.rule, v.reason) for v in violations] for position, violations in outcome.failed.items()
        }
        for position, shared in _shared_numbers(store, source, page).items():
            held.setdefault(position, []).append(shared)
            page_plan.withdraw(page[position])
        for position, violations in held.items():
            page_plan.quarantined(page[position], violations)
        to_send: list[tuple[CurrentRecord, Dossier, dict[str, Any]]] = []
        for position, dossier in outcome.passed:
            if position in held:
                continue
            record = page[position]
            if not _integrated(dossier, gate.tables):
                page_plan.settle(
                    record,
                    DeliveryState.OUT_OF_SCOPE,
                    f"thủ tục {dossier.procedure_code} chưa tích hợp trên Cổng DVCQG",
                )
            elif record.acked_hash == record.content_hash:
                page_plan.settle(record, DeliveryState.DELIVERED)
            else:
                try:
                    to_send.append((record, dossier, to_dong_bo_ho_so(dossier, gate.tables)))
                except MappingError as exc:
                    page_plan.quarantined(record, [(exc.rule, exc.message)])
        # What the portal will read is checked too (its own suite), before anything is queued.
        checked = gate.check(PORTAL_PAYLOADS, [sync for _, _, sync in to_send])
        for position, violations in checked.failed.items():
            page_plan.quarantined(to_send[position][0], [(v.rule, v.reason) for v in violations])
        numbers = [to_send[position][0].dossier_no for position in checked.passed]
        queued: dict[str, set[str]] = {}
        for dossier_no, entry_hash in (
            store.outbox.record_states(PARTNER, PROGRESS_OPERATION, numbers) if numbers else ()
        ):
            queued.setdefault(dossier_no, set()).add(entry_hash)
        for position in checked.passed:
            record, dossier, sync = to_send[position]
            page_plan.queue(record, dossier, sync, queued.get(record.dossier_no, set()))
        superseded, queued = store.outbox.record_plan(
            PARTNER,
            SYNC_OPERATION,
            source,
            considered=[r.dossier_no for r in page],
            current=page_plan.current,
            messages=page_plan.messages,
            quarantine=page_plan.quarantine,
            dispositions=page_plan.dispositions,
        )
        report.superseded += superseded
        report.messages_queued += queued
        report.considered += len(page)
        report.dispositions.update(d.state.value for d in page_plan.dispositions)
    return report


def batch_plan(store: HubStore, *, batch_size: int = DOSSIER_BATCH_SIZE) -> list[str]:
    """Batch the dossier messages every partition queued (what the delivery tasks map over)."""
    return store.outbox.assign_batches(PARTNER, SYNC_OPERATION, batch_size)


def _shared_numbers(store: HubStore, source: str, page: Sequence[CurrentRecord]) -> dict[int, tuple[str, str]]:
    """Page positions whose dossier number other source records carry too, with the rule and reason.

    Not a GX expectation: a page cannot show it (the other record may have come on another day), so
    staging records the sharing and the plan holds both records back, merged into neither.
    """
    shared = store.staging.shared_numbers(source, [r.dossier_no for r in page])
    return {
        position: (
            SHARED_NUMBER_RULE,
            f"Số hồ sơ {found.number} được dùng cho {len(found.record_ids)} bản ghi khác nhau của hệ thống "
            f"một cửa (id {', '.join(found.record_ids)}): không gộp, không gửi cho đến khi thành phố sửa số",
        )
        for position, record in enumerate(page)
        if (found := shared.get(record.dossier_no)) is not None
    }


# About 500 entries per batch (6.2 steps per dossier on average, issue 19), as when every entry was a message.
PROGRESS_BATCH_DOSSIERS = 80


def plan_progress(store: HubStore, *, batch_size: int = PROGRESS_BATCH_DOSSIERS) -> list[str]:
    """Batch the processing histories whose dossier the portal now holds (the portal refuses others);
    ``batch_size`` counts dossiers, each carrying its whole history."""
    return store.outbox.assign_batches(PARTNER, PROGRESS_OPERATION, batch_size, require_delivered_dossier=True)


# A record an outbox message carries, as quarantined when the partner refuses it: (hash, record, reason).
_Refused = tuple[str, dict[str, Any], str]


def _records_of(message: ClaimedMessage, reason: str) -> list[_Refused]:
    """Every record a message carries: itself, or each entry of a dossier's history."""
    if isinstance(message.payload, list):
        return [(content_hash(entry), entry, reason) for entry in message.payload]
    return [(message.content_hash, message.payload, reason)]


class _Settler:
    """Collects a batch's outcomes and writes them, and the quarantine they imply, in bulk."""

    def __init__(self, store: HubStore, source: str, policy: RedeliveryPolicy, report: DeliveryReport) -> None:
        self.store, self.source, self.policy, self.report = store, source, policy, report
        self.settlements: list[Settlement] = []
        self.dead: list[tuple[ClaimedMessage, str, str, list[_Refused]]] = []

    def acknowledged(self, message: ClaimedMessage) -> None:
        self.settlements.append(Settlement(message.id, OutboxState.ACKNOWLEDGED))
        self.report.outcomes["acknowledged"] += 1

    def rejected(self, message: ClaimedMessage, rule: str, reason: str, refused: list[_Refused] | None = None) -> None:
        """A partner's refusal of a record is a data problem: it goes to a person, not to a retry.
        ``refused``: the records of the message the partner refused, when it carries several."""
        self.settlements.append(Settlement(message.id, OutboxState.DEAD, error=reason))
        self.dead.append((message, rule, reason, refused or _records_of(message, reason)))
        self.report.outcomes["rejected"] += 1

    def retry_later(self, message: ClaimedMessage, error: str) -> None:
        settlement = self.policy.failed(message, error, self.store.db.now())
        self.settlements.append(settlement)
        if settlement.state is OutboxState.DEAD:
            reason = exhausted_reason(error)
            self.dead.append((message, RETRIES_EXHAUSTED, reason, _records_of(message, reason)))
            self.report.outcomes["dead"] += 1
        else:
            self.report.outcomes["retry_later"] += 1

    def flush(self, *, acks_deliver_dossier: bool) -> None:
        self.store.outbox.settle(PARTNER, self.settlements, acks_deliver_dossier=acks_deliver_dossier)
        self.store.quarantine.add(
            [
                QuarantineItem(self.source, m.dossier_no, rule, why, h, record)
                for m, rule, _, refused in self.dead
                for h, record, why in refused
            ]
        )
        if acks_deliver_dossier:  # a dead dossier message means the portal does not hold this version
            self.store.deliveries.set(
                PARTNER,
                [
                    Disposition(
                        m.dossier_no,
                        self.source,
                        m.content_hash,
                        DeliveryState.QUARANTINED,
                        f"{rule}: {reason}",
                    )
                    for m, rule, reason, _ in self.dead
                ],
            )


def deliver_dossiers(
    store: HubStore,
    client: NationalPortalClient,
    batch_id: str,
    *,
    source: str,
    policy: RedeliveryPolicy,
    batch_signer: SigningIdentity | None = None,
) -> DeliveryReport:
    """Send one batch with DongBoHoSoMC.

    Creates and updates go in separate calls (``isUpdating``). When the portal's view differs
    from ours -- "already exists" on a create, "not found" on an update, as after a crash between
    sending and recording the reply -- the record is sent once more the other way: an upsert.
    Only a refusal that names the dossier quarantines it; any other answer keeps it pending with
    the portal's message (the client narrows a refused call down to single records first).
    With ``batch_signer`` every call's records are signed as one Merkle batch first, and each
    record's proof is kept (``hub.store.proofs``), so one dossier can later be proven alone.
    """
    claimed = store.outbox.claim_batch(batch_id)
    report = DeliveryReport(batch_id, messages=len(claimed), records=len(claimed))
    settler = _Settler(store, source, policy, report)
    groups = [(False, [m for m in claimed if not m.updating]), (True, [m for m in claimed if m.updating])]
    flipped: set[int] = set()
    failure: AdapterError | None = None
    while groups:
        updating, group = groups.pop(0)
        if not group:
            continue
        if batch_signer is not None:
            _keep_record_proofs(store, batch_id, group, batch_signer)
        try:
            results = client.sync_dossiers([m.payload for m in group], updating=updating)
        except AdapterError as exc:
            failure = failure or exc
            for message in group:
                settler.retry_later(message, str(exc))
            continue
        flip: list[ClaimedMessage] = []
        for message, result in zip(group, results, strict=True):
            if result.classification == "stored":
                settler.acknowledged(message)
            elif result.classification in ("already_exists", "not_found") and message.id not in flipped:
                flip.append(message)
                flipped.add(message.id)
            elif result.classification == "rejected":
                settler.rejected(message, "portal.rejected", result.message)
            else:  # an answer the contract does not explain (or a second flip): kept, tried again later
                settler.retry_later(message, f"{result.code}: {result.message}")
        groups.append((not updating, flip))
    settler.flush(acks_deliver_dossier=True)
    raise_unless_retryable(failure)
    return report


def _keep_record_proofs(
    store: HubStore, batch_id: str, group: Sequence[ClaimedMessage], signer: SigningIdentity
) -> None:
    """One signature over the call's records (canonical JSON leaves), a proof kept per record."""
    sent = [SentRecord(m.dossier_no, m.content_hash, canonical_json(m.payload)) for m in group]
    tree = MerkleTree([r.leaf for r in sent])
    RecordProofs(store).keep(
        partner=PARTNER,
        operation=SYNC_OPERATION,
        batch_id=batch_id,
        tree=tree,
        signature=sign_batch(tree, signer),
        records=sent,
    )


def deliver_progress(
    store: HubStore,
    client: NationalPortalClient,
    batch_id: str,
    *,
    source: str,
    policy: RedeliveryPolicy,
) -> DeliveryReport:
    """Send one batch of dossiers' processing histories: their entries, in order, go to the portal
    in calls of 10 (the client cuts them, whichever dossier they belong to), and each dossier's
    history message is settled by the answers to its entries: acknowledged when the portal holds
    every one; tried again later, whole, when one was not taken (the portal keeps one copy per
    entry, so resending those it holds is harmless); dead, with each refused entry quarantined,
    when the portal refused some and took the rest."""
    claimed = store.outbox.claim_batch(batch_id)
    entries = [(message, entry) for message in claimed for entry in message.payload]
    report = DeliveryReport(batch_id, messages=len(claimed), records=len(entries))
    settler = _Settler(store, source, policy, report)
    try:
        results: Sequence[RecordResult] = client.push_progress([entry for _, entry in entries]) if entries else []
    except AdapterError as exc:
        for message in claimed:
            settler.retry_later(message, str(exc))
        settler.flush(acks_deliver_dossier=False)
        raise_unless_retryable(exc)
        return report
    answers: dict[int, list[tuple[dict[str, Any], RecordResult]]] = {message.id: [] for message in claimed}
    for (message, entry), result in zip(entries, results, strict=True):
        answers[message.id].append((entry, result))
    for message in claimed:
        _settle_history(settler, message, answers[message.id])
    settler.flush(acks_deliver_dossier=False)
    return report


def _settle_history(
    settler: _Settler, message: ClaimedMessage, answers: Sequence[tuple[dict[str, Any], RecordResult]]
) -> None:
    """One dossier's history message, from the portal's answers to each of its entries."""
    taken = ("stored", "already_exists")
    untaken = [r for _, r in answers if r.classification not in (*taken, "rejected")]
    refused = [(content_hash(e), e, r.message) for e, r in answers if r.classification == "rejected"]
    if untaken:  # not found (the dossier's sync is not through yet) or unexplained: tried again later
        settler.retry_later(message, f"{untaken[0].code}: {untaken[0].message}")
    elif refused:
        reason = f"{len(refused)} of {len(answers)} entries refused: {refused[0][2]}"
        settler.rejected(message, "portal.progress_rejected", reason, refused)
    else:
        settler.acknowledged(message)
