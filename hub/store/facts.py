"""The ``dossier_facts`` table: the facts of each staged version (``mappings.facts``), beside ``staged_dossier``.

Why a narrow table beside ``staged_dossier`` rather than reading the payloads: a year is about
four million dossiers, and parsing four million JSON documents at reconcile time costs minutes
and drags personal data through the engine. The store writes the facts in the same transaction as
the version (``HubStore.stage``): the facts can never describe a version that was not staged, and a
reconciliation reads a dozen narrow columns with a columnar scan. Rows are keyed like
``dossier_current`` and carry the version's ``content_hash``, so facts of an older version (a new
version arrived without facts) are recognisably stale instead of silently wrong. A fact the
producer could not map is NULL.
"""

from __future__ import annotations

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
