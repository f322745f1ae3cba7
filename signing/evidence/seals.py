"""Seals: one signature of the hub over the Merkle root of a range of entry hashes.

Signing each entry would cost an RSA signature per exchange; a seal per appended batch costs one
and still lets a single entry be proven (an RFC 6962 inclusion proof under the sealed root).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from signing.errors import SigningError
from signing.jws import verify_detached
from signing.keys import SigningIdentity
from signing.merkle import BatchSignature, MerkleTree, batch_statement, sign_batch

if TYPE_CHECKING:
    from signing.trust import TrustStore


def seal_leaves(entry_hashes: Sequence[str]) -> list[bytes]:
    """Merkle leaves of a seal: the raw 32-byte entry hashes, in ``seq`` order.

    Each entry hash already commits to everything before it, so a seal over a range also pins
    the whole history up to its last entry.
    """
    return [bytes.fromhex(h) for h in entry_hashes]


def sign_seal(entry_hashes: Sequence[str], identity: SigningIdentity) -> BatchSignature:
    """One signature (the hub's key) over the RFC 6962 root of a range of entry hashes."""
    return sign_batch(MerkleTree(seal_leaves(entry_hashes)), identity)


def seal_batch_signature(seal: SealLike) -> BatchSignature:
    return BatchSignature(root=bytes.fromhex(seal.root), size=seal.last_seq - seal.first_seq + 1, jws=seal.signature)


class SealLike(Protocol):
    """A seal as the store reads it back (``hub.store.LogSeal`` is one)."""

    first_seq: int
    last_seq: int
    root: str
    signature: str
    sealed_at: datetime


def seal_problem(seal: SealLike, entry_hashes: Sequence[str], trust: TrustStore | None) -> str | None:
    """Why a seal does not vouch for these entry hashes (its whole range, in order), or None."""
    where = f"seal over entries {seal.first_seq}..{seal.last_seq}"
    if len(entry_hashes) != seal.last_seq - seal.first_seq + 1:
        return f"{where}: {len(entry_hashes)} entries found for it"
    if MerkleTree(seal_leaves(entry_hashes)).root.hex() != seal.root:
        return f"{where}: the entries no longer match the signed Merkle root (the chain was rewritten)"
    if trust is not None:
        try:
            verify_detached(
                batch_statement(bytes.fromhex(seal.root), len(entry_hashes)), seal.signature, trust, at=seal.sealed_at
            )
        except SigningError as exc:
            return f"{where}: the seal signature is not valid: {exc.reason}"
    return None
