"""Verify the applicants of staged citizen dossiers against the population database (issue 4).

Three steps, each one DAG task (``hub.jobs.population``), none aware of Airflow:

1. :func:`plan` -- every current city dossier whose applicant is a citizen (``CONG_DAN``) with an
   ID and whose current version has no settled check gets a pending row in ``population_check``;
   a new version whose applicant identity (ID, NFC name, birth date) is the one already checked
   keeps its verdict without a new lookup (personal data is looked up no more than needed). All
   pending rows, including those an outage left behind, are cut into batches.
2. :func:`verify_batch` -- one register look-up per applicant (the contract has no batch
   operation), a few in flight at a time; the adapter audits every call through
   :class:`LookupAuditLog`; the hub compares the record with the dossier itself
   (:func:`mappings.identity.compare`: the register gives no verdict). Match -> stored; mismatch
   and not found (an empty collection) -> stored and quarantined with the differing fields named
   and the ID masked; an identity the register cannot even be asked about (malformed ID, no name,
   no birth date) -> ``invalid``, quarantined, never sent; a procedure the register refuses to
   serve (LGSP 004) -> ``invalid`` under its own rule, the rest of the batch goes on. A register outage
   (``RetryableError``) leaves the dossier pending for the next run; any other adapter error --
   an untrusted reply above all -- leaves it pending too and fails the task with the reason.
3. :func:`summary` -- where every candidate stands; the counts must add up.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from adapters.errors import AdapterError, RetryableError
from adapters.population_db.client import (
    PARTNER,
    IdentityQuery,
    LookupPurpose,
    PopulationDbClient,
    ProcedureNotLicensed,
)
from hub.store import CheckResult, ClaimedCheck, HubStore, LookupAuditLog, PlannedCheck, PopulationChecks
from hub.store.population import FINAL, QUARANTINE_SOURCE, Outcome
from hub.store.records import QuarantineItem
from mappings.citizen_id import check_citizen_id
from mappings.code_tables import CodeTables
from mappings.identity import BirthDate, IdentityCheck, StatedIdentity, Verdict, compare, normalise_name
from mappings.masking import mask_citizen_id, mask_personal_data
from signing.digests import canonical_json

log = logging.getLogger(__name__)

PURPOSE = "xác thực người nộp hồ sơ"  # "verify the dossier's applicant": the why of every lookup
BATCH_SIZE = 200  # applicants per mapped task: ~3 s of register calls at 4 in flight
# Calls in flight per batch task. The register answers one person per call; 4 overlapped the
# network waits best on the benchmark machine (docs/benchmarks.md, bench.population_verify).
CONCURRENCY = 4
RULES = {
    Outcome.MISMATCH: "population.mismatch",
    Outcome.DIACRITICS_ONLY: "population.mismatch",
    Outcome.NOT_FOUND: "population.not_found",
    Outcome.INVALID: "population.invalid_identity",
}
NOT_LICENSED = "population.procedure_not_licensed"
IDENTITY = "candidates = match + mismatch + not_found + invalid + pending"


@dataclass(frozen=True)
class Identity:
    """What the city record says about its applicant (``birth`` None when absent or malformed;
    a bare year, "1957", is a birth date known only by its year) and the dossier's procedure."""

    citizen_id: str
    name: str
    birth: BirthDate | None
    procedure: str = ""

    @classmethod
    def of(cls, payload: dict[str, Any]) -> Identity:
        applicant = payload.get("chu_ho_so") or {}
        born = applicant.get("ngay_sinh")
        try:
            birth = BirthDate.parse(born) if isinstance(born, str) else None
        except ValueError:
            birth = None
        name = normalise_name(str(applicant.get("ho_ten") or ""))
        return cls(str(applicant.get("so_giay_to") or ""), name, birth, str(payload.get("ma_tthc") or ""))

    @property
    def digest(self) -> str:
        """SHA-256 of the identity as sent: equal digests need no second lookup."""
        birth = self.birth.isoformat() if self.birth else None
        return hashlib.sha256(canonical_json([self.citizen_id, self.name, birth])).hexdigest()

    @property
    def subject(self) -> str:
        return mask_citizen_id(self.citizen_id)

    def problems(self, tables: CodeTables, today: date) -> list[str]:
        """Why the register cannot be asked about this identity (empty when it can)."""
        found = []
        if not self.name:
            found.append("applicant name is empty")
        if self.birth is None:
            found.append("applicant birth date (chu_ho_so.ngay_sinh) is missing or neither an ISO date nor a year")
        if not self.procedure:
            found.append("the dossier names no procedure (ma_tthc), which the register licenses lookups by")
        found += [f"citizen ID: {reason}" for reason in check_citizen_id(self.citizen_id, tables, today=today)]
        return found


@dataclass(frozen=True)
class PlanReport:
    considered: int
    to_verify: int
    carried: int
    batches: list[str]


@dataclass
class BatchReport:
    batch_id: str
    checks: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def plan(store: HubStore, *, source: str, batch_size: int = BATCH_SIZE, page_size: int = 1000) -> PlanReport:
    """Mark what needs verifying and batch every pending check; returns the batch ids."""
    checks = PopulationChecks(store)
    considered = carried = 0
    for page in checks.iter_candidates(source, page_size):
        planned = []
        for candidate in page:
            identity = Identity.of(candidate.payload)
            known = candidate.identity_digest == identity.digest and candidate.outcome in FINAL
            planned.append(
                PlannedCheck(candidate.dossier_no, candidate.content_hash, identity.digest, identity.subject, known)
            )
        checks.record_plan(source, planned)
        considered += len(page)
        carried += sum(p.carried for p in planned)
    batches = checks.assign_batches(source, batch_size)
    return PlanReport(considered, considered - carried, carried, batches)


def verify_batch(
    store: HubStore,
    client: PopulationDbClient,
    batch_id: str,
    *,
    source: str,
    tables: CodeTables,
    today: date,
    concurrency: int = CONCURRENCY,
) -> BatchReport:
    """Verify one batch's applicants and store the results (see the module docstring for outcomes).

    Raises the first non-retryable adapter error after every other result of the batch is stored:
    what was answered by a trusted reply is kept, the rest stays pending.
    """
    checks = PopulationChecks(store)
    claimed = checks.claim_batch(batch_id)
    audit = LookupAuditLog(store, batch_id)
    fatal: list[AdapterError] = []
    stop = threading.Event()

    def verify(check: ClaimedCheck) -> CheckResult:
        identity = Identity.of(check.payload)
        problems = identity.problems(tables, today)
        if problems or identity.birth is None:
            return _result(check, identity, Outcome.INVALID, "; ".join(problems))
        if stop.is_set():  # a reply could not be trusted: ask nothing more in this batch
            return CheckResult(check.dossier_no, check.content_hash, Outcome.PENDING, error="batch stopped")
        query = IdentityQuery(identity.citizen_id, identity.name, identity.birth)
        try:
            answer = client.lookup(query, LookupPurpose(check.dossier_no, PURPOSE, identity.procedure), audit)
        except ProcedureNotLicensed as exc:
            return _result(
                check, identity, Outcome.INVALID, f"procedure {identity.procedure}: {exc}", rule=NOT_LICENSED
            )
        except RetryableError as exc:
            return CheckResult(check.dossier_no, check.content_hash, Outcome.PENDING, error=_describe(exc))
        except AdapterError as exc:
            stop.set()
            fatal.append(exc)
            return CheckResult(check.dossier_no, check.content_hash, Outcome.PENDING, error=_describe(exc))
        stated = StatedIdentity(identity.citizen_id, identity.name, identity.birth)
        return _from_answer(check, identity, compare(stated, answer.person), answer.request_id)

    report = BatchReport(batch_id, len(claimed))
    results = _map(verify, claimed, concurrency)
    checks.settle(source, results)
    report.outcomes.update(r.outcome.value for r in results)
    if fatal:
        raise fatal[0]
    return report


def _map(work: Callable[[ClaimedCheck], CheckResult], items: list[ClaimedCheck], concurrency: int) -> list[CheckResult]:
    """``work`` over ``items``, the first register call alone, the rest ``concurrency`` at a time.

    The first call goes alone because after an outage the transport's circuit breaker lets exactly
    one probe through while half-open and fails every concurrent call at once: alone, it closes the
    breaker for the rest of the batch instead of sending a burst of dossiers back to pending.
    """
    results: list[CheckResult] = []
    for item in items:
        results.append(work(item))
        if results[-1].outcome is not Outcome.INVALID:  # the register was asked (or refused)
            break
    rest = items[len(results) :]
    if concurrency <= 1 or len(rest) <= 1:
        return results + [work(item) for item in rest]
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="population") as pool:
        return results + list(pool.map(work, rest))


def _from_answer(check: ClaimedCheck, identity: Identity, answer: IdentityCheck, request_id: str) -> CheckResult:
    if answer.verdict is Verdict.MATCH:
        outcome = Outcome.MATCH
    elif answer.verdict is Verdict.NOT_FOUND:
        outcome = Outcome.NOT_FOUND
    else:
        outcome = Outcome.DIACRITICS_ONLY if answer.diacritics_only else Outcome.MISMATCH
    return _result(check, identity, outcome, answer.reason, answer.mismatched, request_id)


def _result(
    check: ClaimedCheck,
    identity: Identity,
    outcome: Outcome,
    reason: str,
    mismatched: tuple[str, ...] = (),
    request_id: str | None = None,
    *,
    rule: str | None = None,
) -> CheckResult:
    """A settled result, with its quarantine entry (under ``rule``, else the outcome's) when the
    outcome is not a match."""
    rule = rule or RULES.get(outcome)
    quarantine = None
    if rule is not None:
        fields = f"; differing fields: {', '.join(mismatched)}" if mismatched else ""
        text = f"population database, citizen {identity.subject}: {reason}{fields}"
        quarantine = QuarantineItem(
            QUARANTINE_SOURCE,
            check.dossier_no,
            rule,
            mask_personal_data(text),
            check.content_hash,
            {"outcome": outcome.value, "subject": identity.subject, "mismatched": list(mismatched)},
        )
    return CheckResult(
        check.dossier_no,
        check.content_hash,
        outcome,
        mismatched,
        mask_personal_data(reason),
        request_id,
        quarantine=quarantine,
    )


def _describe(exc: AdapterError) -> str:
    return mask_personal_data(f"{type(exc).__name__}: {exc}")


def summary(store: HubStore, *, source: str) -> dict[str, Any]:
    """Where every current citizen dossier stands, and whether the counts add up."""
    checks = PopulationChecks(store)
    counts = checks.counts(source)
    diacritics_only = counts.pop(Outcome.DIACRITICS_ONLY.value)
    counts[Outcome.MISMATCH.value] += diacritics_only
    accounted = sum(counts[o.value] for o in (Outcome.MATCH, Outcome.MISMATCH, Outcome.NOT_FOUND, Outcome.INVALID))
    accounted += counts[Outcome.PENDING.value]
    return {
        "source": source,
        "partner": PARTNER,
        "counts": {**counts, "mismatch_diacritics_only": diacritics_only},
        "identity": IDENTITY,
        "identity_holds": counts["candidates"] == accounted,
        "quarantine_by_rule": store.quarantine.counts_by_rule(QUARANTINE_SOURCE),
        "lookups": checks.lookup_counts(),
        "exchanges": store.message_log.count_exchanges(PARTNER),
    }
