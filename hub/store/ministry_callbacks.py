"""Callbacks ministry systems sent the hub (VBDLIS's ``TiepNhanHoSoChoMotCua`` / ``KetThucHoSo``),
kept until the pull-back folds them into the dossiers it stages.

One row per distinct callback (``callback_key``: partner, operation and body hashed), written with
insert-or-ignore, so a callback VBDLIS repeats -- it retries what it did not see answered -- is
stored once. ``folded_at`` is set when the pull-back has staged (or quarantined) the dossier with
it; a callback whose dossier the hub cannot build yet (an end with no record) stays unfolded and
is read again by the next pull-back: a callback is delayed, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from adapters.ministry.callbacks import MinistryCallback
from hub.store import schema as t
from hub.store.database import chunks
from hub.store.staging import current_version_of
from hub.store.store import HubStore

ministry_callback = sa.Table(
    "ministry_callback",
    t.metadata,
    sa.Column("callback_key", sa.String(64), primary_key=True),
    sa.Column("partner", sa.String(40), nullable=False),
    sa.Column("dossier_no", sa.String(64), nullable=False),
    sa.Column("operation", sa.String(40), nullable=False),
    sa.Column("body", t.JsonColumn, nullable=False),
    sa.Column("received_at", t.Timestamp, nullable=False),
    sa.Column("folded_at", t.Timestamp),
    sa.Index("ix_ministry_callback_unfolded", "partner", "folded_at", "dossier_no"),
)


@dataclass(frozen=True)
class StoredCallback:
    """A kept callback, in the order it arrived."""

    key: str
    operation: str
    body: dict[str, Any]
    received_at: datetime


class MinistryCallbacks:
    """``ministry_callback`` on the hub store's database."""

    def __init__(self, store: HubStore) -> None:
        self.db = store.db

    def add(self, callbacks: Sequence[MinistryCallback]) -> int:
        """Keep callbacks idempotently (insert or ignore by key); returns how many were new."""
        now = self.db.now()
        rows = {
            c.key: {
                "callback_key": c.key,
                "partner": c.partner,
                "dossier_no": c.dossier_no,
                "operation": c.operation,
                "body": c.body,
                "received_at": now,
            }
            for c in callbacks
        }
        return self.db.insert_new(ministry_callback, "callback_key", list(rows.values()))

    def unfolded(self, partner: str) -> dict[str, list[StoredCallback]]:
        """The partner's callbacks not folded yet, by dossier, oldest first."""
        c = ministry_callback.c
        query = (
            sa.select(c.dossier_no, c.callback_key, c.operation, c.body, c.received_at)
            .where(c.partner == partner, c.folded_at.is_(None))
            .order_by(c.dossier_no, c.received_at, c.callback_key)
        )
        found: dict[str, list[StoredCallback]] = {}
        with self.db.engine.connect() as conn:
            for row in conn.execute(query):
                found.setdefault(row.dossier_no, []).append(
                    StoredCallback(row.callback_key, row.operation, row.body, row.received_at)
                )
        return found

    def mark_folded(self, keys: Sequence[str]) -> None:
        now = self.db.now()
        with self.db.engine.begin() as conn:
            for chunk in chunks(list(keys)):
                conn.execute(
                    ministry_callback.update()
                    .where(ministry_callback.c.callback_key.in_(list(chunk)))
                    .values(folded_at=now)
                )

    def count(self, partner: str) -> int:
        query = sa.select(sa.func.count()).select_from(ministry_callback).where(ministry_callback.c.partner == partner)
        with self.db.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def staged_payloads(self, source: str, dossier_nos: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The current staged payload of each of ``dossier_nos`` under ``source`` that has one."""
        cur, staged = t.dossier_current, t.staged_dossier
        found: dict[str, dict[str, Any]] = {}
        with self.db.engine.connect() as conn:
            for chunk in chunks(list(dossier_nos)):
                query = (
                    sa.select(cur.c.dossier_no, staged.c.payload)
                    .join(staged, current_version_of(staged, cur))
                    .where(cur.c.source == source, cur.c.dossier_no.in_(list(chunk)))
                )
                found.update({row.dossier_no: row.payload for row in conn.execute(query)})
        return found
