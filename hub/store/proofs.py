"""Record proofs: one hub signature per sent batch, one inclusion proof per record in it.

The message log proves a whole exchange, but a whole ``DongBoHoSoMC`` call carries up to a
thousand citizens' dossiers: handing it to an auditor who asks about one dossier would disclose
the other 999. So every batch the hub sends is also signed as an RFC 6962 Merkle tree over its
records (``signing.merkle``), and each record keeps its leaf (the exact bytes sent). One
dossier's evidence is then its record, its proof and the batch signature -- verifiable alone,
revealing nobody else.

The audit path itself is derived when asked for (``for_dossier``: the tree rebuilt from the
batch's stored leaves), not computed and stored for every record at delivery (issue 19): a
proof is asked for a handful of dossiers, a batch is sent for hundreds. Rows written before that
keep their stored path, which is used as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

import sqlalchemy as sa

from hub.store import schema as t
from hub.store.store import HubStore
from signing.merkle import BatchSignature, InclusionProof, MerkleTree, ProvenRecord

batch_signature = sa.Table(
    "batch_signature",
    t.metadata,
    # The tree head the hub signed: root and size are what the JWS statement covers.
    sa.Column("root", sa.String(64), primary_key=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("jws", sa.Text, nullable=False),
    sa.Column("partner", sa.String(40), nullable=False),
    sa.Column("operation", sa.String(60), nullable=False),
    sa.Column("batch_id", sa.String(64), nullable=False),
    sa.Column("signed_at", t.Timestamp, nullable=False),
    sa.Index("ix_batch_signature_batch", "batch_id"),
)

record_proof = sa.Table(
    "record_proof",
    t.metadata,
    sa.Column("root", sa.String(64), sa.ForeignKey("batch_signature.root"), primary_key=True),
    sa.Column("leaf_index", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("dossier_no", sa.String(64), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    # The exact leaf bytes (canonical JSON of the record as sent): the proof is over these.
    sa.Column("record", sa.LargeBinary, nullable=False),
    # The audit path as JSON; "" (since issue 19): derived on demand from the batch's leaves.
    sa.Column("proof", sa.Text, nullable=False),
    sa.Index("ix_record_proof_dossier", "dossier_no"),
)


DERIVED = ""  # the proof column of a record whose audit path is derived from its batch's leaves


@dataclass(frozen=True)
class SentRecord:
    """What the pipeline hands over for one record of a signed batch."""

    dossier_no: str
    content_hash: str
    leaf: bytes


class RecordProofs:
    """Keeps and finds record proofs in the hub store (same engine, same transactions rules)."""

    def __init__(self, store: HubStore) -> None:
        self.db = store.db

    def keep(
        self,
        *,
        partner: str,
        operation: str,
        batch_id: str,
        tree: MerkleTree,
        signature: BatchSignature,
        records: Sequence[SentRecord],
    ) -> None:
        """Store a signed batch and every record's proof; the same batch kept twice changes nothing."""
        if len(records) != tree.size:
            raise ValueError(f"{len(records)} records for a tree of {tree.size} leaves")
        root = signature.root.hex()
        insert = self.db.insert
        with self.db.engine.begin() as conn:
            conn.execute(
                insert(batch_signature).on_conflict_do_nothing(index_elements=["root"]),
                {
                    "root": root,
                    "size": signature.size,
                    "jws": signature.jws,
                    "partner": partner,
                    "operation": operation,
                    "batch_id": batch_id,
                    "signed_at": self.db.now(),
                },
            )
            conn.execute(
                insert(record_proof).on_conflict_do_nothing(index_elements=["root", "leaf_index"]),
                [
                    {
                        "root": root,
                        "leaf_index": index,
                        "dossier_no": r.dossier_no,
                        "content_hash": r.content_hash,
                        "record": r.leaf,
                        "proof": DERIVED,
                    }
                    for index, r in enumerate(records)
                ],
            )

    def for_dossier(self, dossier_no: str) -> list[ProvenRecord]:
        """Every signed sending of a dossier, oldest first."""
        bs, rp = batch_signature, record_proof
        query = (
            sa.select(rp, bs.c.size, bs.c.jws, bs.c.partner, bs.c.operation, bs.c.batch_id, bs.c.signed_at)
            .join(bs, bs.c.root == rp.c.root)
            .where(rp.c.dossier_no == dossier_no)
            .order_by(bs.c.signed_at, rp.c.root)
        )
        with self.db.engine.connect() as conn:
            rows = conn.execute(query).all()
            trees = {row.root: self._tree(conn, row.root) for row in rows if row.proof == DERIVED}
        return [
            ProvenRecord(
                dossier_no=row.dossier_no,
                content_hash=row.content_hash,
                record=bytes(row.record),
                proof=trees[row.root].proof(row.leaf_index)
                if row.proof == DERIVED
                else InclusionProof.from_json(row.proof),
                batch=BatchSignature(root=bytes.fromhex(row.root), size=row.size, jws=row.jws),
                partner=row.partner,
                operation=row.operation,
                batch_id=row.batch_id,
                signed_at=row.signed_at.replace(tzinfo=row.signed_at.tzinfo or UTC),
            )
            for row in rows
        ]

    @staticmethod
    def _tree(conn: sa.Connection, root: str) -> MerkleTree:
        """The signed tree again, from its stored leaves in order; its root must be the one signed."""
        query = sa.select(record_proof.c.record).where(record_proof.c.root == root).order_by(record_proof.c.leaf_index)
        tree = MerkleTree([bytes(leaf) for (leaf,) in conn.execute(query)])
        if tree.root.hex() != root:
            raise ValueError(f"the stored leaves of batch {root[:12]}... do not rebuild its signed root")
        return tree
