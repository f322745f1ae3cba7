"""The hub store: bulk, idempotent operations over the tables in ``schema``.

Every method takes or returns whole batches and runs one transaction, because per-record
commits are what makes a naive sync slow (see bench/). Upserts make every write repeatable:
re-running a task for the same data interval leaves the same rows behind.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from hub.store import schema as t
from hub.store.records import (
    ClaimedMessage,
    CurrentRecord,
    DeliveryState,
    Disposition,
    MessageLogEntry,
    OutboxMessage,
    OutboxState,
    QuarantineItem,
    Settlement,
    StageCounts,
    StagedRecord,
)

# Keeps IN (...) lists and multi-row statements under SQLite's bound-parameter limit.
_CHUNK = 500


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
        t.metadata.create_all(self.engine)

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
        return StageCounts(new_versions=len(fresh), unchanged=len(records) - len(fresh))

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
        after = ""
        while True:
            query = (
                sa.select(cur.c.dossier_no, cur.c.content_hash, staged.c.payload, dlv.c.acked_hash)
                .join(
                    staged,
                    sa.and_(
                        staged.c.source == cur.c.source,
                        staged.c.dossier_no == cur.c.dossier_no,
                        staged.c.content_hash == cur.c.content_hash,
                    ),
                )
                .outerjoin(dlv, sa.and_(dlv.c.partner == partner, dlv.c.dossier_no == cur.c.dossier_no))
                .where(
                    cur.c.source == source,
                    cur.c.dossier_no > after,
                    sa.or_(dlv.c.content_hash.is_(None), dlv.c.content_hash != cur.c.content_hash),
                )
                .order_by(cur.c.dossier_no)
                .limit(batch_size)
            )
            with self.engine.connect() as conn:
                page = [CurrentRecord(*row) for row in conn.execute(query)]
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
        with self.engine.begin() as conn:
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
        with self.engine.begin() as conn:
            for chunk in _chunks(rows):
                inserted += conn.execute(statement, list(chunk)).rowcount or 0
        return inserted

    def supersede(self, partner: str, operation: str, current: dict[str, str]) -> int:
        """Retire unsent messages for older versions of the given dossiers (dossier -> current hash)."""
        if not current:
            return 0
        ob = t.outbox
        open_states = [OutboxState.PENDING.value, OutboxState.FAILED.value]
        retired = 0
        with self.engine.begin() as conn:
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
        with self.engine.begin() as conn:
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
        with self.engine.begin() as conn:
            for chunk in _chunks(rows):
                conn.execute(statement, list(chunk))

    def resolve_quarantine(self, source: str, dossier_nos: Sequence[str]) -> int:
        """Close open entries of dossiers whose newest version passed: the fix arrived from the source."""
        q = t.quarantine
        resolved = 0
        with self.engine.begin() as conn:
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

    def log_exchanges(self, exchanges: Sequence[MessageLogEntry]) -> None:
        """Append exchanges. There is deliberately no update or delete: the log is evidence."""
        if not exchanges:
            return
        rows = [{**vars(e), "started_at": utc(e.started_at)} for e in exchanges]
        with self.engine.begin() as conn:
            conn.execute(sa.insert(t.message_log), rows)

    def count_exchanges(self, partner: str, since: datetime | None = None) -> dict[str, int]:
        ml = t.message_log
        query = sa.select(ml.c.operation, sa.func.count()).where(ml.c.partner == partner).group_by(ml.c.operation)
        if since is not None:
            query = query.where(ml.c.started_at >= utc(since))
        with self.engine.connect() as conn:
            return {op: int(n) for op, n in conn.execute(query)}


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Mapped Airflow tasks write from several processes: wait for the lock instead of failing.
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
