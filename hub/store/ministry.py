"""Interconnected ("liên thông") dossiers pushed to ministry systems, and what the ministries say of them.

One row per ministry and city dossier in ``ministry_push``: the outbox and the disposition in one,
because a ministry push is one idempotent call per dossier (``dangKyHoTich`` is keyed by dossier
number), never one message per version. The row says where the dossier stands:

- ``pending`` -- to push (again), not before ``next_attempt_at``; ``sent`` -- claimed by a batch
  whose outcome is not recorded yet (due again after a lease: the ministry answers a repeat with
  "already held", so a resend after a crash is harmless);
- ``acknowledged`` -- the ministry holds it; ``ministry_status``/``ministry_status_at`` are its
  latest word and ``finished`` says no further status will come;
- ``failed`` -- refused for its content, or retries exhausted: a person must look (``reason``);
- ``quarantined`` -- the city record broke a quality rule, so it was not pushed (``reason``
  names the rules); a new version of the record is considered again;
- ``out_of_scope`` -- its procedure code is interconnected in some period, but not on the day
  the dossier was submitted.

So ``to push = acknowledged + pending (incl. sent) + failed + quarantined`` is a query. Dossiers
processed on ministry software are not here: they are pulled back into the shared staging
(``Staging.stage``) under a source of their own (``ministry:<partner>``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from hub.store import schema as t
from hub.store.database import chunks, utc
from hub.store.staging import current_version_of
from hub.store.store import HubStore
from hub.store.work_queue import LEASE, QueueSpec, WorkQueue

ministry_push = sa.Table(
    "ministry_push",
    t.metadata,
    sa.Column("partner", sa.String(40), primary_key=True),
    sa.Column("dossier_no", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(40), nullable=False),
    # The staged version last considered (and pushed, once acknowledged).
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", t.Timestamp),
    # The push or status batch the row is in now (the two never hold the same row at once).
    sa.Column("batch_id", sa.String(64)),
    sa.Column("acknowledged_at", t.Timestamp),
    sa.Column("ministry_status", sa.Integer),
    sa.Column("ministry_status_at", t.Timestamp),
    sa.Column("status_checked_at", t.Timestamp),
    sa.Column("finished", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", t.Timestamp, nullable=False),
    sa.Column("updated_at", t.Timestamp, nullable=False),
    sa.Index("ix_ministry_push_due", "partner", "state", "next_attempt_at"),
    sa.Index("ix_ministry_push_batch", "batch_id"),
)


class PushState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"
    QUARANTINED = "quarantined"
    OUT_OF_SCOPE = "out_of_scope"


QUEUE = QueueSpec(
    table=ministry_push,
    key=("partner", "dossier_no"),
    retrying=(PushState.PENDING.value,),
    claimed=PushState.SENT.value,
)

# States a new staged version sends back to planning: nothing was pushed for them.
_REPLANNED = (PushState.QUARANTINED.value, PushState.OUT_OF_SCOPE.value)


@dataclass(frozen=True)
class PushCandidate:
    """A staged city dossier whose procedure may be interconnected, not yet (successfully) planned."""

    dossier_no: str
    content_hash: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class PushDecision:
    """Where planning puts a candidate: pending, quarantined or out of scope."""

    dossier_no: str
    content_hash: str
    state: PushState
    reason: str | None = None


@dataclass(frozen=True)
class ClaimedPush:
    """A dossier taken for pushing, with the staged city record of the planned version."""

    dossier_no: str
    content_hash: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class PushOutcome:
    """What one push came to. ``tried``: the ministry was called for it (counts as an attempt)."""

    dossier_no: str
    state: PushState
    reason: str | None = None
    next_attempt_at: datetime | None = None
    ministry_status: int | None = None
    ministry_status_at: datetime | None = None
    tried: bool = True


@dataclass(frozen=True)
class StatusUpdate:
    """A ministry's answer to a status question about an acknowledged dossier."""

    dossier_no: str
    status: int
    at: datetime
    finished: bool


class MinistryPushes:
    """``ministry_push`` on the hub store's database; pushes and status questions move through the work queue."""

    def __init__(self, store: HubStore) -> None:
        self.db = store.db
        self.queue = WorkQueue(self.db, QUEUE)

    # -- planning --------------------------------------------------------------------------

    def iter_candidates(
        self, partner: str, source: str, procedure_codes: Sequence[str], page_size: int
    ) -> Iterator[list[PushCandidate]]:
        """Current staged dossiers of ``source`` whose procedure code (``ma_tthc``) is one of
        ``procedure_codes`` and that the partner has no plan for -- or only a quarantined / out of
        scope one for an older version. Keyset-paged, so the caller records decisions between pages.
        """
        cur, staged, push = t.dossier_current, t.staged_dossier, ministry_push
        query = (
            sa.select(cur.c.dossier_no, cur.c.content_hash, staged.c.payload)
            .join(staged, current_version_of(staged, cur))
            .outerjoin(push, sa.and_(push.c.partner == partner, push.c.dossier_no == cur.c.dossier_no))
            .where(
                cur.c.source == source,
                staged.c.payload["ma_tthc"].as_string().in_(list(procedure_codes)),
                sa.or_(
                    push.c.state.is_(None),
                    sa.and_(push.c.state.in_(_REPLANNED), push.c.content_hash != cur.c.content_hash),
                ),
            )
        )
        return self.db.keyset_pages(query, cur.c.dossier_no, page_size, PushCandidate)

    def record_decisions(self, partner: str, source: str, decisions: Sequence[PushDecision]) -> None:
        """Upsert one page of planning decisions (a re-planned row starts its attempts afresh)."""
        if not decisions:
            return
        now = self.db.now()
        upsert = self.db.insert(ministry_push)
        statement = upsert.on_conflict_do_update(
            index_elements=["partner", "dossier_no"],
            set_={
                c: upsert.excluded[c]
                for c in ("content_hash", "state", "reason", "attempts", "next_attempt_at", "updated_at")
            },
        )
        rows = [
            {
                "partner": partner,
                "dossier_no": d.dossier_no,
                "source": source,
                "content_hash": d.content_hash,
                "state": d.state.value,
                "reason": d.reason,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for d in decisions
        ]
        with self.db.engine.begin() as conn:
            for chunk in chunks(rows):
                conn.execute(statement, list(chunk))

    def assign_push_batches(self, partner: str, batch_size: int, *, lease: timedelta = LEASE) -> list[str]:
        """Batch the dossiers due for a push: pending and due, or sent so long ago the sender died."""
        return self.queue.assign(batch_size, f"{partner}-push", ministry_push.c.partner == partner, lease=lease)

    def assign_status_batches(self, partner: str, batch_size: int) -> list[str]:
        """Batch the acknowledged dossiers the ministry has not finished with (the same ``batch_id``
        column: a row is never in a push and a status batch at once)."""
        push = ministry_push
        unfinished = sa.and_(push.c.state == PushState.ACKNOWLEDGED.value, push.c.finished.is_(False))
        return self.queue.assign(batch_size, f"{partner}-status", push.c.partner == partner, due=unfinished)

    # -- pushing ---------------------------------------------------------------------------

    def claim_push_batch(self, batch_id: str) -> list[ClaimedPush]:
        """Take a push batch's still-open dossiers, with their staged city records, and mark them sent."""
        push, staged = ministry_push, t.staged_dossier
        query = sa.select(push.c.dossier_no, push.c.content_hash, staged.c.payload, push.c.attempts).join(
            staged, current_version_of(staged, push)
        )
        return [ClaimedPush(*row) for row in self.queue.claim(batch_id, query)]

    def settle_pushes(self, partner: str, outcomes: Sequence[PushOutcome]) -> None:
        """Record a batch's push outcomes in one statement."""
        push, now = ministry_push, self.db.now()
        acknowledged = sa.bindparam("b_state", type_=sa.String) == PushState.ACKNOWLEDGED.value
        params = [
            {
                "k_partner": partner,
                "k_dossier_no": o.dossier_no,
                "b_state": o.state.value,
                "b_tried": int(o.tried),
                "b_reason": o.reason,
                "b_next": utc(o.next_attempt_at),
                "b_status": o.ministry_status,
                "b_status_at": utc(o.ministry_status_at),
            }
            for o in outcomes
        ]
        self.queue.settle(
            params,
            reason=sa.bindparam("b_reason"),
            next_attempt_at=sa.bindparam("b_next"),
            acknowledged_at=sa.case(
                (acknowledged, sa.func.coalesce(push.c.acknowledged_at, now)), else_=push.c.acknowledged_at
            ),
            ministry_status=sa.func.coalesce(sa.bindparam("b_status", type_=sa.Integer), push.c.ministry_status),
            ministry_status_at=sa.func.coalesce(
                sa.bindparam("b_status_at", type_=t.Timestamp), push.c.ministry_status_at
            ),
        )

    # -- statuses --------------------------------------------------------------------------

    def status_batch(self, batch_id: str) -> list[str]:
        """The dossier numbers of a status batch still waiting for the ministry to finish."""
        push = ministry_push
        query = (
            sa.select(push.c.dossier_no)
            .where(
                push.c.batch_id == batch_id,
                push.c.state == PushState.ACKNOWLEDGED.value,
                push.c.finished.is_(False),
            )
            .order_by(push.c.dossier_no)
        )
        with self.db.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def record_statuses(self, partner: str, updates: Sequence[StatusUpdate]) -> None:
        if not updates:
            return
        push, now = ministry_push, self.db.now()
        statement = (
            push.update()
            .where(push.c.partner == partner, push.c.dossier_no == sa.bindparam("b_no"))
            .values(
                ministry_status=sa.bindparam("b_status"),
                ministry_status_at=sa.bindparam("b_at"),
                finished=sa.bindparam("b_finished"),
                status_checked_at=now,
                updated_at=now,
            )
        )
        params = [
            {"b_no": u.dossier_no, "b_status": u.status, "b_at": utc(u.at), "b_finished": u.finished} for u in updates
        ]
        with self.db.engine.begin() as conn:
            conn.execute(statement, params)

    # -- reporting -------------------------------------------------------------------------

    def state_counts(self, partner: str) -> dict[str, int]:
        """Dossiers per state (every state present, zero when empty)."""
        push = ministry_push
        query = sa.select(push.c.state, sa.func.count()).where(push.c.partner == partner).group_by(push.c.state)
        with self.db.engine.connect() as conn:
            counts = dict(conn.execute(query).all())
        return {state.value: int(counts.get(state.value, 0)) for state in PushState}

    def status_counts(self, partner: str) -> dict[int, int]:
        """Acknowledged dossiers per latest ministry status."""
        push = ministry_push
        query = (
            sa.select(push.c.ministry_status, sa.func.count())
            .where(push.c.partner == partner, push.c.state == PushState.ACKNOWLEDGED.value)
            .group_by(push.c.ministry_status)
            .order_by(push.c.ministry_status)
        )
        with self.db.engine.connect() as conn:
            return {int(status): int(n) for status, n in conn.execute(query) if status is not None}

    def get(self, partner: str, dossier_no: str) -> dict[str, Any] | None:
        """One dossier's row (for officers and tests)."""
        push = ministry_push
        query = sa.select(push).where(push.c.partner == partner, push.c.dossier_no == dossier_no)
        with self.db.engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else dict(row._mapping)
