"""Walking the hash chain: the first entry that was altered, inserted, deleted or reordered.

Modelled on X-Road's message log: every exchange with a partner is kept with the exact bytes sent
and received, the signatures and the certificates, in an append-only log where each entry commits
to the one before it. The store is passed in (duck-typed, see ``LogReader``), so this module
imports nothing from ``hub``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from signing.evidence.entry import GENESIS_HASH, entry_hash, sha256_hex, token_digest
from signing.evidence.seals import SealLike, seal_problem

if TYPE_CHECKING:
    from signing.trust import TrustStore


class EntryLike(Protocol):
    """An entry as the store reads it back (``hub.store.LoggedEntry`` is one): link, hashed fields
    and the signature tokens their digests commit to."""

    seq: int
    prev_hash: str
    entry_hash: str
    fields: dict[str, Any]
    request_signature: str | None
    response_signature: str | None


class HeadLike(Protocol):
    """The store's head row (``hub.store.LogHead``): it catches deleted newest entries and seals."""

    seq: int
    entry_hash: str
    sealed_seq: int


class LogReader(Protocol):
    """What ``verify_chain`` needs from the store (``hub.store.HubStore`` implements it)."""

    def log_head(self) -> HeadLike | None: ...

    def log_seals(self) -> Sequence[SealLike]: ...

    def iter_log(self, *, after_seq: int = 0, chunk: int = 500) -> Iterator[Sequence[EntryLike]]: ...

    def message_bodies(self, digests: Sequence[str]) -> dict[str, bytes]: ...


@dataclass(frozen=True)
class ChainReport:
    """The result of walking the whole log: how many entries, and the first one that is wrong.

    ``first_broken_seq`` is the sequence number where the chain stops being trustworthy (for a
    deleted entry, the number that is missing); every entry before it was verified.
    ``sealed_seq`` is the last entry covered by a seal whose Merkle root matched;
    ``seal_signatures_checked`` says whether those seals' signatures were also checked against a
    trust store (without one, only that the roots match the entries).
    """

    entries: int
    first_broken_seq: int | None = None
    reason: str | None = None
    head_seq: int | None = None
    seals: int = 0
    sealed_seq: int = 0
    seal_signatures_checked: bool = False

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


@dataclass
class ChainWalker:
    """Checks entries one after the other; shared by ``verify_chain`` and the bundle verifier.

    It does not stop by itself: the caller stops at the first problem it reports.
    """

    expected_seq: int = 1
    prev_hash: str = GENESIS_HASH

    def check(self, entry: EntryLike | ChainEntry, *, tokens: bool = True) -> str | None:
        """Why ``entry`` does not continue the chain walked so far, or None when it does.

        ``tokens`` false skips comparing signature tokens with their digests (a chain segment in
        a bundle carries the tokens of the exported exchanges only, checked separately).
        """
        fields = entry.fields
        if entry.seq < self.expected_seq:
            return f"entry {entry.seq} out of order after {self.expected_seq - 1}"
        if entry.seq > self.expected_seq:
            missing = (
                f"entry {self.expected_seq}"
                if entry.seq == self.expected_seq + 1
                else f"entries {self.expected_seq}..{entry.seq - 1}"
            )
            return f"{missing} missing: the sequence jumps from {self.expected_seq - 1} to {entry.seq}"
        if fields.get("seq") != entry.seq:
            return f"entry {entry.seq} carries seq {fields.get('seq')} in its hashed fields"
        if entry.prev_hash != self.prev_hash:
            return (
                f"entry {entry.seq} does not follow entry {entry.seq - 1}: prev_hash {entry.prev_hash[:12]}... "
                f"but the previous entry hashes to {self.prev_hash[:12]}... (an entry was deleted, inserted or "
                "reordered)"
            )
        try:
            recomputed = entry_hash(entry.prev_hash, fields)
        except (ValueError, TypeError) as exc:
            return f"entry {entry.seq} cannot be hashed: {exc}"
        if recomputed != entry.entry_hash:
            return f"entry {entry.seq} was altered: its fields hash to {recomputed[:12]}..., not the recorded hash"
        if tokens:
            for side in ("request", "response"):
                token = getattr(entry, f"{side}_signature")
                if token_digest(token) != fields[f"{side}_signature_digest"]:
                    return f"entry {entry.seq}: the {side} signature does not match the digest the entry commits to"
        self.expected_seq += 1
        self.prev_hash = entry.entry_hash
        return None


@dataclass(frozen=True)
class ChainEntry:
    """An entry as a bundle's chain segment carries it: the link and the hashed fields only."""

    seq: int
    prev_hash: str
    entry_hash: str
    fields: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "prev_hash": self.prev_hash, "entry_hash": self.entry_hash, "fields": self.fields}


def body_problem(fields: Mapping[str, Any], bodies: Mapping[str, bytes]) -> str | None:
    """Why the kept bodies of an entry do not match the digests it commits to, or None."""
    if not fields["bodies_kept"]:
        return None
    for side in ("request", "response"):
        digest = fields[f"{side}_digest"]
        if digest is None:
            continue
        body = bodies.get(digest)
        if body is None:
            return f"entry {fields['seq']}: the {side} body ({digest[:12]}...) is missing"
        if sha256_hex(body) != digest or len(body) != fields[f"{side}_size"]:
            return f"entry {fields['seq']}: the {side} body was altered (its bytes no longer hash to {digest[:12]}...)"
    return None


def verify_chain(
    store: LogReader, *, trust: TrustStore | None = None, check_bodies: bool = True, chunk: int = 200
) -> ChainReport:
    """Walk the whole log and report the first entry that was altered, inserted, deleted or reordered.

    Detects: a changed field (the entry hash no longer matches), changed body bytes (the digest
    no longer matches), a changed or swapped signature token, a deleted entry (a gap in ``seq``
    or a ``prev_hash`` that points elsewhere), an inserted or reordered entry (``prev_hash``
    mismatch), deleted newest entries (the head row says there were more), and -- through the
    seals -- a chain someone rewrote and re-hashed from the altered entry on: its entries no
    longer match the Merkle roots the hub signed. With ``trust`` the seal signatures are checked
    too (the hub's own certificate must chain to it).
    """
    seals = store.log_seals()
    expected_first = 1
    for seal in seals:
        if seal.first_seq != expected_first or seal.last_seq < seal.first_seq:
            return ChainReport(
                0,
                expected_first,
                f"seals are not contiguous: expected one starting at entry {expected_first}, found "
                f"{seal.first_seq}..{seal.last_seq} (a seal was deleted or altered)",
            )
        expected_first = seal.last_seq + 1
    walker = ChainWalker()
    count, pending_seals, sealed_seq, sealed_count = 0, list(seals), 0, 0
    seal_hashes: list[str] = []
    for entries in store.iter_log(chunk=chunk):
        bodies: dict[str, bytes] = {}
        if check_bodies:
            wanted = {
                e.fields[f"{side}_digest"]
                for e in entries
                if e.fields["bodies_kept"]
                for side in ("request", "response")
                if e.fields[f"{side}_digest"] is not None
            }
            bodies = store.message_bodies(sorted(wanted))
        for entry in entries:
            problem = walker.check(entry)
            if problem is None and check_bodies:
                problem = body_problem(entry.fields, bodies)
            if problem is not None:
                return ChainReport(
                    count,
                    min(entry.seq, walker.expected_seq),
                    problem,
                    seals=sealed_count,
                    sealed_seq=sealed_seq,
                    seal_signatures_checked=trust is not None,
                )
            count += 1
            if pending_seals and pending_seals[0].first_seq <= entry.seq <= pending_seals[0].last_seq:
                seal_hashes.append(entry.entry_hash)
                if entry.seq == pending_seals[0].last_seq:
                    seal = pending_seals.pop(0)
                    problem = seal_problem(seal, seal_hashes, trust)
                    if problem is not None:
                        return ChainReport(
                            count,
                            seal.first_seq,
                            problem,
                            seals=sealed_count,
                            sealed_seq=sealed_seq,
                            seal_signatures_checked=trust is not None,
                        )
                    sealed_seq, sealed_count, seal_hashes = seal.last_seq, sealed_count + 1, []
    report = {"seals": sealed_count, "sealed_seq": sealed_seq, "seal_signatures_checked": trust is not None}
    head = store.log_head()
    last_seq, last_hash = walker.expected_seq - 1, walker.prev_hash
    if head is None:
        if count:
            return ChainReport(count, 1, "the log head row is missing although the log has entries", **report)
        return ChainReport(0, head_seq=0, **report)
    if head.seq > last_seq:
        missing = f"entry {head.seq}" if head.seq == last_seq + 1 else f"entries {last_seq + 1}..{head.seq}"
        return ChainReport(
            count, last_seq + 1, f"{missing} missing at the end: the head says {head.seq}", head.seq, **report
        )
    if head.seq < last_seq or head.entry_hash != last_hash:
        broken = head.seq + 1 if head.seq < last_seq else last_seq
        return ChainReport(count, broken, "the head row does not match the last entry", head.seq, **report)
    if pending_seals:
        seal = pending_seals[0]
        return ChainReport(
            count,
            seal.first_seq,
            f"a seal covers entries {seal.first_seq}..{seal.last_seq} beyond the log",
            head.seq,
            **report,
        )
    if head.sealed_seq > sealed_seq:
        return ChainReport(
            count,
            sealed_seq + 1,
            f"the seal over entries {sealed_seq + 1}..{head.sealed_seq} is missing (the head says they were sealed)",
            head.seq,
            **report,
        )
    return ChainReport(count, head_seq=head.seq, **report)
