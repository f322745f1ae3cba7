"""City <-> ministry systems: push interconnected dossiers, follow their status, pull back the
dossiers processed on ministry software. Airflow-free; ``hub.jobs.ministry`` calls it per DAG task.

Which city dossiers are interconnected with a ministry (the push set) is data, not code: the
procedure table's ``interconnected_with`` column names the ministry system (``civil_status`` for
the civil-status procedures, field HT), per validity period. A city dossier is pushed when the
procedure version valid on its submission day names the ministry; one whose code is
interconnected only in other periods is kept as out of scope. The quality gate runs first: a
dossier that breaks a rule is not pushed (quarantined with the rules, considered again when the
city sends a new version).

Pull-back: each ministry lists what it processed per day; the listing is walked over the data
interval (widened back to the source's watermark after a missed or incomplete run) in windows of
the length its contract allows -- 5 days for business registration, one day for civil status --
one mapped task per window. The client hands over canonical pull-back records
(``mappings.ministry_records``: the ministry's number as ``MaHoSo``, the one-stop number when the
ministry holds one); the contract's ``keep`` says which are staged (civil status keeps all: the
interconnected dossiers the hub pushed come back with their one-stop number and the reconciliation
matches them to the city's, by the rule it names), under the source ``ministry:<partner>``: the
same content-hashed staging as the city extract, so a re-run stages nothing twice.
Each page passes the ``ministry_pullbacks`` suite first (the same stored gate as the push): a
dossier that breaks it is quarantined under the same source with the rule and a masked reason
instead of staged -- a malformed number or a code not valid on its submission day would
otherwise be counted as a city dossier that never existed. A ministry that renames or drops a
field its contract maps leaves that canonical field None in every record: each is quarantined
under the rule that reads it (counted, nothing lost), and is staged -- closing its entries -- once
the contract file or the ministry is corrected and the day is read again.

Failure rules (as for the portal): an outage (``RetryableError``) leaves dossiers pending with a
retry time and a pull-back window incomplete (the watermark stays, the next run reads it again)
and the task succeeds; an untrusted reply, refused credentials or any other systemic error leaves
the untouched dossiers pending too, but turns the task red with the reason.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from adapters import partners
from adapters.errors import AdapterError, ContractViolation, RetryableError
from adapters.ministry.client import Registration, Status
from adapters.ministry.contract import MinistryContract, contract_of
from adapters.periods import windows
from hub.pipeline.extract import extraction_window
from hub.pipeline.redelivery import RedeliveryPolicy, raise_unless_retryable
from hub.store import (
    ClaimedPush,
    HubStore,
    JsonText,
    MinistryPushes,
    PushDecision,
    PushOutcome,
    PushState,
    QuarantineItem,
    StagedRecord,
    StatusUpdate,
)
from mappings.city_system import to_canonical
from mappings.code_tables import CodeTables
from mappings.dossier import VN_TZ, Dossier
from mappings.errors import MappingError
from mappings.facts import portal_facts
from mappings.national_portal import parse_portal_date
from mappings.sources import PULLBACK_PREFIX
from mappings.text import storable
from quality.expectations.datasets import MINISTRY_PULLBACKS
from quality.gate import QualityGate, Violation
from signing.digests import canonical_json

_WINDOW_SEPARATOR = ".."


def pullback_source(partner: str) -> str:
    """The staging source of a ministry's pulled-back dossiers: their origin, for reconciliation."""
    return f"{PULLBACK_PREFIX}{partner}"


class Pusher(Protocol):
    """A ministry client that takes interconnected dossiers (one whose contract has a push)."""

    def register(self, dossier: Dossier) -> Registration: ...

    def status(self, dossier_no: str) -> Status | None: ...


@dataclass(frozen=True)
class Ministry:
    """What the exchange needs to know of one ministry system, all read from its contract
    (``adapters/ministry/contracts/<partner>.yaml``): the window length its listing allows, which
    listed records to stage, and, for a ministry the hub pushes to, its final statuses."""

    partner: str
    contract: MinistryContract

    @property
    def window_days(self) -> int:
        assert self.contract.pull is not None  # a ministry of the registry's ministry_pull flow
        return self.contract.pull.window.days

    @property
    def final_statuses(self) -> frozenset[int]:
        return frozenset(self.contract.status.final) if self.contract.status else frozenset()

    @property
    def pushes(self) -> bool:
        return self.contract.pushes

    @property
    def source(self) -> str:
        return pullback_source(self.partner)

    def keeps(self, item: dict[str, Any]) -> bool:
        """Whether a listed (canonical) record is staged: all, or only those without a one-stop number."""
        assert self.contract.pull is not None
        return self.contract.pull.keep == "all" or not item.get("MaHoSoMotCua")

    @staticmethod
    def updated_at(item: dict[str, Any]) -> datetime | None:
        """The record's own change time: when it was finished, else received."""
        for key in ("NgayKetThucXuLy", "NgayTiepNhan"):
            value = item.get(key)
            if value:
                return parse_portal_date(value)
        return None


def ministry(partner: str) -> Ministry:
    """The ministry ``partner`` of the registry, as its contract describes it."""
    return Ministry(partner, contract_of(partner))


MINISTRIES: dict[str, Ministry] = {partner: ministry(partner) for partner in partners.ministries()}


# ------------------------------------------------------------------------------------------ push


@dataclass
class PushPlanReport:
    considered: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    batches: list[str] = field(default_factory=list)


def interconnected_codes(tables: CodeTables, partner: str) -> list[str]:
    """Procedure codes interconnected with ``partner`` in at least one period (the SQL pre-filter)."""
    return sorted({row.code for row in tables.procedures.all_rows() if row.interconnected_with == partner})


def _interconnected_on(dossier: Dossier, tables: CodeTables, partner: str) -> bool:
    procedure = tables.procedures.get(dossier.procedure_code, dossier.submitted_at.date())
    return procedure is not None and procedure.interconnected_with == partner


def plan_push(
    store: HubStore, gate: QualityGate, partner: str, *, source: str, page_size: int = 1000, batch_size: int = 200
) -> PushPlanReport:
    """Decide for every new candidate (pending, quarantined, out of scope), then batch what is due."""
    pushes = MinistryPushes(store)
    report = PushPlanReport()
    codes = interconnected_codes(gate.tables, partner)
    for page in pushes.iter_candidates(partner, source, codes, page_size):
        outcome = gate.split([c.payload for c in page])
        decisions = [
            PushDecision(
                page[position].dossier_no,
                page[position].content_hash,
                PushState.QUARANTINED,
                "quality gate: " + "; ".join(f"{v.rule}: {v.reason}" for v in violations),
            )
            for position, violations in outcome.failed.items()
        ]
        for position, dossier in outcome.passed:
            candidate = page[position]
            if _interconnected_on(dossier, gate.tables, partner):
                decisions.append(PushDecision(candidate.dossier_no, candidate.content_hash, PushState.PENDING))
            else:
                reason = f"thủ tục {dossier.procedure_code} không liên thông với {partner} vào ngày nộp"
                decisions.append(
                    PushDecision(candidate.dossier_no, candidate.content_hash, PushState.OUT_OF_SCOPE, reason)
                )
        pushes.record_decisions(partner, source, decisions)
        report.considered += len(page)
        report.decisions.update(d.state.value for d in decisions)
    report.batches = pushes.assign_push_batches(partner, batch_size)
    return report


def _retry_later(policy: RedeliveryPolicy, claim: ClaimedPush, error: str, now: datetime) -> PushOutcome:
    """Pending with the redelivery policy's backoff -- or failed once it gives up (the same policy
    and limits as portal messages: one place decides how long the hub keeps trying)."""
    due = policy.next_attempt(claim.attempts, now)
    if due is None:
        return PushOutcome(claim.dossier_no, PushState.FAILED, f"delivery.retries_exhausted: {error}")
    return PushOutcome(claim.dossier_no, PushState.PENDING, error, due)


@dataclass
class PushReport:
    batch_id: str
    dossiers: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def push_batch(
    store: HubStore,
    client: Pusher,
    partner: str,
    batch_id: str,
    *,
    tables: CodeTables,
    policy: RedeliveryPolicy,
) -> PushReport:
    """Push one batch, one idempotent call per dossier, and record every outcome.

    A refusal of one dossier's content (the hub's request breaks the ministry's contract, or the
    record no longer maps) fails that dossier for a person to look at and the batch goes on. An
    outage stops the batch: the dossier and the rest wait for a retry. Any other error (untrusted
    reply, credentials, unknown agency) also leaves the rest pending, then is raised.
    """
    claimed = MinistryPushes(store).claim_push_batch(batch_id)
    report = PushReport(batch_id, dossiers=len(claimed))
    outcomes: list[PushOutcome] = []
    failure: AdapterError | None = None
    for position, claim in enumerate(claimed):
        try:
            registration = client.register(to_canonical(claim.payload, tables))
        except MappingError as exc:
            outcomes.append(PushOutcome(claim.dossier_no, PushState.FAILED, f"{exc.rule}: {exc.message}", tried=False))
        except ContractViolation as exc:
            if exc.side != "hub":
                failure = exc
                break
            outcomes.append(PushOutcome(claim.dossier_no, PushState.FAILED, str(exc)))
        except RetryableError as exc:
            now = store.db.now()
            outcomes.extend(_retry_later(policy, c, str(exc), now) for c in claimed[position:])
            failure = exc
            break
        except AdapterError as exc:
            failure = exc
            break
        else:
            outcomes.append(
                PushOutcome(
                    claim.dossier_no,
                    PushState.ACKNOWLEDGED,
                    ministry_status=registration.status,
                    ministry_status_at=registration.received_at,
                )
            )
            report.outcomes["registered"] += 1
    settled = {o.dossier_no for o in outcomes}
    if failure is not None and not isinstance(failure, RetryableError):
        now = store.db.now()  # not the dossiers' fault: due again at once, attempts unchanged
        outcomes.extend(
            PushOutcome(c.dossier_no, PushState.PENDING, str(failure), now, tried=False)
            for c in claimed
            if c.dossier_no not in settled
        )
    MinistryPushes(store).settle_pushes(partner, outcomes)
    report.outcomes.update(o.state.value for o in outcomes if o.state is not PushState.ACKNOWLEDGED)
    raise_unless_retryable(failure)
    return report


# ------------------------------------------------------------------------------------------ status


@dataclass
class StatusReport:
    batch_id: str
    dossiers: int = 0
    checked: int = 0
    finished: int = 0
    lost: int = 0
    unchecked: int = 0


def check_statuses(store: HubStore, client: Pusher, ministry: Ministry, batch_id: str) -> StatusReport:
    """Ask the ministry for each dossier's status. A dossier the ministry no longer holds goes back
    to pending (pushed again: the push is idempotent). An outage leaves the rest for the next run."""
    pushes = MinistryPushes(store)
    numbers = pushes.status_batch(batch_id)
    report = StatusReport(batch_id, dossiers=len(numbers))
    updates: list[StatusUpdate] = []
    lost: list[PushOutcome] = []
    failure: AdapterError | None = None
    for dossier_no in numbers:
        try:
            status = client.status(dossier_no)
        except AdapterError as exc:
            failure = exc
            break
        if status is None:
            lost.append(
                PushOutcome(
                    dossier_no, PushState.PENDING, "bộ không còn giữ hồ sơ: gửi lại", store.db.now(), tried=False
                )
            )
        else:
            updates.append(
                StatusUpdate(dossier_no, status.status, status.updated_at, status.status in ministry.final_statuses)
            )
    pushes.record_statuses(ministry.partner, updates)
    pushes.settle_pushes(ministry.partner, lost)
    report.checked = len(updates)
    report.finished = sum(u.finished for u in updates)
    report.lost = len(lost)
    report.unchecked = len(numbers) - len(updates) - len(lost)
    raise_unless_retryable(failure)
    return report


# ------------------------------------------------------------------------------------------ pull-back


def _days(start: datetime, end: datetime) -> tuple[date, date]:
    """The Hanoi days a data interval ``[start, end)`` covers."""
    return start.astimezone(VN_TZ).date(), (end - timedelta(microseconds=1)).astimezone(VN_TZ).date()


def plan_pull(store: HubStore, ministry: Ministry, start: datetime, end: datetime) -> list[str]:
    """The windows (``first..last``) to pull for the interval, widened back to the watermark."""
    window_from, window_to = extraction_window(store, ministry.source, start, end)
    spans = windows(*_days(window_from, window_to), ministry.window_days)
    return [f"{first.isoformat()}{_WINDOW_SEPARATOR}{last.isoformat()}" for first, last in spans]


def parse_window(window: str) -> tuple[date, date]:
    first, _, last = window.partition(_WINDOW_SEPARATOR)
    return date.fromisoformat(first), date.fromisoformat(last)


@dataclass
class PullReport:
    window: str
    listed: int = 0
    pulled: int = 0
    staged_new: int = 0
    unchanged: int = 0
    quarantined: int = 0
    complete: bool = False
    error: str | None = None


def _serialised(item: dict[str, Any]) -> tuple[bytes, str]:
    """A listed dossier (canonical, with the ministry's record inside), serialised once, and its content hash."""
    text = canonical_json(item)
    return text, hashlib.sha256(text).hexdigest()  # = signing.digests.content_hash(item), serialised once


def _staged(item: dict[str, Any], ministry: Ministry) -> StagedRecord:
    item = storable(item)  # NUL and lone surrogates escaped: the same bytes on SQLite and PostgreSQL
    text, digest = _serialised(item)
    return StagedRecord(
        str(item["MaHoSo"]), digest, JsonText(text.decode()), ministry.updated_at(item), portal_facts(item)
    )


def _quarantined(item: dict[str, Any], ministry: Ministry, violations: Sequence[Violation]) -> list[QuarantineItem]:
    """One entry per broken rule, with the dossier as the ministry sent it (for the officer who fixes it)."""
    text, digest = _serialised(item)
    payload = json.loads(text)
    return [
        QuarantineItem(ministry.source, str(item.get("MaHoSo")), v.rule, v.reason, digest, payload) for v in violations
    ]


def pull_window(store: HubStore, client: Any, ministry: Ministry, window: str, gate: QualityGate) -> PullReport:
    """Stage one window's ministry-software dossiers that pass the pull-back suite and quarantine
    the others, a few bulk writes per page; a staged dossier closes its open quarantine entries.

    An outage ends the window incomplete (pages already staged stay: staging by content hash makes
    reading them again harmless); any other error is raised with the page neither staged nor
    quarantined.
    """
    first, last = parse_window(window)
    report = PullReport(window)
    batch_id = f"{ministry.source}-{first:%Y%m%d}-{uuid.uuid4().hex[:8]}"
    try:
        for page in client.iter_window(first, last):
            pulled = [item for item in page if ministry.keeps(item)]
            checked = gate.check(MINISTRY_PULLBACKS, pulled)
            kept = [_staged(pulled[position], ministry) for position in checked.passed]
            counts = store.staging.stage(ministry.source, kept, batch_id)
            store.quarantine.add(
                [q for position, vs in checked.failed.items() for q in _quarantined(pulled[position], ministry, vs)]
            )
            store.quarantine.resolve(ministry.source, [record.dossier_no for record in kept])
            report.listed += len(page)
            report.pulled += len(pulled)
            report.staged_new += counts.new_versions
            report.unchanged += counts.unchanged
            report.quarantined += len(checked.failed)
    except RetryableError as exc:
        report.error = str(exc)
        return report
    report.complete = True
    return report


_PULL_COUNTS = ("listed", "pulled", "staged_new", "unchanged", "quarantined")


def close_pull(store: HubStore, ministry: Ministry, end: datetime, reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Add up the windows; move the watermark to the interval's end only if every window completed,
    so an incomplete one is read again by the next run."""
    totals: Counter[str] = Counter()
    for report in reports:
        totals.update({k: int(report[k]) for k in _PULL_COUNTS})
    complete = bool(reports) and all(report["complete"] for report in reports)
    if complete:
        store.staging.advance_watermark(ministry.source, end)
    return {
        "windows": len(reports),
        "incomplete_windows": [r["window"] for r in reports if not r["complete"]],
        **{k: totals[k] for k in _PULL_COUNTS},
        "complete": complete,
    }


# ------------------------------------------------------------------------------------------ summary


def ministry_summary(store: HubStore, ministry: Ministry, pull: dict[str, Any]) -> dict[str, Any]:
    """One ministry's counts, and whether they add up:
    to push = acknowledged + pending + failed + quarantined (``sent`` counts as pending: its outcome
    is not known yet); pulled back = staged new + unchanged + quarantined (by the pull-back suite)."""
    pushes = MinistryPushes(store)
    states = pushes.state_counts(ministry.partner)
    push = {
        "to_push": sum(n for s, n in states.items() if s != PushState.OUT_OF_SCOPE.value),
        "acknowledged": states[PushState.ACKNOWLEDGED.value],
        "pending": states[PushState.PENDING.value] + states[PushState.SENT.value],
        "failed": states[PushState.FAILED.value],
        "quarantined": states[PushState.QUARANTINED.value],
        "out_of_scope": states[PushState.OUT_OF_SCOPE.value],
    }
    push_holds = push["to_push"] == push["acknowledged"] + push["pending"] + push["failed"] + push["quarantined"]
    pull_holds = pull["pulled"] == pull["staged_new"] + pull["unchanged"] + pull["quarantined"]
    return {
        "partner": ministry.partner,
        "source": ministry.source,
        "pushes": ministry.pushes,
        "push": push,
        "ministry_status": {str(k): v for k, v in pushes.status_counts(ministry.partner).items()},
        "pull_back": {
            **pull,
            "staged_total": store.staging.count(ministry.source),
            "quarantine_by_rule": store.quarantine.counts_by_rule(ministry.source),
        },
        "identity": (
            "to_push = acknowledged + pending + failed + quarantined; pulled = staged_new + unchanged + quarantined"
        ),
        "identity_holds": push_holds and pull_holds,
        "exchanges": store.message_log.count_exchanges(ministry.partner),
    }


def as_dict(report: PushReport | StatusReport | PullReport) -> dict[str, Any]:
    """A report as an XCom-sized dict (counters as plain dicts)."""
    return {k: dict(v) if isinstance(v, Counter) else v for k, v in asdict(report).items()}


__all__ = [
    "MINISTRIES",
    "Ministry",
    "PushPlanReport",
    "Pusher",
    "as_dict",
    "check_statuses",
    "close_pull",
    "interconnected_codes",
    "ministry_summary",
    "plan_pull",
    "plan_push",
    "pull_window",
    "pullback_source",
    "push_batch",
]
