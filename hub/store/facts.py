"""The few facts of a dossier version that reconciliation and the KPIs count by.

Why a narrow table beside ``staged_dossier`` rather than reading the payloads: a year is about
four million dossiers, and parsing four million JSON documents at reconcile time costs minutes
and drags personal data through the engine. The producer already holds the parsed record when it
stages it, so it extracts the facts once and the store writes them in the same transaction as the
version (``HubStore.stage``): the facts can never describe a version that was not staged, and a
reconciliation reads a dozen narrow columns with a columnar scan. Rows are keyed like
``dossier_current`` and carry the version's ``content_hash``, so facts of an older version (a new
version arrived without facts) are recognisably stale instead of silently wrong.

Codes are the portal's (``TrangThaiHoSo``, ``KenhThucHien``), mapped by the producer with the code
tables valid on the record's day; a value the producer could not map is NULL, which the
reconciliation reports instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from hub.store.schema import Timestamp, metadata

dossier_facts = sa.Table(
    "dossier_facts",
    metadata,
    sa.Column("source", sa.String(40), primary_key=True),
    sa.Column("dossier_no", sa.String(64), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("procedure_code", sa.String(40)),
    sa.Column("status", sa.SmallInteger),
    sa.Column("channel", sa.SmallInteger),
    sa.Column("received_at", Timestamp),
    sa.Column("due_at", Timestamp),
    sa.Column("finished_at", Timestamp),
    sa.Column("digitised", sa.Boolean, nullable=False),
    sa.Column("paid_online", sa.Boolean, nullable=False),
    sa.Column("return_by_post", sa.Boolean, nullable=False),
)


@dataclass(frozen=True)
class DossierFacts:
    """``digitised``: at least one submitted component (``TaiLieuNop``) was digitised."""

    procedure_code: str | None
    status: int | None
    channel: int | None
    received_at: datetime | None
    due_at: datetime | None
    finished_at: datetime | None
    digitised: bool
    paid_online: bool
    return_by_post: bool
