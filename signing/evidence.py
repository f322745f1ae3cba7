"""The message log as evidence: entry format, hash chain and its verification.

Modelled on X-Road's message log: every exchange with a partner is kept with the exact bytes
sent and received, the signatures and the certificates, in an append-only log where each entry
commits to the one before it. This module owns the *format* -- which fields an entry hash
covers and how -- so that the store that appends, the command that verifies and a third party
holding an exported bundle all compute the same hash. It imports nothing from ``hub``: the store
is passed in (duck-typed, see ``LogReader``).

Entry hash::

    entry_hash = sha256(bytes.fromhex(prev_hash) || canonical_json(fields)).hexdigest()

``prev_hash`` of the first entry is 64 zeros. ``canonical_json`` is UTF-8 JSON with sorted keys
and no whitespace (``signing.digests.canonical_json``); ``fields`` holds only strings, integers,
booleans and nulls (times as ISO 8601 UTC with microseconds, the duration in whole
microseconds), so the hash can be recomputed in any language. The fields commit to the bodies
and signature tokens through their SHA-256 digests rather than the bytes themselves: a chain
segment can then be handed over without the bodies of other people's exchanges and still be
re-hashed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signing.digests import canonical_json
from signing.errors import SignatureInvalid, SigningError
from signing.jws import verify_detached
from signing.keys import SigningIdentity
from signing.merkle import (
    BatchSignature,
    InclusionProof,
    MerkleTree,
    batch_statement,
    sign_batch,
    verify_batch_member,
)

if TYPE_CHECKING:
    from hub.store.records import LoggedEntry, LogHead, LogSeal
    from signing.trust import TrustStore

FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64

# The hashed fields, in the order a reader should look at them (the hash itself sorts keys).
ENTRY_FIELDS = (
    "v",
    "seq",
    "exchange_id",
    "partner",
    "operation",
    "direction",
    "method",
    "url",
    "attempt",
    "batch_id",
    "record_count",
    "started_at",
    "duration_us",
    "logged_at",
    "http_status",
    "outcome",
    "error",
    "redacted",
    "bodies_kept",
    "request_digest",
    "request_size",
    "response_digest",
    "response_size",
    "request_signature_digest",
    "request_signer",
    "response_signature_digest",
    "response_signer",
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def iso_utc(value: datetime) -> str:
    """One spelling per instant (UTC, always six fractional digits): the hash depends on it."""
    if value.tzinfo is None:  # SQLite hands timestamps back naive; the store writes UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def entry_fields(columns: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed fields of an entry, from its ``message_log`` columns.

    Used on the row about to be inserted and on the row read back, so that the one conversion
    (datetimes to ISO strings, the float duration to integer microseconds) is the same both ways.
    """

    def opt_int(name: str) -> int | None:
        value = columns[name]
        return None if value is None else int(value)

    return {
        "v": FORMAT_VERSION,
        "seq": int(columns["seq"]),
        "exchange_id": columns["exchange_id"],
        "partner": columns["partner"],
        "operation": columns["operation"],
        "direction": columns["direction"],
        "method": columns["method"],
        "url": columns["url"],
        "attempt": int(columns["attempt"]),
        "batch_id": columns["batch_id"],
        "record_count": int(columns["record_count"]),
        "started_at": iso_utc(columns["started_at"]),
        "duration_us": round(float(columns["duration_ms"]) * 1000),
        "logged_at": iso_utc(columns["logged_at"]),
        "http_status": opt_int("http_status"),
        "outcome": columns["outcome"],
        "error": columns["error"],
        "redacted": bool(columns["redacted"]),
        "bodies_kept": bool(columns["bodies_kept"]),
        "request_digest": columns["request_digest"],
        "request_size": int(columns["request_bytes"]),
        "response_digest": columns["response_digest"],
        "response_size": opt_int("response_bytes"),
        "request_signature_digest": columns["request_signature_digest"],
        "request_signer": columns["request_signer"],
        "response_signature_digest": columns["response_signature_digest"],
        "response_signer": columns["response_signer"],
    }


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The chain link: the previous entry's hash and this entry's canonical fields."""
    return sha256_hex(bytes.fromhex(prev_hash) + canonical_json(dict(fields)))


# -- signature headers -----------------------------------------------------------------------


def signature_certificates(token: str | None) -> list[bytes]:
    """The DER certificates in a compact JWS's ``x5c`` header, signer first; [] when unreadable.

    Read without verifying anything: the log keeps what was received, including a signature the
    transport refused, and that refusal is itself evidence. Verification happens in the
    adapter when the reply arrives and again in ``verify_bundle``.
    """
    if not token:
        return []
    try:
        header_part = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
        chain = header.get("x5c") if isinstance(header, dict) else None
        if not isinstance(chain, list):
            return []
        return [base64.b64decode(c, validate=True) for c in chain if isinstance(c, str)]
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return []


def fingerprint(der: bytes) -> str:
    """SHA-256 of a certificate's DER: how the log and bundles name certificates."""
    return sha256_hex(der)


# -- seals -----------------------------------------------------------------------------------


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
    first_seq: int
    last_seq: int
    root: str
    signature: str
    sealed_at: datetime


# -- chain verification -----------------------------------------------------------------------


class LogReader(Protocol):
    """What ``verify_chain`` needs from the store (``hub.store.HubStore`` implements it)."""

    def log_head(self) -> LogHead | None: ...

    def log_seals(self) -> list[LogSeal]: ...

    def iter_log(self, *, after_seq: int = 0, chunk: int = 500) -> Iterator[list[LoggedEntry]]: ...

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

    def check(self, entry: LoggedEntry | ChainEntry, *, tokens: bool = True) -> str | None:
        """Why ``entry`` does not continue the chain walked so far, or None when it does.

        ``tokens`` false skips comparing signature tokens with their digests (a chain segment in
        a bundle carries the tokens of the exported exchanges only, checked separately).
        """
        fields = entry.fields
        if entry.seq != self.expected_seq:
            if entry.seq > self.expected_seq:
                missing = (
                    f"entry {self.expected_seq}"
                    if entry.seq == self.expected_seq + 1
                    else f"entries {self.expected_seq}..{entry.seq - 1}"
                )
                return f"{missing} missing: the sequence jumps from {self.expected_seq - 1} to {entry.seq}"
            return f"entry {entry.seq} out of order after {self.expected_seq - 1}"
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


def token_digest(token: str | None) -> str | None:
    return None if token is None else sha256_hex(token.encode())


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


# -- evidence bundles ------------------------------------------------------------------------

BUNDLE_FORMAT = "hub-evidence-bundle/1"
MANIFEST = "manifest.json"
CHAIN_FILE = "chain.jsonl"
README = "README.txt"
MAX_BUNDLE_MEMBER = 512 * 1024 * 1024
MAX_BUNDLE_TOTAL = 2 * 1024 * 1024 * 1024

BUNDLE_README = """\
EVIDENCE BUNDLE -- Hanoi dossier integration hub
================================================

SENSITIVE: this bundle holds the exact messages exchanged with a partner, which contain
personal data (citizen ID numbers, phone numbers, names, addresses). Evidence must be exact,
so nothing is masked. Keep it as you would the dossiers themselves (Decree 13/2023 on personal
data protection): encrypted at rest, shared only with whoever needs it for the dispute or
audit, deleted when no longer needed. Session tokens and passwords were removed before the
messages were logged.

What is inside
  manifest.json          what the bundle holds and the SHA-256 of every other file
  chain.jsonl            a contiguous segment of the hub's hash-chained message log, one entry
                         per line: {"seq", "prev_hash", "entry_hash", "fields"}
  exchanges/<seq>/       for each exported exchange: request and response bodies (exact bytes),
                         request.jws / response.jws (detached JWS signatures, RFC 7515 + 7797,
                         certificate chain in x5c) and proof.json (Merkle inclusion proof)
  seals/<id>.json        the hub's signed Merkle roots (RFC 6962) over ranges of log entries
  certificates/*.pem     every certificate the signatures carry
  roots/*.pem            the root(s) those chains end at, as the exporting hub trusted them;
                         these are SELF-ASSERTED by the exporter -- verify against your own copy
                         of the root (e.g. the Government Cipher Committee or licensed CA root)

How to verify (with the hub: `hub evidence verify-bundle FILE.zip [--trust ROOT.pem]`), or by hand:
  1. Every file's SHA-256 equals manifest.json "files".
  2. chain.jsonl: seq increases by one; each prev_hash equals the previous line's entry_hash;
     entry_hash = sha256(bytes.fromhex(prev_hash) || canonical_json(fields)), where
     canonical_json is UTF-8 JSON with sorted keys, separators "," and ":" and no escaping of
     non-ASCII characters (Python: json.dumps(fields, sort_keys=True, separators=(",", ":"),
     ensure_ascii=False).encode()).
  3. For each exchange: sha256 and size of each body equal fields.request_digest/_size and
     response_digest/_size; sha256 of each .jws file equals fields.*_signature_digest.
  4. Each .jws is a detached RS256 JWS over the exact body bytes ("b64": false); its x5c
     certificate must chain to a root YOU trust, and be valid at fields.started_at; its
     SHA-256 fingerprint equals fields.*_signer. Where fields.redacted is true the request
     had secrets removed before logging, so its signature (over the original bytes) cannot be
     re-checked; the log entry and seal still vouch for the logged bytes.
  5. proof.json: the entry_hash (32 bytes) is leaf proof.index of the RFC 6962 tree whose
     root the seal signs; the seal's JWS signs
     {"alg":"rfc6962-sha256","root":<hex>,"size":<n>,"type":"hub.merkle-batch/1"}
     (sorted keys, no spaces) with the hub's certificate.
"""


@dataclass(frozen=True)
class BundleSummary:
    """What ``export_bundle`` wrote."""

    path: Path
    exchanges: int
    chain_entries: int
    seals: int
    certificates: int
    roots: int


@dataclass
class BundleReport:
    """The verdict on a bundle; ``problems`` name the file and entry at fault.

    ``trust_anchor`` says what the signatures were checked against: a root the verifier supplied,
    or -- when none was -- the root shipped inside the bundle ("self-asserted root"), which only
    proves the bundle is consistent with itself.
    """

    path: Path
    problems: list[str]
    warnings: list[str]
    exchanges: int = 0
    chain_entries: int = 0
    signatures_verified: int = 0
    seals_verified: int = 0
    trust_anchor: str = ""
    self_asserted: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems


class BundleLogReader(Protocol):
    """What ``export_bundle`` needs from the store (``hub.store.HubStore`` implements it)."""

    def log_seqs(self, *, exchange_id: str | None = None, dossier_no: str | None = None) -> list[int]: ...

    def log_entries(self, seqs: Sequence[int]) -> list[LoggedEntry]: ...

    def iter_log(
        self, *, after_seq: int = 0, until_seq: int | None = None, chunk: int = 500
    ) -> Iterator[list[LoggedEntry]]: ...

    def log_head(self) -> LogHead | None: ...

    def log_seals(self, *, covering: Sequence[int] | None = None) -> list[LogSeal]: ...

    def log_entry_hashes(self, first_seq: int, last_seq: int) -> list[str]: ...

    def message_bodies(self, digests: Sequence[str]) -> dict[str, bytes]: ...


def export_bundle(
    store: BundleLogReader,
    *,
    exchange_id: str | None = None,
    dossier_no: str | None = None,
    out: Path,
    roots: Sequence[x509.Certificate] = (),
) -> BundleSummary:
    """Write one exchange, or every exchange of the batches that carried a dossier, as a zip.

    The zip holds what a third party needs and nothing they must take on faith from the hub:
    the exact bodies, the partners' and the hub's signatures with their certificate chains, the
    contiguous chain segment from the first to the last exported entry (other exchanges in it
    appear as hashed fields only -- digests, never their bodies), the seals over those entries
    with inclusion proofs, and the roots among ``roots`` (the exporter's trust anchors) that the
    chains end at. The file is created with mode 0600 and replaced atomically: it holds
    personal data.
    """
    seqs = store.log_seqs(exchange_id=exchange_id, dossier_no=dossier_no)
    if not seqs:
        what = f"exchange {exchange_id}" if exchange_id is not None else f"dossier {dossier_no}"
        raise LookupError(f"the message log holds no exchange for {what}")
    entries = store.log_entries(seqs)
    bodies = store.message_bodies(
        sorted(
            {
                e.fields[f"{side}_digest"]
                for e in entries
                if e.fields["bodies_kept"]
                for side in ("request", "response")
                if e.fields[f"{side}_digest"] is not None
            }
        )
    )
    seals = store.log_seals(covering=seqs)
    head = store.log_head()
    files: dict[str, str] = {}
    certificates: dict[str, bytes] = {}
    exchanges: list[dict[str, Any]] = []
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.partial")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an older file of that name keeps its mode through O_TRUNC
    try:
        with os.fdopen(descriptor, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as bundle:

            def add(name: str, data: bytes) -> str:
                bundle.writestr(_zip_info(name), data)
                files[name] = sha256_hex(data)
                return name

            chain_entries = _write_chain_segment(bundle, store, seqs[0], seqs[-1], files)
            seal_files: dict[int, str] = {}
            proofs: dict[int, tuple[int, InclusionProof]] = {}
            for seal in seals:
                tree = MerkleTree(seal_leaves(store.log_entry_hashes(seal.first_seq, seal.last_seq)))
                seal_files[seal.id] = add(f"seals/{seal.id:08d}.json", _json_bytes(_seal_document(seal)))
                for seq in seqs:
                    if seal.first_seq <= seq <= seal.last_seq:
                        proofs[seq] = (seal.id, tree.proof(seq - seal.first_seq))
                for der in signature_certificates(seal.signature):
                    certificates[fingerprint(der)] = der
            for entry in entries:
                folder = f"exchanges/{entry.seq:08d}"
                listed: dict[str, str | None] = {}
                for side in ("request", "response"):
                    digest = entry.fields[f"{side}_digest"]
                    body = bodies.get(digest) if digest is not None and entry.fields["bodies_kept"] else None
                    listed[side] = None if body is None else add(f"{folder}/{side}.{_body_suffix(body)}", body)
                    token = getattr(entry, f"{side}_signature")
                    listed[f"{side}_signature"] = None if token is None else add(f"{folder}/{side}.jws", token.encode())
                    for der in signature_certificates(token):
                        certificates[fingerprint(der)] = der
                seal_id, proof = proofs.get(entry.seq, (None, None))
                if proof is not None:
                    listed["proof"] = add(f"{folder}/proof.json", _json_bytes({"seal": seal_id, **proof.to_dict()}))
                exchanges.append(
                    {
                        "seq": entry.seq,
                        "exchange_id": entry.fields["exchange_id"],
                        "partner": entry.fields["partner"],
                        "operation": entry.fields["operation"],
                        "started_at": entry.fields["started_at"],
                        "outcome": entry.fields["outcome"],
                        "seal": None if seal_id is None else seal_files[seal_id],
                        "files": {k: v for k, v in listed.items() if v is not None},
                    }
                )
            cert_objects = {fp: x509.load_der_x509_certificate(der) for fp, der in certificates.items()}
            issuers = {c.issuer for c in cert_objects.values()}
            anchored = {fingerprint(_der(r)): r for r in roots if r.subject in issuers}
            for fp, cert in sorted(cert_objects.items()):
                add(f"certificates/{fp}.pem", cert.public_bytes(Encoding.PEM))
            for fp, root in sorted(anchored.items()):
                add(f"roots/{fp}.pem", root.public_bytes(Encoding.PEM))
            add(README, BUNDLE_README.encode())
            manifest = {
                "format": BUNDLE_FORMAT,
                "created_at": iso_utc(datetime.now(UTC)),
                "selection": {"exchange_id": exchange_id} if exchange_id is not None else {"dossier_no": dossier_no},
                "entry_hash": "sha256(bytes.fromhex(prev_hash) || canonical_json(fields))",
                "genesis_prev_hash": GENESIS_HASH,
                "chain": {
                    "file": CHAIN_FILE,
                    "first_seq": seqs[0],
                    "last_seq": seqs[-1],
                    "log_head_seq": None if head is None else head.seq,
                },
                "exchanges": exchanges,
                "seals": sorted(seal_files.values()),
                "certificates": [
                    {"file": f"certificates/{fp}.pem", "subject": c.subject.rfc4514_string()}
                    for fp, c in sorted(cert_objects.items())
                ],
                "roots": [
                    {"file": f"roots/{fp}.pem", "subject": r.subject.rfc4514_string(), "self_asserted": True}
                    for fp, r in sorted(anchored.items())
                ],
                "files": dict(sorted(files.items())),
            }
            bundle.writestr(_zip_info(MANIFEST), _json_bytes(manifest))
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return BundleSummary(out, len(exchanges), chain_entries, len(seal_files), len(cert_objects), len(anchored))


def _write_chain_segment(
    bundle: zipfile.ZipFile, store: BundleLogReader, first_seq: int, last_seq: int, files: dict[str, str]
) -> int:
    """Stream entries first_seq..last_seq into chain.jsonl (hashed fields only, no tokens or bodies)."""
    digest = hashlib.sha256()
    count = 0
    with bundle.open(_zip_info(CHAIN_FILE), "w") as member:
        for page in store.iter_log(after_seq=first_seq - 1, until_seq=last_seq):
            for entry in page:
                line = _json_line(ChainEntry(entry.seq, entry.prev_hash, entry.entry_hash, entry.fields).to_dict())
                member.write(line)
                digest.update(line)
                count += 1
    files[CHAIN_FILE] = digest.hexdigest()
    return count


def _seal_document(seal: SealLike) -> dict[str, Any]:
    return {
        "first_seq": seal.first_seq,
        "last_seq": seal.last_seq,
        "sealed_at": iso_utc(seal.sealed_at),
        **seal_batch_signature(seal).to_dict(),
    }


def _zip_info(name: str) -> zipfile.ZipInfo:
    """Fixed timestamps and permissions: the same content gives the same zip member headers."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    return info


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def _json_line(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def _body_suffix(body: bytes) -> str:
    """``json`` when the bytes are JSON (so an auditor's tools open them), else ``bin``; bytes unchanged."""
    try:
        json.loads(body)
    except ValueError:
        return "bin"
    return "json"


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


# -- bundle verification ----------------------------------------------------------------------


def verify_bundle(path: Path, *, trusted_roots: Sequence[x509.Certificate] | None = None) -> BundleReport:
    """Verify a bundle with nothing but its contents and, optionally, the verifier's own root(s).

    Checks, in order: the zip itself (no unsafe names, bounded sizes); every file against the
    manifest; the chain segment (contiguous, linked, every entry re-hashed); each exchange's
    bodies and signature tokens against the digests its entry commits to; each JWS signature
    over the exact body bytes, by a certificate valid at the time of the exchange and chaining
    to the trust anchor; each entry's Merkle inclusion proof under its seal, and the seal's
    signature. Without ``trusted_roots`` the roots inside the bundle are used and the report
    says the anchor is self-asserted.
    """
    path = Path(path)
    report = BundleReport(path, problems=[], warnings=[])
    try:
        members = _read_bundle(path)
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        report.problems.append(f"{path.name}: not a readable evidence bundle: {exc}")
        return report
    try:
        manifest = json.loads(members[MANIFEST])
        if manifest.get("format") != BUNDLE_FORMAT:
            raise ValueError(f"unknown format {manifest.get('format')!r}")
        listed: dict[str, str] = manifest["files"]
        chain_info = manifest["chain"]
        exchanges: list[dict[str, Any]] = manifest["exchanges"]
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        report.problems.append(f"{MANIFEST}: missing or malformed ({exc})")
        return report
    _check_files(members, listed, report)
    chain = _check_chain(members.get(CHAIN_FILE), chain_info, report)
    trust = _bundle_trust(members, manifest, trusted_roots, report)
    for exchange in exchanges:
        _check_exchange(exchange, members, chain, trust, report)
    report.exchanges = len(exchanges)
    if not report.signatures_verified and not report.seals_verified and not report.problems:
        report.warnings.append(
            "nothing in this bundle is signed: it shows only that its parts are consistent with each other"
        )
    return report


def _read_bundle(path: Path) -> dict[str, bytes]:
    """All members in memory, refusing unsafe names, duplicates and oversized (zip-bomb) content."""
    members: dict[str, bytes] = {}
    total = 0
    with zipfile.ZipFile(path) as bundle:
        for info in bundle.infolist():
            name = info.filename
            if info.is_dir():
                continue
            if name.startswith(("/", "\\")) or ".." in name.split("/") or "\\" in name or name in members:
                raise ValueError(f"unsafe or duplicate member name {name!r}")
            if info.file_size > MAX_BUNDLE_MEMBER or total + info.file_size > MAX_BUNDLE_TOTAL:
                raise ValueError(f"member {name!r} is larger than a bundle may hold")
            with bundle.open(info) as member:
                data = member.read(MAX_BUNDLE_MEMBER + 1)
            if len(data) > MAX_BUNDLE_MEMBER:
                raise ValueError(f"member {name!r} is larger than a bundle may hold")
            total += len(data)
            members[name] = data
    if MANIFEST not in members:
        raise ValueError(f"no {MANIFEST}")
    return members


def _check_files(members: Mapping[str, bytes], listed: Mapping[str, str], report: BundleReport) -> None:
    for name in sorted(set(members) - {MANIFEST}):
        if name not in listed:
            report.problems.append(f"{name}: not listed in the manifest (added after export)")
        elif sha256_hex(members[name]) != listed[name]:
            report.problems.append(f"{name}: SHA-256 does not match the manifest (the file was altered)")
    for name in sorted(set(listed) - set(members)):
        report.problems.append(f"{name}: listed in the manifest but missing from the bundle")


def _check_chain(data: bytes | None, info: Mapping[str, Any], report: BundleReport) -> dict[int, ChainEntry]:
    """Re-walk the segment; returns the entries by seq (even after a problem, for the later checks)."""
    entries: dict[int, ChainEntry] = {}
    if data is None:
        report.problems.append(f"{CHAIN_FILE}: missing")
        return entries
    walker: ChainWalker | None = None
    broken = False
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            raw = json.loads(line)
            entry = ChainEntry(int(raw["seq"]), str(raw["prev_hash"]), str(raw["entry_hash"]), dict(raw["fields"]))
        except (KeyError, ValueError, TypeError) as exc:
            report.problems.append(f"{CHAIN_FILE} line {number}: malformed entry ({exc})")
            broken = True
            break
        if walker is None:
            walker = ChainWalker(expected_seq=entry.seq, prev_hash=entry.prev_hash)
            if entry.seq != info.get("first_seq"):
                report.problems.append(
                    f"{CHAIN_FILE}: starts at entry {entry.seq}, the manifest says {info.get('first_seq')} "
                    "(an entry was removed)"
                )
                broken = True
        problem = walker.check(entry, tokens=False)
        if problem is not None:
            report.problems.append(f"{CHAIN_FILE}: {problem}")
            broken = True
            break
        entries[entry.seq] = entry
    if walker is None:
        report.problems.append(f"{CHAIN_FILE}: holds no entries")
    elif not broken and walker.expected_seq - 1 != info.get("last_seq"):
        report.problems.append(
            f"{CHAIN_FILE}: ends at entry {walker.expected_seq - 1}, the manifest says {info.get('last_seq')} "
            "(an entry was removed)"
        )
    report.chain_entries = len(entries)
    return entries


def _bundle_trust(
    members: Mapping[str, bytes],
    manifest: Mapping[str, Any],
    trusted_roots: Sequence[x509.Certificate] | None,
    report: BundleReport,
) -> TrustStore | None:
    """The verifier's roots if given, else the bundle's own (self-asserted); bundle certificates
    serve only as intermediates for path building."""
    from signing.trust import TrustStore

    def load(names: Sequence[str]) -> list[x509.Certificate]:
        found: list[x509.Certificate] = []
        for name in names:
            if name in members:
                try:
                    found.extend(x509.load_pem_x509_certificates(members[name]))
                except ValueError:
                    report.problems.append(f"{name}: not a PEM certificate")
        return found

    intermediates = load([c["file"] for c in manifest.get("certificates", [])])
    if trusted_roots:
        roots, report.self_asserted = list(trusted_roots), False
        report.trust_anchor = "supplied root: " + "; ".join(r.subject.rfc4514_string() for r in roots)
    else:
        roots = load([r["file"] for r in manifest.get("roots", [])])
        report.trust_anchor = (
            "self-asserted root (included in the bundle; supply your own with --trust): "
            + "; ".join(r.subject.rfc4514_string() for r in roots)
            if roots
            else "none: the bundle carries no root and none was supplied"
        )
    if not roots:
        return None
    return TrustStore(roots, intermediates)


def _check_exchange(
    exchange: Mapping[str, Any],
    members: Mapping[str, bytes],
    chain: Mapping[int, ChainEntry],
    trust: TrustStore | None,
    report: BundleReport,
) -> None:
    seq = exchange.get("seq")
    entry = chain.get(seq) if isinstance(seq, int) else None
    where = f"exchange {exchange.get('exchange_id')} (entry {seq})"
    if entry is None:
        report.problems.append(f"{where}: its entry is not in a verified part of {CHAIN_FILE}")
        return
    fields = entry.fields
    if fields.get("exchange_id") != exchange.get("exchange_id"):
        report.problems.append(f"{where}: the manifest and the chain disagree on the exchange id")
    files: Mapping[str, str] = exchange.get("files", {})
    at = _parse_time(fields.get("started_at"))
    for side in ("request", "response"):
        body_name = files.get(side)
        body = members.get(body_name) if body_name else None
        digest = fields.get(f"{side}_digest")
        if fields.get("bodies_kept") and digest is not None:
            if body is None:
                report.problems.append(f"{where}: the {side} body is missing from the bundle")
            elif sha256_hex(body) != digest or len(body) != fields.get(f"{side}_size"):
                report.problems.append(f"{body_name}: does not match the {side} digest entry {seq} commits to")
                body = None
        token_name = files.get(f"{side}_signature")
        token_bytes = members.get(token_name) if token_name else None
        if (None if token_bytes is None else sha256_hex(token_bytes)) != fields.get(f"{side}_signature_digest"):
            what = token_name or f"{where}: the {side} signature"
            report.problems.append(f"{what}: does not match the signature digest entry {seq} commits to")
            continue
        if token_bytes is None or body is None:
            continue
        _check_signature(str(token_name), body, token_bytes.decode(), fields, side, at, trust, report)
    proof_name = files.get("proof")
    if proof_name:
        _check_proof(proof_name, exchange.get("seal"), entry, members, trust, report)


def _check_signature(
    name: str,
    body: bytes,
    token: str,
    fields: Mapping[str, Any],
    side: str,
    at: datetime | None,
    trust: TrustStore | None,
    report: BundleReport,
) -> None:
    if trust is None:
        report.problems.append(f"{name}: cannot be checked: no trusted root supplied and none in the bundle")
        return
    try:
        signer = verify_detached(body, token, trust, at=at)
    except SignatureInvalid as exc:
        if side == "request" and fields.get("redacted"):
            report.warnings.append(
                f"{name}: not checkable -- the request had secrets (session, password) removed before it was "
                f"logged, and the signature covers the original bytes ({exc.reason})"
            )
            return
        report.problems.append(f"{name}: {exc.reason}")
        return
    except SigningError as exc:
        report.problems.append(f"{name}: signer not trusted: {exc.reason}")
        return
    if fingerprint(_der(signer)) != fields.get(f"{side}_signer"):
        report.problems.append(f"{name}: signed by a certificate other than the one entry {fields.get('seq')} records")
        return
    report.signatures_verified += 1


def _check_proof(
    name: str,
    seal_name: Any,
    entry: ChainEntry,
    members: Mapping[str, bytes],
    trust: TrustStore | None,
    report: BundleReport,
) -> None:
    if not isinstance(seal_name, str) or seal_name not in members:
        report.problems.append(f"{name}: its seal {seal_name!r} is missing from the bundle")
        return
    try:
        document = json.loads(members[seal_name])
        first_seq = int(document["first_seq"])
        proof = InclusionProof.from_json(members[name])
        batch = BatchSignature.from_dict(document)
        sealed_at = _parse_time(document.get("sealed_at"))
    except (KeyError, ValueError, TypeError) as exc:
        report.problems.append(f"{seal_name}: malformed seal ({exc})")
        return
    except SigningError as exc:
        report.problems.append(f"{name}: {exc.reason}")
        return
    if proof.index != entry.seq - first_seq:
        report.problems.append(
            f"{name}: proves leaf {proof.index}, but entry {entry.seq} is leaf {entry.seq - first_seq}"
        )
        return
    if trust is None:
        report.problems.append(f"{seal_name}: cannot be checked: no trusted root supplied and none in the bundle")
        return
    try:
        verify_batch_member(bytes.fromhex(entry.entry_hash), proof, batch, trust, at=sealed_at)
    except SignatureInvalid as exc:
        report.problems.append(f"{name}: entry {entry.seq} is not proven by {seal_name}: {exc.reason}")
        return
    except SigningError as exc:
        report.problems.append(f"{seal_name}: seal signer not trusted: {exc.reason}")
        return
    report.seals_verified += 1


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
