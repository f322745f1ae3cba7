"""Batch signatures over a Merkle tree: one RSA signature per batch, a short proof per record.

Signing every record costs one RSA operation each; X-Road's answer, copied here, is to sign the
root of a hash tree over a batch and keep, for each record, the audit path that links it to that
root. Anyone holding one record, its proof and the batch signature can check that record alone,
without the other records of the batch.

The tree is RFC 6962 (Certificate Transparency) §2.1, SHA-256:

* leaf hash ``sha256(0x00 || data)``, node hash ``sha256(0x01 || left || right)``: the prefixes keep
  a leaf from ever being passed off as an inner node (second-preimage attacks);
* for ``n > 1`` leaves the left subtree holds the largest power of two smaller than ``n``, so any
  count works and the last node is promoted, never duplicated (duplication, as in Bitcoin's tree,
  lets two different batches share a root); the empty tree's root is ``sha256("")``;
* inclusion proofs are RFC 6962 audit paths, checked with the RFC 9162 §2.1.3.2 algorithm.

No maintained Python package implements exactly this, so the tree is written here and kept small;
the tests check it against the recursive definition and with property tests.

The batch signature is a detached JWS (:mod:`signing.jws`) over a small canonical statement of the
tree: ``{"alg": "rfc6962-sha256", "root": <hex>, "size": n, "type": "hub.merkle-batch/1"}``.
Signing the size too means a proof for a different tree size can never verify.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from signing.errors import SignatureInvalid
from signing.jws import sign_detached, verify_detached
from signing.keys import SigningIdentity

if TYPE_CHECKING:
    from cryptography import x509

    from signing.trust import TrustStore

TREE_ALGORITHM = "rfc6962-sha256"
STATEMENT_TYPE = "hub.merkle-batch/1"
HASH_SIZE = 32
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """``sha256(0x00 || data)``: the hash of one record as a leaf."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``sha256(0x01 || left || right)``: the hash of an inner node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


@dataclass(frozen=True)
class InclusionProof:
    """The audit path from leaf ``index`` to the root of a tree of ``size`` leaves (bottom-up)."""

    index: int
    size: int
    path: tuple[bytes, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "size": self.size, "path": [node.hex() for node in self.path]}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> InclusionProof:
        """Read a proof back from its JSON form; a malformed one is a ``SignatureInvalid``."""
        try:
            index, size, path = value["index"], value["size"], value["path"]
            if not isinstance(index, int) or not isinstance(size, int) or isinstance(index, bool):
                raise TypeError("index and size must be integers")
            nodes = tuple(bytes.fromhex(node) for node in path)
        except (KeyError, TypeError, ValueError) as exc:
            raise SignatureInvalid(f"malformed inclusion proof: {exc}") from exc
        if any(len(node) != HASH_SIZE for node in nodes):
            raise SignatureInvalid("malformed inclusion proof: every path node must be a 32-byte hash")
        return cls(index=index, size=size, path=nodes)

    def to_json(self) -> str:
        """Compact JSON, the same text as ``json.dumps(self.to_dict(), separators=(",", ":"))``.

        Built by hand because a batch stores one proof per record and ``json.dumps`` would cost
        more than the tree and the batch signature together; hex strings need no escaping.
        """
        path = '"' + '","'.join(map(bytes.hex, self.path)) + '"' if self.path else ""
        return f'{{"index":{self.index},"size":{self.size},"path":[{path}]}}'

    @classmethod
    def from_json(cls, text: str | bytes) -> InclusionProof:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise SignatureInvalid(f"malformed inclusion proof: {exc}") from exc
        if not isinstance(value, dict):
            raise SignatureInvalid("malformed inclusion proof: not a JSON object")
        return cls.from_dict(value)


class MerkleTree:
    """An RFC 6962 tree over ``leaves`` (the records' bytes), with every level kept for proofs.

    Built bottom-up: pair neighbours at each level and carry an odd last node up unchanged. That
    is the same tree as RFC 6962's "largest power of two" split, computed in ``2n`` hashes, and
    keeping the levels makes each proof a walk of ``log2(n)`` lookups.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        level = [leaf_hash(bytes(leaf)) for leaf in leaves]
        self._levels: list[list[bytes]] = [level]
        while len(level) > 1:
            parents = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                parents.append(level[-1])
            self._levels.append(parents)
            level = parents

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def __len__(self) -> int:
        return self.size

    @property
    def root(self) -> bytes:
        """The tree head; ``sha256(b"")`` for an empty tree (RFC 6962)."""
        if not self._levels[0]:
            return hashlib.sha256(b"").digest()
        return self._levels[-1][0]

    def leaf_hash(self, index: int) -> bytes:
        return self._levels[0][index]

    def proof(self, index: int) -> InclusionProof:
        """The audit path for leaf ``index``: one sibling per level where the node has one."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf index {index} outside a tree of {self.size} leaves")
        path: list[bytes] = []
        position = index
        for level in self._levels[:-1]:
            sibling = position ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            position //= 2
        return InclusionProof(index=index, size=self.size, path=tuple(path))

    def proofs(self) -> list[InclusionProof]:
        """Every leaf's proof, level by level: each node is handed once to the leaves under its
        sibling, instead of walking ``log2(n)`` levels per leaf (same result as ``proof(i)``)."""
        size = self.size
        paths: list[list[bytes]] = [[] for _ in range(size)]
        width = 1  # leaves under one node of the current level
        for level in self._levels[:-1]:
            count = len(level)
            for position in range(count):
                sibling = position ^ 1
                if sibling < count:
                    node = level[sibling]
                    for path in paths[position * width : (position + 1) * width]:
                        path.append(node)
            width *= 2
        return [InclusionProof(index=i, size=size, path=tuple(path)) for i, path in enumerate(paths)]


def root_from_proof(leaf: bytes, proof: InclusionProof) -> bytes | None:
    """The root that ``leaf`` and ``proof`` lead to, or ``None`` if the proof's shape is impossible.

    RFC 9162 §2.1.3.2: walk up from the leaf; the bits of the index say on which side each path
    node sits, and ``size - 1`` tells where a level had no right neighbour (the node was promoted).
    """
    if not 0 <= proof.index < proof.size:  # also refuses an empty or negative size
        return None
    fn, sn = proof.index, proof.size - 1
    r = leaf_hash(leaf)
    for p in proof.path:
        if sn == 0 or len(p) != HASH_SIZE:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                # Here fn == sn > 0 (sn == 0 returned above): a set bit comes before fn reaches 0, so
                # RFC 9162's "until fn is 0" case cannot arise.
                while not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(leaf: bytes, proof: InclusionProof, root: bytes) -> bool:
    """True when ``proof`` links ``leaf`` to ``root`` in a tree of ``proof.size`` leaves."""
    computed = root_from_proof(leaf, proof)
    return computed is not None and len(root) == HASH_SIZE and computed == root


@dataclass(frozen=True)
class BatchSignature:
    """One signature for a whole batch: the tree head it vouches for and the detached JWS over it."""

    root: bytes
    size: int
    jws: str

    def statement(self) -> bytes:
        return batch_statement(self.root, self.size)

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root.hex(), "size": self.size, "jws": self.jws}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> BatchSignature:
        try:
            root = bytes.fromhex(value["root"])
            size, token = value["size"], value["jws"]
            if not isinstance(size, int) or isinstance(size, bool) or not isinstance(token, str):
                raise TypeError("size must be an integer and jws a string")
        except (KeyError, TypeError, ValueError) as exc:
            raise SignatureInvalid(f"malformed batch signature: {exc}") from exc
        return cls(root=root, size=size, jws=token)


def batch_statement(root: bytes, size: int) -> bytes:
    """The exact bytes the batch JWS signs: canonical JSON (sorted keys, no spaces)."""
    statement = {"alg": TREE_ALGORITHM, "root": root.hex(), "size": size, "type": STATEMENT_TYPE}
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("ascii")


def sign_batch(leaves: Sequence[bytes] | MerkleTree, identity: SigningIdentity) -> BatchSignature:
    """Build the tree over ``leaves`` (or take a built one) and sign its head with one JWS.

    Pass a :class:`MerkleTree` when the caller also needs the proofs, so the tree is built once.
    """
    tree = leaves if isinstance(leaves, MerkleTree) else MerkleTree(leaves)
    if tree.size == 0:
        raise ValueError("refusing to sign an empty batch")
    return BatchSignature(
        root=tree.root, size=tree.size, jws=sign_detached(batch_statement(tree.root, tree.size), identity)
    )


def verify_batch_member(
    leaf: bytes,
    proof: InclusionProof,
    batch_signature: BatchSignature,
    trust: TrustStore,
    *,
    at: datetime | None = None,
) -> None:
    """Check one record alone: the batch head is signed by a trusted signer and holds this record.

    Raises ``SignatureInvalid`` (bad JWS, proof for another tree size, record not in the batch) or
    ``UntrustedSigner`` (the batch signer is not trusted at ``at``).
    """
    _verify_batch_head(batch_signature, trust, at=at)
    if proof.size != batch_signature.size:
        raise SignatureInvalid(
            f"inclusion proof is for a tree of {proof.size} leaves, the signed batch has {batch_signature.size}"
        )
    if not verify_inclusion(leaf, proof, batch_signature.root):
        raise SignatureInvalid(
            f"record is not leaf {proof.index} of the signed batch (record or proof altered, or another batch)"
        )


def _verify_batch_head(batch_signature: BatchSignature, trust: TrustStore, *, at: datetime | None) -> x509.Certificate:
    if len(batch_signature.root) != HASH_SIZE or batch_signature.size <= 0:
        raise SignatureInvalid("malformed batch signature: root must be 32 bytes and size positive")
    return verify_detached(batch_signature.statement(), batch_signature.jws, trust, at=at)


@dataclass(frozen=True)
class ProvenRecord:
    """One record as sent, with what an auditor needs to check it alone."""

    dossier_no: str
    content_hash: str
    record: bytes
    proof: InclusionProof
    batch: BatchSignature
    partner: str
    operation: str
    batch_id: str
    signed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The self-contained JSON form (``hub evidence record``); the record stays exact bytes."""
        return {
            "type": "hub.record-proof/1",
            "dossier_no": self.dossier_no,
            "content_hash": self.content_hash,
            "record": self.record.decode("utf-8"),
            "record_sha256": hashlib.sha256(self.record).hexdigest(),
            "proof": self.proof.to_dict(),
            "batch_signature": self.batch.to_dict(),
            "partner": self.partner,
            "operation": self.operation,
            "batch_id": self.batch_id,
            "signed_at": self.signed_at.isoformat(),
        }
