"""Tables of the hub store.

SQLAlchemy Core (not the ORM) because every write is a bulk statement over a batch; the same
schema runs on SQLite (the embedded default) and PostgreSQL (production).

The tables follow the flow: ``staged_dossier`` keeps every distinct version of a source record
(content-hashed, so re-extracting an unchanged record adds nothing); ``dossier_current`` points
at the newest version; ``delivery`` says, per partner and dossier, where that version stands
(delivered, pending, quarantined, out of scope) -- the numbers the summary and reconciliation
add up; ``outbox`` holds the messages to send with their idempotency keys; ``quarantine`` keeps
what broke a rule; ``message_log`` is the append-only, hash-chained record of every exchange,
with the exact bodies in ``message_body``.
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

shared_number = sa.Table(
    "shared_number",
    metadata,
    # Source records that carry one dossier number but are different records (different ids at the
    # source). Each is staged under its own key -- the number for the record that held it first,
    # ``<number>#<record id>`` for the others -- so none is ever merged into another, and the plan
    # quarantines every key listed here (``dossier_no.unique``) until the source fixes its numbers.
    sa.Column("source", sa.String(40), primary_key=True),
    sa.Column("dossier_no", sa.String(64), primary_key=True),
    sa.Column("number", sa.String(64), nullable=False),
    sa.Column("record_id", sa.String(64), nullable=False),
    sa.Column("first_seen", Timestamp, nullable=False),
    sa.Index("ix_shared_number_number", "source", "number"),
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

# -- message log (evidence) -----------------------------------------------------------------
# One append-only, hash-chained log (``signing.evidence`` defines the entry format). ``seq`` is
# the primary key and gapless; ``prev_hash``/``entry_hash`` link each entry to the one before.
# Bodies and certificates are content-addressed so a body sent twice, or a certificate seen in
# every reply, is stored once. There is no update or delete anywhere in the code for these tables.


def _request_columns() -> list[sa.Column]:
    """The request side of an exchange, as the log and its write-ahead intents both keep it."""
    return [
        sa.Column("partner", sa.String(40), nullable=False),
        sa.Column("operation", sa.String(60), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.String(64)),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
    ]


message_log = sa.Table(
    "message_log",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=False),
    sa.Column("exchange_id", sa.String(36), nullable=False, unique=True),
    *_request_columns(),
    sa.Column("response_digest", sa.String(64)),
    sa.Column("request_bytes", sa.Integer, nullable=False),
    sa.Column("response_bytes", sa.Integer),
    sa.Column("bodies_kept", sa.Boolean, nullable=False),
    sa.Column("redacted", sa.Boolean, nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("outcome", sa.String(24), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("request_signature", sa.Text),
    sa.Column("request_signature_digest", sa.String(64)),
    sa.Column("request_signer", sa.String(64)),
    sa.Column("response_signature", sa.Text),
    sa.Column("response_signature_digest", sa.String(64)),
    sa.Column("response_signer", sa.String(64)),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("logged_at", Timestamp, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False, unique=True),
    sa.Index("ix_message_log_partner_time", "partner", "started_at"),
    sa.Index("ix_message_log_batch", "batch_id"),
)

message_log_head = sa.Table(
    "message_log_head",
    metadata,
    # One row (id = 1): the last appended entry. Appenders lock it (FOR UPDATE on PostgreSQL;
    # SQLite's BEGIN IMMEDIATE locks the whole file), which serialises appends so the chain never
    # forks; verification compares it with the last entry, so deleting the newest entries shows.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    # The last entry covered by a seal: deleting the newest seal would otherwise look like an
    # ordinary unsealed tail.
    sa.Column("sealed_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", Timestamp, nullable=False),
)

log_seal = sa.Table(
    "log_seal",
    metadata,
    # One RSA signature (by the hub's key) over the RFC 6962 Merkle root of the entry hashes
    # first_seq..last_seq -- X-Road's batch signature: the log is signed as it grows, at the cost
    # of one signature per appended batch, and each entry is later proven with a short path.
    # Seals are contiguous: each starts where the previous one ended.
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=False),
    sa.Column("first_seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("root", sa.String(64), nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("signer", sa.String(64)),
    sa.Column("sealed_at", Timestamp, nullable=False),
)

message_intent = sa.Table(
    "message_intent",
    metadata,
    # The log's write-ahead half: a row is committed before a request leaves the hub and deleted in
    # the transaction that appends the finished exchange to the chain, so a request a partner may
    # have acted on is never only in a dead process's memory. A row whose process died is appended
    # to the chain as an entry with outcome "unknown" (state ``unknown``, ``seq`` that entry) and
    # stays until the flow owning the partner resolves it (state ``resolved``, how in
    # ``resolution``). The request body is in ``message_body`` from the start.
    sa.Column("exchange_id", sa.String(36), primary_key=True),
    *_request_columns(),
    sa.Column("request_bytes", sa.Integer, nullable=False),
    sa.Column("redacted", sa.Boolean, nullable=False),
    sa.Column("request_signature", sa.Text),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("seq", sa.BigInteger),
    sa.Column("resolution", sa.Text),
    sa.Column("resolved_at", Timestamp),
    sa.Index("ix_message_intent_partner_state", "partner", "state"),
)

message_body = sa.Table(
    "message_body",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
)

certificate = sa.Table(
    "certificate",
    metadata,
    # DER of every certificate seen in a signature's x5c chain, keyed by its SHA-256 fingerprint.
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("der", sa.LargeBinary, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("first_seen", Timestamp, nullable=False),
)

message_log_dossier = sa.Table(
    "message_log_dossier",
    metadata,
    # Which dossiers an outbox batch carried, snapshotted when the batch's exchanges are logged
    # (a retried message is re-assigned to a new batch, so the outbox alone forgets old batches).
    # An index for exporting a dossier's history, not evidence: the bodies are.
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("dossier_no", sa.String(64), primary_key=True),
    sa.Index("ix_message_log_dossier_no", "dossier_no"),
)

# -- postal (issue 5) -------------------------------------------------------------------------
# ``hub.store.postal`` explains the rows. One order per dossier result: ``reference``
# (``<dossier_no>/KQ``) is the primary key and the carrier's order reference, so a re-run can
# never plan, or pay for, a second parcel.

postal_order = sa.Table(
    "postal_order",
    metadata,
    sa.Column("reference", sa.String(80), primary_key=True),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("dossier_no", sa.String(64), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    # None only for a result quarantined before its agency's desk (and so its carrier) was known.
    sa.Column("carrier", sa.String(20)),
    sa.Column("dispatch", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Timestamp),
    sa.Column("batch_id", sa.String(64)),
    sa.Column("order_id", sa.String(64)),
    sa.Column("item_code", sa.String(13)),
    sa.Column("placed_at", Timestamp),
    sa.Column("deadline", Timestamp),
    sa.Column("state", sa.String(16)),
    sa.Column("returning_to_sender", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("state_at", Timestamp),
    sa.Column("status_code", sa.String(16)),
    sa.Column("final", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("overdue", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("tracked_at", Timestamp),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("carrier", "order_id", name="uq_postal_order_carrier_id"),
    sa.Index("ix_postal_order_due", "dispatch", "next_attempt_at"),
    sa.Index("ix_postal_order_active", "carrier", "dispatch", "final"),
    sa.Index("ix_postal_order_batch", "batch_id"),
    sa.Index("ix_postal_order_dossier", "source", "dossier_no"),
)

postal_event = sa.Table(
    "postal_event",
    metadata,
    # Every status change a carrier reported, by webhook or polling; ``event_key`` (sha256 of
    # carrier, order, code, carrier time) makes the same change seen twice one row.
    sa.Column("event_key", sa.String(64), primary_key=True),
    sa.Column("carrier", sa.String(20), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("reference", sa.String(80)),
    sa.Column("status_code", sa.String(16), nullable=False),
    sa.Column("status_name", sa.Text, nullable=False),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Column("via", sa.String(8), nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Index("ix_postal_event_order", "carrier", "order_id"),
)

postal_anomaly = sa.Table(
    "postal_anomaly",
    metadata,
    # An event the delivery state machine refused (the state did not move), kept with the reason.
    sa.Column("event_key", sa.String(64), primary_key=True),
    sa.Column("carrier", sa.String(20), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("status_code", sa.String(16), nullable=False),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Column("from_state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detected_at", Timestamp, nullable=False),
    sa.Index("ix_postal_anomaly_order", "carrier", "order_id"),
)

# -- postal item codes and feed cursors (issue 16) ----------------------------------------------
# ``hub.store.item_codes`` explains them: the S10 blocks a carrier issued to the city, each code
# allocated from them (never handed out twice), and where the hub stands in a carrier's feed.

postal_item_block = sa.Table(
    "postal_item_block",
    metadata,
    sa.Column("series", sa.String(40), primary_key=True),
    sa.Column("carrier", sa.String(20), nullable=False),
    sa.Column("first_serial", sa.Integer, nullable=False),
    sa.Column("last_serial", sa.Integer, nullable=False),
    # Only ever increases: a serial below it was handed out once, whatever became of its order.
    sa.Column("next_serial", sa.Integer, nullable=False),
    sa.Column("alert_at", sa.Integer, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

postal_item_code = sa.Table(
    "postal_item_code",
    metadata,
    sa.Column("item_code", sa.String(13), primary_key=True),
    sa.Column("series", sa.String(40), nullable=False),
    sa.Column("carrier", sa.String(20), nullable=False),
    sa.Column("reference", sa.String(80), nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("allocated_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index("ix_postal_item_code_reference", "carrier", "reference"),
)

postal_feed_cursor = sa.Table(
    "postal_feed_cursor",
    metadata,
    sa.Column("carrier", sa.String(20), primary_key=True),
    sa.Column("last_id", sa.String(64), nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

validation_result = sa.Table(
    "validation_result",
    metadata,
    # One row per expectation per validated batch (quality/expectations): how many rows it saw and
    # how many broke it. The rows themselves are in ``quarantine``; this is the trend and the proof
    # that each batch was checked, and by which suite.
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("dataset", sa.String(40), nullable=False),
    sa.Column("suite", sa.String(120), nullable=False),
    sa.Column("batch_id", sa.String(64), nullable=False),
    sa.Column("rule", sa.String(80), nullable=False),
    sa.Column("expectation", sa.String(120), nullable=False),
    sa.Column("evaluated", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("validated_at", Timestamp, nullable=False),
    sa.Index("ix_validation_result_run", "run_id", "dataset"),
)

portal_snapshot = sa.Table(
    "portal_snapshot",
    metadata,
    # What the national portal's export said it held for a period (a reconciliation period's
    # label, e.g. ``2026-11-20`` or ``2026-Q4``), replaced whole by each fetch of that period: the
    # portal side of reconciliation, as opposed to what the portal acknowledged to the hub.
    sa.Column("period", sa.String(40), primary_key=True),
    sa.Column("dossier_no", sa.String(64), primary_key=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("portal_updated_at", sa.String(40), nullable=False),
    sa.Column("fetched_at", Timestamp, nullable=False),
)

portal_scores = sa.Table(
    "portal_scores",
    metadata,
    # What the national portal's public Decision 766 scoreboard said for a scoreboard period
    # (``2026-11``, ``2026-Q4``, ``2026``), per department (a province, or a unit below Hanoi in a
    # tree endpoint) and indicator (``total`` or a group code: CKMB, TDGQ, CLGQ, TTTT, MDSH, MDHL),
    # replaced whole by each fetch of that period (hub.jobs.reconcile.fetch_portal_scoreboard).
    sa.Column("period", sa.String(40), primary_key=True),
    sa.Column("department_code", sa.String(64), primary_key=True),
    sa.Column("indicator", sa.String(16), primary_key=True),
    sa.Column("department_name", sa.String(255), nullable=False),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("max_score", sa.Float, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("fetched_at", Timestamp, nullable=False),
)
