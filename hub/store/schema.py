"""Tables of the hub store.

SQLAlchemy Core (not the ORM) because every write is a bulk statement over a batch; the same
schema runs on SQLite (the embedded default) and PostgreSQL (production).

The tables follow the flow: ``staged_dossier`` keeps every distinct version of a source record
(content-hashed, so re-extracting an unchanged record adds nothing); ``dossier_current`` points
at the newest version; ``delivery`` says, per partner and dossier, where that version stands
(delivered, pending, quarantined, out of scope) -- the numbers the summary and reconciliation
add up; ``outbox`` holds the messages to send with their idempotency keys; ``quarantine`` keeps
what broke a rule; ``message_log`` is the append-only record of every exchange.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData()

JsonColumn = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)

staged_dossier = sa.Table(
    "staged_dossier",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("dossier_no", sa.String(64), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("payload", JsonColumn, nullable=False),
    sa.Column("source_updated_at", Timestamp),
    sa.Column("batch_id", sa.String(64), nullable=False),
    sa.Column("staged_at", Timestamp, nullable=False),
    sa.UniqueConstraint("source", "dossier_no", "content_hash", name="uq_staged_version"),
)

dossier_current = sa.Table(
    "dossier_current",
    metadata,
    sa.Column("source", sa.String(40), primary_key=True),
    sa.Column("dossier_no", sa.String(64), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("source_updated_at", Timestamp),
    sa.Column("batch_id", sa.String(64), nullable=False),
    sa.Column("staged_at", Timestamp, nullable=False),
    sa.Index("ix_dossier_current_batch", "batch_id"),
)

watermark = sa.Table(
    "watermark",
    metadata,
    sa.Column("source", sa.String(40), primary_key=True),
    sa.Column("value", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

delivery = sa.Table(
    "delivery",
    metadata,
    sa.Column("partner", sa.String(40), primary_key=True),
    sa.Column("dossier_no", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("acked_hash", sa.String(64)),
    sa.Column("acked_at", Timestamp),
    sa.Column("reason", sa.Text),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index("ix_delivery_state", "partner", "state"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("partner", sa.String(40), nullable=False),
    sa.Column("operation", sa.String(60), nullable=False),
    sa.Column("dossier_no", sa.String(64), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("payload", JsonColumn, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Timestamp),
    sa.Column("last_error", sa.Text),
    sa.Column("batch_id", sa.String(64)),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index("ix_outbox_due", "partner", "operation", "state", "next_attempt_at"),
    sa.Index("ix_outbox_batch", "batch_id"),
    sa.Index("ix_outbox_dossier", "partner", "operation", "dossier_no"),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("dossier_no", sa.String(64), nullable=False),
    sa.Column("rule", sa.String(80), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("payload", JsonColumn, nullable=False),
    sa.Column("first_seen", Timestamp, nullable=False),
    sa.Column("last_seen", Timestamp, nullable=False),
    sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"),
    sa.Column("resolved_at", Timestamp),
    sa.UniqueConstraint("source", "dossier_no", "rule", name="uq_quarantine_rule"),
)

message_log = sa.Table(
    "message_log",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("exchange_id", sa.String(36), nullable=False, unique=True),
    sa.Column("partner", sa.String(40), nullable=False),
    sa.Column("operation", sa.String(60), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("batch_id", sa.String(64)),
    sa.Column("record_count", sa.Integer, nullable=False),
    sa.Column("request_digest", sa.String(64), nullable=False),
    sa.Column("response_digest", sa.String(64)),
    sa.Column("request_bytes", sa.Integer, nullable=False),
    sa.Column("response_bytes", sa.Integer),
    sa.Column("http_status", sa.Integer),
    sa.Column("outcome", sa.String(24), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Index("ix_message_log_partner_time", "partner", "started_at"),
)
