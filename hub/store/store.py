"""The hub store: bulk, idempotent operations over the tables in ``schema``.

Every method takes or returns whole batches and runs one transaction, because per-record
commits are what makes a naive sync slow (see bench/). Upserts make every write repeatable:
re-running a task for the same data interval leaves the same rows behind.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from cryptography import x509
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from hub.store import schema as t
from hub.store.facts import dossier_facts
from hub.store.records import (
    ClaimedMessage,
    CurrentRecord,
    DeliveryState,
    Disposition,
    JsonText,
    LoggedEntry,
    LogHead,
    LogSeal,
    MessageLogEntry,
    OutboxMessage,
    OutboxState,
    QuarantineItem,
    Settlement,
    StageCounts,
    StagedRecord,
)
from signing import evidence
from signing.keys import SigningIdentity

# Keeps IN (...) lists and multi-row statements under SQLite's bound-parameter limit.
_CHUNK = 500

Row = TypeVar("Row", bound="_KeyedRow")


class _KeyedRow(Protocol):
    dossier_no: str


def current_version_of(staged: sa.FromClause, current: sa.FromClause) -> sa.ColumnElement[bool]:
    """Join condition: the staged row that is ``current``'s version (same source, number, hash)."""
    return sa.and_(
        staged.c.source == current.c.source,
        staged.c.dossier_no == current.c.dossier_no,
        staged.c.content_hash == current.c.content_hash,
    )


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone; the store always writes UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class HubStore:
    """Owns one SQLAlchemy engine (a connection pool) per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url)
        self._insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert

    def create_schema(self) -> None:
        self._refuse_unchained_message_log()
        t.metadata.create_all(self.engine)

    def _refuse_unchained_message_log(self) -> None:
        """A store created before the log was hash-chained has a ``message_log`` without ``seq``.

        ``create_all`` would leave it as it is and every append would then fail obscurely; the
        old rows are digests only and cannot be chained after the fact, so say what to do.
        """
        inspector = sa.inspect(self.engine)
        if inspector.has_table("message_log"):
            columns = {c["name"] for c in inspector.get_columns("message_log")}
            if "seq" not in columns:
                raise RuntimeError(
                    "this hub store has a message_log from before the evidence log (no seq/entry_hash "
                    "columns); rename or drop that table (ALTER TABLE message_log RENAME TO "
                    "message_log_v0) and the hub creates the hash-chained log on its next start"
                )

    def now(self) -> datetime:
        return datetime.now(UTC)

    # -- staging ---------------------------------------------------------------------------

    def stage(self, source: str, records: Sequence[StagedRecord], batch_id: str) -> StageCounts:
        """Store new versions of source records; a record whose content is unchanged adds nothing."""
        if not records:
            return StageCounts(0, 0)
        latest = {r.dossier_no: r for r in records}  # a page may hold a record twice; keep the last
        now = self.now()
        with self.engine.begin() as conn:
            known = self._current_hashes(conn, source, list(latest))
            fresh = [r for r in latest.values() if known.get(r.dossier_no) != r.content_hash]
            if fresh:
                rows = [
                    {
                        "source": source,
                        "dossier_no": r.dossier_no,
                        "content_hash": r.content_hash,
                        "payload": r.payload,
                        "source_updated_at": utc(r.source_updated_at),
                        "batch_id": batch_id,
                        "staged_at": now,
                    }
                    for r in fresh
                ]
                conn.execute(self._insert(t.staged_dossier).on_conflict_do_nothing(), rows)
                upsert = self._insert(t.dossier_current)
                conn.execute(
                    upsert.on_conflict_do_update(
                        index_elements=["source", "dossier_no"],
                        set_={
                            c: upsert.excluded[c]
                            for c in ("content_hash", "source_updated_at", "batch_id", "staged_at")
                        },
                    ),
                    [{k: row[k] for k in row if k != "payload"} for row in rows],
                )
                self._stage_facts(conn, source, [r for r in fresh if r.facts is not None])
        return StageCounts(new_versions=len(fresh), unchanged=len(records) - len(fresh))

    def _stage_facts(self, conn: Connection, source: str, records: Sequence[StagedRecord]) -> None:
        """Upsert the versions' facts in the staging transaction (why: see ``hub.store.facts``)."""
        if not records:
            return
        rows = [
            {
                "source": source,
                "dossier_no": r.dossier_no,
                "content_hash": r.content_hash,
                **{k: utc(v) if isinstance(v, datetime) else v for k, v in vars(r.facts).items()},
            }
            for r in records
        ]
        upsert = self._insert(dossier_facts)
        kept = [c.name for c in dossier_facts.columns if c.name not in ("source", "dossier_no")]
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=["source", "dossier_no"], set_={c: upsert.excluded[c] for c in kept}
            ),
            rows,
        )

    def _current_hashes(self, conn: Connection, source: str, dossier_nos: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(dossier_nos):
            query = sa.select(t.dossier_current.c.dossier_no, t.dossier_current.c.content_hash).where(
                t.dossier_current.c.source == source, t.dossier_current.c.dossier_no.in_(chunk)
            )
            found.update(dict(conn.execute(query).all()))
        return found

    def iter_unsettled(self, source: str, partner: str, batch_size: int) -> Iterator[list[CurrentRecord]]:
        """Current versions the partner's delivery state has not yet caught up with.

        Keyset-paged by dossier number, so the caller may update delivery states between pages.
        """
        cur, staged, dlv = t.dossier_current, t.staged_dossier, t.delivery
        query = (
            sa.select(cur.c.dossier_no, cur.c.content_hash, staged.c.payload, dlv.c.acked_hash)
            .join(staged, current_version_of(staged, cur))
            .outerjoin(dlv, sa.and_(dlv.c.partner == partner, dlv.c.dossier_no == cur.c.dossier_no))
            .where(
                cur.c.source == source,
                sa.or_(dlv.c.content_hash.is_(None), dlv.c.content_hash != cur.c.content_hash),
            )
        )
        return self.keyset_pages(query, cur.c.dossier_no, batch_size, CurrentRecord)

    def keyset_pages(
        self, query: sa.Select[Any], key: sa.ColumnElement[str], page_size: int, make: Callable[..., Row]
    ) -> Iterator[list[Row]]:
        """``query``'s rows as ``make(*row)``, in pages ordered by dossier number ``key``.

        Each page is read in its own short transaction after the caller has handled the previous
        one, so callers may write decisions for a page before the next is read.
        """
        after = ""
        while True:
            paged = query.where(key > after).order_by(key).limit(page_size)
            with self.engine.connect() as conn:
                page = [make(*row) for row in conn.execute(paged)]
            if not page:
                return
            yield page
            after = page[-1].dossier_no

    def count_staged(self, source: str, batch_ids: Iterable[str] | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(t.dossier_current).where(t.dossier_current.c.source == source)
        if batch_ids is not None:
            query = query.where(t.dossier_current.c.batch_id.in_(list(batch_ids)))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # -- watermarks -------------------------------------------------------------------------

    def get_watermark(self, source: str) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(t.watermark.c.value).where(t.watermark.c.source == source)).scalar()
        return utc(value)

    def advance_watermark(self, source: str, value: datetime) -> datetime:
        """Move the watermark forward only: a re-run of an older interval never rewinds it."""
        current = self.get_watermark(source)
        target = max(v for v in (current, utc(value)) if v is not None)
        upsert = self._insert(t.watermark)
        with self.engine.begin() as conn:
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["source"],
                    set_={"value": upsert.excluded.value, "updated_at": upsert.excluded.updated_at},
                ),
                {"source": source, "value": target, "updated_at": self.now()},
            )
        return target

    # -- delivery dispositions --------------------------------------------------------------

    def set_dispositions(self, partner: str, dispositions: Sequence[Disposition]) -> None:
        """Record where each dossier version stands; the acknowledged hash is never touched here."""
        if dispositions:
            with self.engine.begin() as conn:
                self._set_dispositions(conn, partner, dispositions)

    def _set_dispositions(self, conn: Connection, partner: str, dispositions: Sequence[Disposition]) -> None:
        if not dispositions:
            return
        now = self.now()
        upsert = self._insert(t.delivery)
        statement = upsert.on_conflict_do_update(
            index_elements=["partner", "dossier_no"],
            set_={c: upsert.excluded[c] for c in ("source", "content_hash", "state", "reason", "updated_at")},
        )
        rows = [
            {
                "partner": partner,
                "dossier_no": d.dossier_no,
                "source": d.source,
                "content_hash": d.content_hash,
                "state": d.state.value,
                "reason": d.reason,
                "updated_at": now,
            }
            for d in dispositions
        ]
        for chunk in _chunks(rows):
            conn.execute(statement, list(chunk))

    def disposition_counts(self, partner: str, source: str | None = None) -> dict[str, int]:
        query = (
            sa.select(t.delivery.c.state, sa.func.count())
            .where(t.delivery.c.partner == partner)
            .group_by(t.delivery.c.state)
        )
        if source is not None:
            query = query.where(t.delivery.c.source == source)
        with self.engine.connect() as conn:
            counts = dict(conn.execute(query).all())
        return {state.value: int(counts.get(state.value, 0)) for state in DeliveryState}

    # -- outbox -----------------------------------------------------------------------------

    def enqueue(self, messages: Sequence[OutboxMessage]) -> int:
        """Add messages; one whose idempotency key exists already is ignored. Returns how many were new."""
        if not messages:
            return 0
        with self.engine.begin() as conn:
            return self._enqueue(conn, messages)

    def _enqueue(self, conn: Connection, messages: Sequence[OutboxMessage]) -> int:
        if not messages:
            return 0
        now = self.now()
        rows = [
            {
                "idempotency_key": m.idempotency_key,
                "partner": m.partner,
                "operation": m.operation,
                "dossier_no": m.dossier_no,
                "content_hash": m.content_hash,
                "payload": m.payload,
                "state": OutboxState.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for m in messages
        ]
        inserted = 0
        statement = self._insert(t.outbox).on_conflict_do_nothing(index_elements=["idempotency_key"])
        for chunk in _chunks(rows):
            inserted += conn.execute(statement, list(chunk)).rowcount or 0
        return inserted

    def supersede(self, partner: str, operation: str, current: dict[str, str]) -> int:
        """Retire unsent messages for older versions of the given dossiers (dossier -> current hash)."""
        if not current:
            return 0
        with self._writing() as conn:
            return self._supersede(conn, partner, operation, current)

    def _supersede(self, conn: Connection, partner: str, operation: str, current: dict[str, str]) -> int:
        ob = t.outbox
        open_states = [OutboxState.PENDING.value, OutboxState.FAILED.value]
        retired = 0
        for chunk in _chunks(list(current)):
            rows = conn.execute(
                sa.select(ob.c.id, ob.c.dossier_no, ob.c.content_hash).where(
                    ob.c.partner == partner,
                    ob.c.operation == operation,
                    ob.c.state.in_(open_states),
                    ob.c.dossier_no.in_(chunk),
                )
            )
            stale = [row_id for row_id, dossier_no, h in rows if current[dossier_no] != h]
            if stale:
                conn.execute(
                    ob.update()
                    .where(ob.c.id.in_(stale))
                    .values(state=OutboxState.SUPERSEDED.value, updated_at=self.now())
                )
                retired += len(stale)
        return retired

    def record_plan(
        self,
        partner: str,
        operation: str,
        source: str,
        *,
        considered: Sequence[str],
        current: dict[str, str],
        messages: Sequence[OutboxMessage],
        quarantine: Sequence[QuarantineItem],
        dispositions: Sequence[Disposition],
    ) -> tuple[int, int]:
        """Write one page of a sync plan in one transaction; returns (superseded, queued).

        Retires messages of older versions (``current``: dossier -> newest hash), queues the new
        ones, closes the quarantine of the ``considered`` dossiers and re-opens what broke a rule
        again, and records every disposition. One commit instead of five per page, and a crash
        can no longer leave a page's messages queued without their dispositions.
        """
        with self._writing() as conn:
            superseded = self._supersede(conn, partner, operation, current) if current else 0
            queued = self._enqueue(conn, messages)
            self._resolve_quarantine(conn, source, considered)
            self._quarantine(conn, quarantine)
            self._set_dispositions(conn, partner, dispositions)
        return superseded, queued

    def assign_batches(
        self,
        partner: str,
        operation: str,
        batch_size: int,
        *,
        lease: timedelta = timedelta(minutes=15),
        require_delivered_dossier: bool = False,
    ) -> list[str]:
        """Group the messages due now into batches and return their ids (what DAG tasks map over).

        Due means pending, failed with its retry time reached, or sent so long ago that the
        sender must have died (the partner's upsert semantics make the resend harmless).
        ``require_delivered_dossier`` holds back messages (progress entries) whose dossier the
        partner has not acknowledged yet.
        """
        ob, dlv = t.outbox, t.delivery
        now = self.now()
        due = sa.or_(
            ob.c.state == OutboxState.PENDING.value,
            sa.and_(ob.c.state == OutboxState.FAILED.value, ob.c.next_attempt_at <= now),
            sa.and_(ob.c.state == OutboxState.SENT.value, ob.c.updated_at <= now - lease),
        )
        query = sa.select(ob.c.id).where(ob.c.partner == partner, ob.c.operation == operation, due)
        if require_delivered_dossier:
            query = query.join(dlv, sa.and_(dlv.c.partner == ob.c.partner, dlv.c.dossier_no == ob.c.dossier_no)).where(
                dlv.c.acked_hash.is_not(None)
            )
        batch_ids: list[str] = []
        with self.engine.begin() as conn:
            ids = list(conn.execute(query.order_by(ob.c.id)).scalars())
            for batch in _chunks(ids, batch_size):
                batch_id = f"{operation}-{uuid.uuid4().hex[:12]}"
                for chunk in _chunks(batch):
                    conn.execute(ob.update().where(ob.c.id.in_(chunk)).values(batch_id=batch_id))
                batch_ids.append(batch_id)
        return batch_ids

    def claim_batch(self, batch_id: str) -> list[ClaimedMessage]:
        """Take a batch's still-open messages for sending and mark them sent."""
        ob, dlv = t.outbox, t.delivery
        open_states = [OutboxState.PENDING.value, OutboxState.FAILED.value, OutboxState.SENT.value]
        query = (
            sa.select(
                ob.c.id,
                ob.c.idempotency_key,
                ob.c.dossier_no,
                ob.c.content_hash,
                ob.c.payload,
                ob.c.attempts,
                dlv.c.acked_hash.is_not(None),
            )
            .outerjoin(dlv, sa.and_(dlv.c.partner == ob.c.partner, dlv.c.dossier_no == ob.c.dossier_no))
            .where(ob.c.batch_id == batch_id, ob.c.state.in_(open_states))
            .order_by(ob.c.id)
        )
        with self._writing() as conn:
            claimed = [ClaimedMessage(*row[:6], updating=bool(row[6])) for row in conn.execute(query)]
            for chunk in _chunks([m.id for m in claimed]):
                conn.execute(
                    ob.update().where(ob.c.id.in_(chunk)).values(state=OutboxState.SENT.value, updated_at=self.now())
                )
        return claimed

    def settle(self, partner: str, settlements: Sequence[Settlement], *, acks_deliver_dossier: bool) -> None:
        """Apply send outcomes in bulk.

        ``acks_deliver_dossier`` is true for the operation whose acknowledgement means "the partner
        now holds this dossier version": those acknowledgements move the dossier to ``delivered``.
        """
        if not settlements:
            return
        ob, dlv = t.outbox, t.delivery
        now = self.now()
        params = [
            {
                "b_id": s.message_id,
                "b_state": s.state.value,
                "b_error": s.error,
                "b_next": s.next_attempt_at,
                "b_tried": 1,
            }
            for s in settlements
        ]
        update = (
            ob.update()
            .where(ob.c.id == sa.bindparam("b_id"))
            .values(
                state=sa.bindparam("b_state"),
                last_error=sa.bindparam("b_error"),
                next_attempt_at=sa.bindparam("b_next"),
                attempts=ob.c.attempts + sa.bindparam("b_tried"),
                updated_at=now,
            )
        )
        acked = [s.message_id for s in settlements if s.state is OutboxState.ACKNOWLEDGED and acks_deliver_dossier]
        with self.engine.begin() as conn:
            conn.execute(update, params)
            for chunk in _chunks(acked):
                rows = conn.execute(sa.select(ob.c.dossier_no, ob.c.content_hash).where(ob.c.id.in_(chunk))).all()
                conn.execute(
                    dlv.update()
                    .where(dlv.c.partner == partner, dlv.c.dossier_no == sa.bindparam("b_dossier"))
                    .values(
                        acked_hash=sa.bindparam("b_hash"),
                        acked_at=now,
                        updated_at=now,
                        state=sa.case(
                            (dlv.c.content_hash == sa.bindparam("b_hash"), DeliveryState.DELIVERED.value),
                            else_=dlv.c.state,
                        ),
                    ),
                    [{"b_dossier": d, "b_hash": h} for d, h in rows],
                )

    def outbox_counts(self, partner: str) -> dict[str, dict[str, int]]:
        """Messages per operation and state, for summaries and `hub outbox status`."""
        ob = t.outbox
        query = (
            sa.select(ob.c.operation, ob.c.state, sa.func.count())
            .where(ob.c.partner == partner)
            .group_by(ob.c.operation, ob.c.state)
        )
        counts: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for operation, state, n in conn.execute(query):
                counts.setdefault(operation, {})[state] = int(n)
        return counts

    def oldest_pending_age(self, partner: str) -> timedelta | None:
        ob = t.outbox
        open_states = [OutboxState.PENDING.value, OutboxState.FAILED.value, OutboxState.SENT.value]
        with self.engine.connect() as conn:
            oldest = conn.execute(
                sa.select(sa.func.min(ob.c.created_at)).where(ob.c.partner == partner, ob.c.state.in_(open_states))
            ).scalar()
        return None if oldest is None else self.now() - utc(oldest)

    # -- quarantine -------------------------------------------------------------------------

    def quarantine(self, items: Sequence[QuarantineItem]) -> None:
        """Keep what broke a rule; seeing the same breach again updates ``last_seen``, not a new row."""
        if items:
            with self.engine.begin() as conn:
                self._quarantine(conn, items)

    def _quarantine(self, conn: Connection, items: Sequence[QuarantineItem]) -> None:
        if not items:
            return
        now = self.now()
        upsert = self._insert(t.quarantine)
        statement = upsert.on_conflict_do_update(
            index_elements=["source", "dossier_no", "rule"],
            set_={
                "reason": upsert.excluded.reason,
                "content_hash": upsert.excluded.content_hash,
                "payload": upsert.excluded.payload,
                "last_seen": upsert.excluded.last_seen,
                "occurrences": t.quarantine.c.occurrences + 1,
                "resolved_at": None,
            },
        )
        rows = [
            {
                "source": i.source,
                "dossier_no": i.dossier_no,
                "rule": i.rule,
                "reason": i.reason,
                "content_hash": i.content_hash,
                "payload": i.payload,
                "first_seen": now,
                "last_seen": now,
                "occurrences": 1,
            }
            for i in items
        ]
        for chunk in _chunks(rows):
            conn.execute(statement, list(chunk))

    def resolve_quarantine(self, source: str, dossier_nos: Sequence[str]) -> int:
        """Close open entries of dossiers whose newest version passed: the fix arrived from the source."""
        with self.engine.begin() as conn:
            return self._resolve_quarantine(conn, source, dossier_nos)

    def _resolve_quarantine(self, conn: Connection, source: str, dossier_nos: Sequence[str]) -> int:
        q = t.quarantine
        resolved = 0
        for chunk in _chunks(list(dossier_nos)):
            resolved += (
                conn.execute(
                    q.update()
                    .where(q.c.source == source, q.c.dossier_no.in_(chunk), q.c.resolved_at.is_(None))
                    .values(resolved_at=self.now())
                ).rowcount
                or 0
            )
        return resolved

    def open_quarantine(self, source: str | None = None) -> list[dict[str, Any]]:
        q = t.quarantine
        query = (
            sa.select(
                q.c.source,
                q.c.dossier_no,
                q.c.rule,
                q.c.reason,
                q.c.first_seen,
                q.c.last_seen,
                q.c.occurrences,
            )
            .where(q.c.resolved_at.is_(None))
            .order_by(q.c.rule, q.c.dossier_no)
        )
        if source is not None:
            query = query.where(q.c.source == source)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def quarantine_counts_by_rule(self, source: str | None = None) -> dict[str, int]:
        return dict(Counter(row["rule"] for row in self.open_quarantine(source)))

    # -- message log ------------------------------------------------------------------------

    def log_exchanges(self, exchanges: Sequence[MessageLogEntry], *, seal: SigningIdentity | None = None) -> list[int]:
        """Append exchanges to the hash-chained log in one transaction; returns their ``seq``.

        There is deliberately no update or delete: the log is evidence. Everything that costs
        CPU (digests, certificate parsing) happens before the lock; under it, one read of the
        head, one bulk insert per table and one head update, so concurrent mapped tasks queue
        for milliseconds per batch, not per entry. An exchange id already in the log is skipped,
        so appending the same exchanges twice adds nothing.

        With ``seal`` (the hub's signing identity) the same transaction seals everything not yet
        sealed -- normally just this batch -- with one signature over a Merkle root.
        """
        if not exchanges:
            return []
        prepared = [_prepare_log_row(e) for e in exchanges]
        bodies: dict[str, bytes] = {}
        certificates: dict[str, bytes] = {}
        for _row, entry_bodies, entry_certs in prepared:
            bodies.update(entry_bodies)
            certificates.update(entry_certs)
        batch_ids = sorted({e.batch_id for e in exchanges if e.batch_id})
        ml = t.message_log
        with self._log_append() as conn:
            known: set[str] = set()
            for chunk in _chunks([row["exchange_id"] for row, _, _ in prepared]):
                known.update(conn.execute(sa.select(ml.c.exchange_id).where(ml.c.exchange_id.in_(chunk))).scalars())
            fresh = [row for row, _, _ in prepared if row["exchange_id"] not in known]
            if not fresh:
                return []
            head = self._locked_head(conn)
            seq, prev_hash = head.seq, head.entry_hash
            now = self.now()
            for row in fresh:
                seq += 1
                row.update(seq=seq, logged_at=now, prev_hash=prev_hash)
                row["entry_hash"] = prev_hash = evidence.entry_hash(prev_hash, evidence.entry_fields(row))
            self._insert_bodies(conn, bodies)
            self._insert_certificates(conn, certificates, now)
            for chunk in _chunks(fresh, 200):
                conn.execute(sa.insert(ml), list(chunk))
            self._set_head(conn, seq=seq, entry_hash=prev_hash, updated_at=now)
            if batch_ids:
                self._snapshot_batch_dossiers(conn, batch_ids)
            if seal is not None:
                self._seal_pending(conn, LogHead(seq, prev_hash, head.sealed_seq), seal, now)
        return [row["seq"] for row in fresh]

    def seal_log(self, identity: SigningIdentity) -> LogSeal | None:
        """Seal every entry not yet covered by a seal (one signature); None when there is none.

        For logs appended without a key at hand: run it periodically (or from ``hub evidence
        seal``) and the unsealed tail is closed by one signature.
        """
        with self._log_append() as conn:
            return self._seal_pending(conn, self._locked_head(conn), identity, self.now())

    def _locked_head(self, conn: Connection) -> LogHead:
        """Read the head inside the append transaction (locking it on PostgreSQL)."""
        h = t.message_log_head
        row = conn.execute(
            sa.select(h.c.seq, h.c.entry_hash, h.c.sealed_seq).where(h.c.id == 1).with_for_update()
        ).one_or_none()
        return LogHead(0, evidence.GENESIS_HASH, 0) if row is None else LogHead(int(row[0]), row[1], int(row[2]))

    def _set_head(self, conn: Connection, **values: Any) -> None:
        h = t.message_log_head
        if not conn.execute(h.update().where(h.c.id == 1).values(**values)).rowcount:
            conn.execute(sa.insert(h), {"id": 1, "seq": 0, "entry_hash": evidence.GENESIS_HASH, **values})

    def _seal_pending(
        self, conn: Connection, head: LogHead, identity: SigningIdentity, now: datetime
    ) -> LogSeal | None:
        if head.seq <= head.sealed_seq:
            return None
        ml, ls = t.message_log, t.log_seal
        hashes = list(
            conn.execute(
                sa.select(ml.c.entry_hash).where(ml.c.seq > head.sealed_seq, ml.c.seq <= head.seq).order_by(ml.c.seq)
            ).scalars()
        )
        batch = evidence.sign_seal(hashes, identity)
        chain = evidence.signature_certificates(batch.jws)
        seal = LogSeal(
            id=int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(ls.c.id), 0))).scalar_one()) + 1,
            first_seq=head.sealed_seq + 1,
            last_seq=head.seq,
            root=batch.root.hex(),
            signature=batch.jws,
            signer=evidence.fingerprint(chain[0]) if chain else None,
            sealed_at=now,
        )
        self._insert_certificates(conn, {evidence.fingerprint(der): der for der in chain}, now)
        conn.execute(sa.insert(ls), vars(seal))
        self._set_head(conn, sealed_seq=head.seq, updated_at=now)
        return seal

    def log_seals(self, *, covering: Sequence[int] | None = None) -> list[LogSeal]:
        """All seals in order, or only those covering the given sequence numbers."""
        ls = t.log_seal
        query = sa.select(ls).order_by(ls.c.first_seq)
        if covering is not None:
            wanted = sorted(set(covering))
            if not wanted:
                return []
            query = query.where(ls.c.first_seq <= wanted[-1], ls.c.last_seq >= wanted[0])
        with self.engine.connect() as conn:
            seals = [_log_seal(row._mapping) for row in conn.execute(query)]
        if covering is None:
            return seals
        return [s for s in seals if any(s.first_seq <= q <= s.last_seq for q in wanted)]

    def log_entry_hashes(self, first_seq: int, last_seq: int) -> list[str]:
        """Entry hashes of a range in order: the leaves of the seal over that range."""
        ml = t.message_log
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(ml.c.entry_hash).where(ml.c.seq >= first_seq, ml.c.seq <= last_seq).order_by(ml.c.seq)
                ).scalars()
            )

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A transaction that reads, then writes what it read, with no other writer in between.

        SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock (waiting for it) before the
        first read. A plain BEGIN would read under a snapshot and then fail at once with
        "database is locked" when another connection -- a concurrent mapped task -- committed
        meanwhile, because a stale snapshot cannot be upgraded to a write. PostgreSQL's row locks
        need nothing special here.
        """
        if self.engine.dialect.name != "sqlite":
            with self.engine.begin() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextmanager
    def _log_append(self) -> Iterator[Connection]:
        """A transaction that holds the log's append lock until it commits.

        PostgreSQL: the head row is read ``FOR UPDATE`` (the first append creates it; a concurrent
        first appender waits on its primary key, then finds it and queues on the lock). SQLite:
        ``_writing`` takes the database's write lock before the head is read, so two processes
        cannot both read the same head.
        """
        if self.engine.dialect.name == "sqlite":
            with self._writing() as conn:
                yield conn
            return
        with self.engine.begin() as conn:
            # The very first append has no head row to lock: create it (or wait for whoever is
            # creating it) so that every appender then serialises on the same row.
            conn.execute(
                self._insert(t.message_log_head)
                .values(id=1, seq=0, entry_hash=evidence.GENESIS_HASH, updated_at=self.now())
                .on_conflict_do_nothing(index_elements=["id"])
            )
            yield conn

    def _insert_bodies(self, conn: Connection, bodies: dict[str, bytes]) -> None:
        """Content-addressed: a body already kept (a resend of the same bytes) is not stored again."""
        if not bodies:
            return
        mb = t.message_body
        known: set[str] = set()
        for chunk in _chunks(list(bodies)):
            known.update(conn.execute(sa.select(mb.c.digest).where(mb.c.digest.in_(chunk))).scalars())
        rows = [{"digest": d, "size": len(b), "body": b} for d, b in bodies.items() if d not in known]
        statement = self._insert(mb).on_conflict_do_nothing(index_elements=["digest"])
        for chunk in _chunks(rows, 50):
            conn.execute(statement, list(chunk))

    def _insert_certificates(self, conn: Connection, certificates: dict[str, bytes], now: datetime) -> None:
        if certificates:
            conn.execute(
                self._insert(t.certificate).on_conflict_do_nothing(index_elements=["fingerprint"]),
                [
                    {"fingerprint": fp, "der": der, "subject": _subject(der), "first_seen": now}
                    for fp, der in certificates.items()
                ],
            )

    def _snapshot_batch_dossiers(self, conn: Connection, batch_ids: list[str]) -> None:
        ob, link = t.outbox, t.message_log_dossier
        for chunk in _chunks(batch_ids):
            conn.execute(
                self._insert(link)
                .from_select(
                    ["batch_id", "dossier_no"],
                    sa.select(ob.c.batch_id, ob.c.dossier_no).where(ob.c.batch_id.in_(chunk)).distinct(),
                )
                .on_conflict_do_nothing(index_elements=["batch_id", "dossier_no"])
            )

    def log_head(self) -> LogHead | None:
        """The newest entry and the last sealed one, as the head row records them; None when empty."""
        h = t.message_log_head
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(h.c.seq, h.c.entry_hash, h.c.sealed_seq).where(h.c.id == 1)).one_or_none()
        return None if row is None or row.seq == 0 else LogHead(int(row[0]), row[1], int(row[2]))

    def iter_log(
        self, *, after_seq: int = 0, until_seq: int | None = None, chunk: int = 500
    ) -> Iterator[list[LoggedEntry]]:
        """Entries in ``seq`` order, keyset-paged so the whole log never sits in memory."""
        ml = t.message_log
        while True:
            query = sa.select(ml).where(ml.c.seq > after_seq).order_by(ml.c.seq).limit(chunk)
            if until_seq is not None:
                query = query.where(ml.c.seq <= until_seq)
            with self.engine.connect() as conn:
                page = [_logged_entry(row._mapping) for row in conn.execute(query)]
            if not page:
                return
            yield page
            after_seq = page[-1].seq

    def log_entries(self, seqs: Sequence[int]) -> list[LoggedEntry]:
        ml = t.message_log
        found: list[LoggedEntry] = []
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(seqs))):
                found.extend(_logged_entry(r._mapping) for r in conn.execute(sa.select(ml).where(ml.c.seq.in_(chunk))))
        return sorted(found, key=lambda e: e.seq)

    def log_seqs(self, *, exchange_id: str | None = None, dossier_no: str | None = None) -> list[int]:
        """Entries of one exchange, or of every batch that carried a dossier (any partner, any attempt).

        A dossier's batches are found through the snapshot taken when they were logged and,
        for batches logged before that snapshot existed, through the outbox.
        """
        ml = t.message_log
        if (exchange_id is None) == (dossier_no is None):
            raise ValueError("give exactly one of exchange_id and dossier_no")
        if exchange_id is not None:
            query = sa.select(ml.c.seq).where(ml.c.exchange_id == exchange_id)
        else:
            batches = sa.union(
                sa.select(t.message_log_dossier.c.batch_id).where(t.message_log_dossier.c.dossier_no == dossier_no),
                sa.select(t.outbox.c.batch_id).where(
                    t.outbox.c.dossier_no == dossier_no, t.outbox.c.batch_id.isnot(None)
                ),
            )
            query = sa.select(ml.c.seq).where(ml.c.batch_id.in_(batches))
        with self.engine.connect() as conn:
            return sorted(int(s) for s in conn.execute(query.order_by(ml.c.seq)).scalars())

    def message_bodies(self, digests: Sequence[str]) -> dict[str, bytes]:
        mb = t.message_body
        found: dict[str, bytes] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(digests), 50):
                found.update(
                    (d, bytes(b))
                    for d, b in conn.execute(sa.select(mb.c.digest, mb.c.body).where(mb.c.digest.in_(chunk)))
                )
        return found

    def certificates(self, fingerprints: Sequence[str]) -> dict[str, bytes]:
        c = t.certificate
        found: dict[str, bytes] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(fingerprints)):
                found.update(
                    (f, bytes(d))
                    for f, d in conn.execute(sa.select(c.c.fingerprint, c.c.der).where(c.c.fingerprint.in_(chunk)))
                )
        return found

    def count_exchanges(self, partner: str, since: datetime | None = None) -> dict[str, int]:
        ml = t.message_log
        query = sa.select(ml.c.operation, sa.func.count()).where(ml.c.partner == partner).group_by(ml.c.operation)
        if since is not None:
            query = query.where(ml.c.started_at >= utc(since))
        with self.engine.connect() as conn:
            return {op: int(n) for op, n in conn.execute(query)}


def _prepare_log_row(e: MessageLogEntry) -> tuple[dict[str, Any], dict[str, bytes], dict[str, bytes]]:
    """The columns of one entry (without its place in the chain), its bodies and certificates.

    Bodies given with an entry must match its digests: the log must never commit to bytes it
    does not hold.
    """
    bodies: dict[str, bytes] = {}
    kept = e.request_body is not None
    if kept:
        for side, body, digest, size in (
            ("request", e.request_body, e.request_digest, e.request_bytes),
            ("response", e.response_body, e.response_digest, e.response_bytes),
        ):
            if (body is None) != (digest is None):
                raise ValueError(f"exchange {e.exchange_id}: {side} body and digest must be given together")
            if body is not None:
                if evidence.sha256_hex(body) != digest or len(body) != size:
                    raise ValueError(f"exchange {e.exchange_id}: the {side} body does not match its digest or size")
                bodies[digest] = body
    certificates: dict[str, bytes] = {}
    signers: dict[str, str | None] = {}
    for side, token in (("request", e.request_signature), ("response", e.response_signature)):
        chain = evidence.signature_certificates(token)
        signers[side] = evidence.fingerprint(chain[0]) if chain else None
        certificates.update((evidence.fingerprint(der), der) for der in chain)
    row = {
        "exchange_id": e.exchange_id,
        "partner": e.partner,
        "operation": e.operation,
        "direction": e.direction,
        "method": e.method,
        "url": e.url,
        "attempt": e.attempt,
        "batch_id": e.batch_id,
        "record_count": e.record_count,
        "request_digest": e.request_digest,
        "response_digest": e.response_digest,
        "request_bytes": e.request_bytes,
        "response_bytes": e.response_bytes,
        "bodies_kept": kept,
        "redacted": e.redacted,
        "http_status": e.http_status,
        "outcome": e.outcome,
        "error": e.error,
        "request_signature": e.request_signature,
        "request_signature_digest": _token_digest(e.request_signature),
        "request_signer": signers["request"],
        "response_signature": e.response_signature,
        "response_signature_digest": _token_digest(e.response_signature),
        "response_signer": signers["response"],
        "started_at": utc(e.started_at),
        # Microsecond precision is what the entry hash covers; store exactly that.
        "duration_ms": round(e.duration_ms * 1000) / 1000,
    }
    return row, bodies, certificates


def _token_digest(token: str | None) -> str | None:
    return None if token is None else evidence.sha256_hex(token.encode())


def _logged_entry(columns: Any) -> LoggedEntry:
    return LoggedEntry(
        seq=int(columns["seq"]),
        prev_hash=columns["prev_hash"],
        entry_hash=columns["entry_hash"],
        fields=evidence.entry_fields(columns),
        request_signature=columns["request_signature"],
        response_signature=columns["response_signature"],
    )


def _log_seal(columns: Any) -> LogSeal:
    return LogSeal(
        id=int(columns["id"]),
        first_seq=int(columns["first_seq"]),
        last_seq=int(columns["last_seq"]),
        root=columns["root"],
        signature=columns["signature"],
        signer=columns["signer"],
        sealed_at=utc(columns["sealed_at"]),
    )


def _subject(der: bytes) -> str:
    try:
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:
        return "(unreadable certificate)"


def _to_json(value: Any) -> str:
    """JSON columns: text serialised already (``JsonText``) goes in as it is; anything else is
    encoded compactly with UTF-8 kept (a Vietnamese dossier is a fifth smaller than with
    ``\\uXXXX`` escapes, so less to write and to read back)."""
    if isinstance(value, JsonText):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Mapped Airflow tasks write from several processes: wait for the lock instead of failing.
        engine = sa.create_engine(url, connect_args={"timeout": 60}, json_serializer=_to_json)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, json_serializer=_to_json)
