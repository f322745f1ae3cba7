"""The ``dossier_facts`` table: the facts of each staged version (``mappings.facts``), beside ``staged_dossier``.

Why a narrow table beside ``staged_dossier`` rather than reading the payloads: a year is about
four million dossiers, and parsing four million JSON documents at reconcile time costs minutes
and drags personal data through the engine. The store writes the facts in the same transaction as
the version (``HubStore.stage``): the facts can never describe a version that was not staged, and a
reconciliation reads a dozen narrow columns with a columnar scan. Rows are keyed like
``dossier_current`` and carry the version's ``content_hash``, so facts of an older version (a new
version arrived without facts) are recognisably stale instead of silently wrong. A fact the
producer could not map is NULL.

The store has no migration tool: ``create_all`` creates missing tables, never missing columns. A
column added later therefore carries a server default meaning "absent", and
:func:`add_missing_columns` adds it to a store created before it, so an existing ``var/`` keeps
working: facts staged before the column existed read as absent -- exactly what the facts mappers
return for a record that does not carry the field (until a newer version of the dossier stages).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from hub.store.schema import Timestamp, metadata

log = logging.getLogger(__name__)

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
    # Decision 766 facts (issue 14), added after stores existed: server defaults say "absent".
    sa.Column("submitted_via_portal", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("vneid_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("fee_payable", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("identified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("consulted_databases", sa.SmallInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("result_coded", sa.Boolean, nullable=False, server_default=sa.false()),
    # Matching facts (issue 15), added after stores existed: "" is absent.
    sa.Column("agency", sa.String(40), nullable=False, server_default=""),
    sa.Column("one_stop_no", sa.String(64), nullable=False, server_default=""),
    sa.Column("other_no", sa.String(64), nullable=False, server_default=""),
    sa.Column("applicant_key", sa.String(64), nullable=False, server_default=""),
    # Payment facts (issue 20), added after stores existed: "" and 0 are absent.
    sa.Column("payment_gateway", sa.String(20), nullable=False, server_default=""),
    sa.Column("fee_total", sa.BigInteger, nullable=False, server_default=sa.text("0")),
)


def add_missing_columns(engine: sa.Engine) -> list[str]:
    """Add the ``dossier_facts`` columns a store created by an older hub lacks; returns their names.

    Only columns with a server default are added (a fact column added later always has one);
    anything else missing means a store this code cannot read, and the error says so instead of
    letting the first query fail obscurely.
    """
    inspector = sa.inspect(engine)
    if not inspector.has_table(dossier_facts.name):
        return []
    present = {c["name"] for c in inspector.get_columns(dossier_facts.name)}
    missing = [c for c in dossier_facts.columns if c.name not in present]
    if not missing:
        return []
    unfillable = [c.name for c in missing if c.server_default is None]
    if unfillable:
        raise RuntimeError(
            f"this hub store's dossier_facts lacks {', '.join(unfillable)} and they cannot be added in place; "
            "rebuild the store (remove var/ or point HUB_STORE_URL at a new database) and extract again"
        )
    ddl = engine.dialect.ddl_compiler(engine.dialect, None)
    with engine.begin() as conn:
        for column in missing:
            conn.execute(sa.text(f"ALTER TABLE {dossier_facts.name} ADD COLUMN {ddl.get_column_specification(column)}"))
    names = [c.name for c in missing]
    log.warning(
        "dossier_facts: added %s to an existing store; versions staged before read as without them", ", ".join(names)
    )
    return names
