"""Population-database verification on the hub store: the lookup audit log and each dossier's result.

Two tables, for two readers:

- ``population_lookup_audit`` -- **append-only**, one row per access to a citizen's data (a
  :class:`LookupRecord`, as the population adapter's ``AuditRecord`` is: asked the register,
  answered from the cache, or failed), for the data-protection officer (Decree 13/2023): who (agency ``MaDVC`` and
  officer ``MaCanBo`` from the connection's configuration), why (dossier number and purpose),
  when, what came of it, and whom -- as the masked ID and its SHA-256, never the full number.
  There is no update or delete of it anywhere in the code, and the database refuses both
  (a trigger on SQLite and PostgreSQL): a bug or a hand-typed statement cannot rewrite who
  looked at whom.
- ``population_check`` -- one current row per dossier, for officers: which version
  (content hash) was checked, the outcome (``match``, ``mismatch``, ``diacritics_only``,
  ``not_found``, ``invalid`` when the record's identity could not even be asked about, or
  ``pending``), the differing fields, the reason, and when. Upserts keep it idempotent.

Mismatches go to the shared quarantine under their own source (:data:`QUARANTINE_SOURCE`): the
portal sync's planning closes every open entry of the ``city`` dossiers it considers, and a
register verdict is not the city record's to close -- only a later verification is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa

from hub.store import schema as t
from hub.store.database import chunks, utc
from hub.store.records import QuarantineItem
from hub.store.staging import current_version_of
from hub.store.store import HubStore
from hub.store.work_queue import QueueSpec, WorkQueue

QUARANTINE_SOURCE = "population_db"
RULE_PREFIX = "population."

population_lookup_audit = sa.Table(
    "population_lookup_audit",
    t.metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("at", t.Timestamp, nullable=False),
    sa.Column("partner", sa.String(40), nullable=False),
    sa.Column("operation", sa.String(60), nullable=False),
    sa.Column("dossier_no", sa.String(64), nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("agency", sa.String(64), nullable=False),
    sa.Column("officer", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(32), nullable=False),
    sa.Column("subject_digest", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(80), nullable=False),
    # The hub batch the lookup was made for (None outside a pipeline batch).
    sa.Column("batch_id", sa.String(64)),
    sa.Index("ix_population_audit_dossier", "dossier_no"),
    sa.Index("ix_population_audit_subject", "subject_digest", "at"),
)

# Append-only enforced by the database itself. Someone with DDL rights can still drop a trigger;
# that is a privilege question for the deployment (the hub's runtime role needs no DDL after
# create_schema), not something a trigger can settle.
_REFUSAL = "population_lookup_audit is append-only: lookups of personal data are never rewritten"
for _event in ("UPDATE", "DELETE"):
    sa.event.listen(
        population_lookup_audit,
        "after_create",
        sa.DDL(
            f"CREATE TRIGGER population_lookup_audit_no_{_event.lower()} BEFORE {_event} ON population_lookup_audit "
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
        ).execute_if(dialect="sqlite"),
    )
sa.event.listen(
    population_lookup_audit,
    "after_create",
    sa.DDL(
        "CREATE OR REPLACE FUNCTION population_lookup_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$; "
        "CREATE TRIGGER population_lookup_audit_append_only BEFORE UPDATE OR DELETE ON population_lookup_audit "
        "FOR EACH ROW EXECUTE FUNCTION population_lookup_audit_refuse()"
    ).execute_if(dialect="postgresql"),
)

population_check = sa.Table(
    "population_check",
    t.metadata,
    sa.Column("source", sa.String(40), primary_key=True),
    sa.Column("dossier_no", sa.String(64), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    # SHA-256 of (ID, NFC name, birth date): a new version with the same identity needs no new lookup.
    sa.Column("identity_digest", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("mismatched", sa.String(80)),
    sa.Column("reason", sa.Text),
    sa.Column("subject", sa.String(32), nullable=False),
    sa.Column("request_id", sa.String(64)),
    sa.Column("batch_id", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("checked_at", t.Timestamp),
    sa.Column("updated_at", t.Timestamp, nullable=False),
    sa.Index("ix_population_check_batch", "batch_id"),
    sa.Index("ix_population_check_outcome", "source", "outcome"),
)


class Outcome(StrEnum):
    PENDING = "pending"
    MATCH = "match"
    MISMATCH = "mismatch"
    DIACRITICS_ONLY = "diacritics_only"
    NOT_FOUND = "not_found"
    INVALID = "invalid"


# Checks wait in ``pending`` until settled; a claim only reads them (a re-run verifies again).
QUEUE = QueueSpec(table=population_check, key=("source", "dossier_no"), state="outcome", ready=(Outcome.PENDING.value,))

# What a (re-)plan resets: the row now speaks of the version to verify and knows nothing of it yet.
_PLANNED_COLUMNS = ("content_hash", "identity_digest", "subject", "outcome", "mismatched", "reason", "request_id")
FINAL = tuple(o.value for o in Outcome if o is not Outcome.PENDING)


@dataclass(frozen=True)
class Candidate:
    """A current citizen dossier whose current version has no settled check, with the row it has."""

    dossier_no: str
    content_hash: str
    payload: dict[str, Any]
    identity_digest: str | None
    outcome: str | None


@dataclass(frozen=True)
class PlannedCheck:
    """Planning's word on a candidate: to verify (pending), or already known for this identity
    (``carried``: the previous version's verdict holds, no lookup needed)."""

    dossier_no: str
    content_hash: str
    identity_digest: str
    subject: str
    carried: bool = False


@dataclass(frozen=True)
class ClaimedCheck:
    """A pending check taken by a batch, with the staged record of the version to verify."""

    dossier_no: str
    content_hash: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class CheckResult:
    """What one verification came to. ``outcome`` pending means the register was unreachable."""

    dossier_no: str
    content_hash: str
    outcome: Outcome
    mismatched: tuple[str, ...] = ()
    reason: str | None = None
    request_id: str | None = None
    error: str | None = None
    quarantine: QuarantineItem | None = None


class LookupRecord(Protocol):
    """One access to a citizen's data, as the audit keeps it: the store declares what it reads
    instead of importing the adapter (and with it the SOAP stack)."""

    @property
    def at(self) -> datetime: ...
    @property
    def partner(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def dossier_no(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def agency(self) -> str: ...
    @property
    def officer(self) -> str: ...
    @property
    def request_id(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def subject_digest(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def outcome(self) -> str: ...


# What a lookup record fills; the audit adds the batch and its own id.
_LOOKUP_FIELDS = tuple(c.name for c in population_lookup_audit.columns if c.name not in ("id", "at", "batch_id"))


class LookupAuditLog:
    """The adapter's ``AuditWriter`` on the store: each record committed before the lookup's result
    is used, so an access the log could not keep fails the call instead of passing silently."""

    def __init__(self, store: HubStore, batch_id: str | None = None) -> None:
        self.db = store.db
        self.batch_id = batch_id

    def write(self, record: LookupRecord) -> None:
        row = {
            **{name: getattr(record, name) for name in _LOOKUP_FIELDS},
            "at": utc(record.at),
            "batch_id": self.batch_id,
        }
        with self.db.engine.begin() as conn:
            conn.execute(population_lookup_audit.insert(), row)


class PopulationChecks:
    """``population_check`` and the lookup audit on the hub store's database; checks move through the work queue."""

    def __init__(self, store: HubStore) -> None:
        self.db = store.db
        self.queue = WorkQueue(self.db, QUEUE)
        self._quarantine = store.quarantine

    # -- planning --------------------------------------------------------------------------

    def _citizen_dossiers(self, source: str) -> sa.Select[Any]:
        """Current dossiers of ``source`` (number, hash, staged record) whose applicant is a citizen
        (``CONG_DAN``) with an ID."""
        cur, staged = t.dossier_current, t.staged_dossier
        applicant = staged.c.payload["chu_ho_so"]
        return (
            sa.select(cur.c.dossier_no, cur.c.content_hash, staged.c.payload)
            .join(staged, current_version_of(staged, cur))
            .where(
                cur.c.source == source,
                staged.c.payload[("chu_ho_so", "loai")].as_string() == "CONG_DAN",
                applicant[("so_giay_to",)].as_string().is_not(None),
                applicant[("so_giay_to",)].as_string() != "",
            )
        )

    def iter_candidates(self, source: str, page_size: int) -> Iterator[list[Candidate]]:
        """Citizen dossiers whose current version has no settled check (none, an older version's, or
        a pending one). Keyset-paged by dossier number, so the caller records its plan between pages."""
        check = population_check
        citizens = self._citizen_dossiers(source).subquery()
        query = (
            sa.select(
                citizens.c.dossier_no,
                citizens.c.content_hash,
                citizens.c.payload,
                check.c.identity_digest,
                check.c.outcome,
            )
            .outerjoin(check, sa.and_(check.c.source == source, check.c.dossier_no == citizens.c.dossier_no))
            .where(
                sa.or_(
                    check.c.content_hash.is_(None),
                    check.c.content_hash != citizens.c.content_hash,
                    check.c.outcome == Outcome.PENDING.value,
                ),
            )
        )
        return self.db.keyset_pages(query, citizens.c.dossier_no, page_size, Candidate)

    def record_plan(self, source: str, planned: Sequence[PlannedCheck]) -> None:
        """Upsert one page of plans: a carried row only moves to the new version (its verdict, reason
        and quarantine stand); the others become pending for the version to verify."""
        if not planned:
            return
        now = self.db.now()
        check = population_check
        carried = [p for p in planned if p.carried]
        upsert = self.db.insert(check)
        statement = upsert.on_conflict_do_update(
            index_elements=["source", "dossier_no"],
            set_={c: upsert.excluded[c] for c in (*_PLANNED_COLUMNS, "updated_at")},
        )
        rows = [
            {
                "source": source,
                "dossier_no": p.dossier_no,
                "content_hash": p.content_hash,
                "identity_digest": p.identity_digest,
                "subject": p.subject,
                "outcome": Outcome.PENDING.value,
                "mismatched": None,
                "reason": None,
                "request_id": None,
                "attempts": 0,
                "updated_at": now,
            }
            for p in planned
            if not p.carried
        ]
        with self.db.writing() as conn:
            for chunk in chunks(rows):
                conn.execute(statement, list(chunk))
            if carried:
                conn.execute(
                    check.update()
                    .where(check.c.source == source, check.c.dossier_no == sa.bindparam("b_no"))
                    .values(content_hash=sa.bindparam("b_hash"), updated_at=now),
                    [{"b_no": p.dossier_no, "b_hash": p.content_hash} for p in carried],
                )

    def assign_batches(self, source: str, batch_size: int) -> list[str]:
        """Cut every pending check of ``source`` into batches; return their ids (what tasks map over).

        Pending rows left by an outage or a dead task are batched again here, so nothing waits
        for more than one run once the register answers.
        """
        return self.queue.assign(batch_size, "population", population_check.c.source == source)

    # -- verifying -------------------------------------------------------------------------

    def claim_batch(self, batch_id: str) -> list[ClaimedCheck]:
        """The batch's still-pending checks with the staged record of the version each is about."""
        check, staged = population_check, t.staged_dossier
        query = sa.select(check.c.dossier_no, check.c.content_hash, staged.c.payload, check.c.attempts).join(
            staged, current_version_of(staged, check)
        )
        return [ClaimedCheck(*row) for row in self.queue.claim(batch_id, query)]

    def settle(self, source: str, results: Sequence[CheckResult]) -> None:
        """Record a batch's results in one transaction.

        A settled dossier's open ``population.*`` quarantine entries are closed first, then its new
        entry (if any) is opened, so the quarantine says what the latest verdict says. A pending
        result (register unreachable) only counts the attempt and keeps the error; the row stays
        pending for the next run. A result for a version that is no longer the row's is dropped.
        """
        if not results:
            return
        now = self.db.now()
        check = population_check
        settled = [r for r in results if r.outcome is not Outcome.PENDING]
        failed = [r for r in results if r.outcome is Outcome.PENDING]
        same_version = check.c.content_hash == sa.bindparam("b_hash")

        def item(r: CheckResult) -> dict[str, Any]:
            return {"k_source": source, "k_dossier_no": r.dossier_no, "b_hash": r.content_hash, "b_tried": 1}

        with self.db.writing() as conn:
            if settled:
                self.queue.settle_in(
                    conn,
                    [
                        {
                            **item(r),
                            "b_state": r.outcome.value,
                            "b_mismatched": ",".join(r.mismatched) or None,
                            "b_reason": r.reason,
                            "b_request": r.request_id,
                        }
                        for r in settled
                    ],
                    same_version,
                    mismatched=sa.bindparam("b_mismatched"),
                    reason=sa.bindparam("b_reason"),
                    request_id=sa.bindparam("b_request"),
                    last_error=None,
                    checked_at=now,
                )
                settled_nos = [r.dossier_no for r in settled]
                self._quarantine.resolve_in(conn, QUARANTINE_SOURCE, settled_nos, rule_prefix=RULE_PREFIX)
                self._quarantine.add_in(conn, [r.quarantine for r in settled if r.quarantine is not None])
            # The register was unreachable: the outcome stays as it is, only the attempt counts.
            self.queue.settle_in(
                conn,
                [{**item(r), "b_error": r.error} for r in failed],
                same_version,
                outcome=check.c.outcome,
                last_error=sa.bindparam("b_error"),
            )

    # -- reading ---------------------------------------------------------------------------

    def counts(self, source: str) -> dict[str, int]:
        """Where every current citizen dossier stands: ``candidates`` (counted on their own) and one
        count per outcome, where ``pending`` is any dossier whose current version has no settled
        check (never planned, planned, or left by an outage)."""
        check = population_check
        citizens = self._citizen_dossiers(source).subquery()
        settled = sa.and_(check.c.content_hash == citizens.c.content_hash, check.c.outcome.in_(FINAL))
        outcome = sa.case((settled, check.c.outcome), else_=Outcome.PENDING.value)
        by_outcome = (
            sa.select(outcome, sa.func.count())
            .select_from(citizens)
            .outerjoin(check, sa.and_(check.c.source == source, check.c.dossier_no == citizens.c.dossier_no))
            .group_by(outcome)
        )
        with self.db.engine.connect() as conn:
            candidates = int(conn.execute(sa.select(sa.func.count()).select_from(citizens)).scalar_one())
            found = {name: int(n) for name, n in conn.execute(by_outcome)}
        return {"candidates": candidates, **{o.value: found.get(o.value, 0) for o in Outcome}}

    def lookup_counts(self) -> dict[str, int]:
        """Audited lookups by how they were answered (``partner``, ``cache``, ``failed``)."""
        audit = population_lookup_audit
        with self.db.engine.connect() as conn:
            rows = conn.execute(sa.select(audit.c.source, sa.func.count()).group_by(audit.c.source))
            return {name: int(n) for name, n in rows}

    def check_of(self, source: str, dossier_no: str) -> dict[str, Any] | None:
        """The verification result stored on a dossier, as an officer's screen shows it."""
        check = population_check
        query = sa.select(check).where(check.c.source == source, check.c.dossier_no == dossier_no)
        with self.db.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        found = dict(row._mapping)
        return {**found, "checked_at": utc(found["checked_at"]), "updated_at": utc(found["updated_at"])}

    def audit_records(
        self, *, dossier_no: str | None = None, subject_digest: str | None = None
    ) -> list[dict[str, Any]]:
        """Lookups in the order they were made, optionally of one dossier or one person (by digest)."""
        audit = population_lookup_audit
        query = sa.select(audit).order_by(audit.c.id)
        if dossier_no is not None:
            query = query.where(audit.c.dossier_no == dossier_no)
        if subject_digest is not None:
            query = query.where(audit.c.subject_digest == subject_digest)
        with self.db.engine.connect() as conn:
            return [{**row._mapping, "at": utc(row.at)} for row in conn.execute(query)]
