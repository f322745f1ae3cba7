"""Export one exchange, or a dossier's exchanges, as a zip a third party verifies without the hub.

Apart from the log format (``entry``, ``chain``): the bundle is the log's evidence handed out, and
what goes into it -- exact bodies, certificates, a chain segment, seals with proofs -- changes with
what auditors ask for, not with how entries are hashed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signing.evidence.bundle_format import (
    BUNDLE_FORMAT,
    CHAIN_FILE,
    MANIFEST,
    RECORD_BUNDLE_FORMAT,
    certificate_fingerprint,
)
from signing.evidence.chain import ChainEntry, EntryLike, HeadLike
from signing.evidence.entry import GENESIS_HASH, fingerprint, iso_utc, sha256_hex, signature_certificates
from signing.evidence.seals import SealLike, seal_batch_signature, seal_leaves
from signing.merkle import InclusionProof, MerkleTree, ProvenRecord

README = "README.txt"

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


RECORD_BUNDLE_README = """\
DOSSIER EVIDENCE BUNDLE -- Hanoi dossier integration hub
========================================================

SENSITIVE: this bundle holds one dossier exactly as the hub sent it (its applicant's personal
data). It holds nobody else's: the batches the dossier travelled in are represented by their
signed Merkle roots and this record's audit path, whose hashes reveal nothing of the other
records. Keep it as you would the dossier itself (Decree 13/2023 on personal data protection).

What is inside
  manifest.json            what the bundle holds and the SHA-256 of every other file
  records/<n>/record.json  the record exactly as sent (canonical JSON: sorted keys, no spaces,
                           UTF-8): the Merkle leaf
  records/<n>/proof.json   its inclusion proof {"index", "size", "path"} (RFC 6962)
  batches/<root>.json      the batch's tree head and the hub's detached JWS over it
  certificates/*.pem       the certificates the JWS carries (x5c)
  roots/*.pem              the root(s) the exporter trusted: SELF-ASSERTED, use your own copy

How to verify (with the hub: `hub evidence verify-bundle FILE.zip [--trust ROOT.pem]`), or by hand:
  1. Every file's SHA-256 equals manifest.json "files".
  2. For each record: leaf hash = sha256(0x00 || record bytes); fold the proof's path up to the
     root as RFC 6962 section 2.1.1 describes; it must equal the batch file's "root" for a tree
     of "size" leaves.
  3. The batch file's "jws" is a detached RS256 JWS ("b64": false) over
     {"alg":"rfc6962-sha256","root":<hex>,"size":<n>,"type":"hub.merkle-batch/1"} (sorted keys,
     no spaces), made by a certificate that chains to a root YOU trust and was valid at the
     record's "signed_at".
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


class StoredSeal(SealLike, Protocol):
    """A seal with the store's id, which names its file in the bundle."""

    id: int


class BundleLogReader(Protocol):
    """What ``export_bundle`` needs from the store (``hub.store.HubStore`` implements it)."""

    def log_seqs(self, *, exchange_id: str | None = None, dossier_no: str | None = None) -> list[int]: ...

    def log_entries(self, seqs: Sequence[int]) -> Sequence[EntryLike]: ...

    def iter_log(
        self, *, after_seq: int = 0, until_seq: int | None = None, chunk: int = 500
    ) -> Iterator[Sequence[EntryLike]]: ...

    def log_head(self) -> HeadLike | None: ...

    def log_seals(self, *, covering: Sequence[int] | None = None) -> Sequence[StoredSeal]: ...

    def log_entry_hashes(self, first_seq: int, last_seq: int) -> list[str]: ...

    def message_bodies(self, digests: Sequence[str]) -> dict[str, bytes]: ...


def export_bundle(
    store: BundleLogReader,
    *,
    exchange_id: str,
    out: Path,
    roots: Sequence[x509.Certificate] = (),
) -> BundleSummary:
    """Write one exchange as a zip.

    A whole exchange discloses everyone its bodies name (a ``DongBoHoSoMC`` call carries hundreds
    of citizens): one dossier's evidence is :func:`export_record_bundle` instead.

    The zip holds what a third party needs and nothing they must take on faith from the hub:
    the exact bodies, the partners' and the hub's signatures with their certificate chains, the
    contiguous chain segment from the first to the last exported entry (other exchanges in it
    appear as hashed fields only -- digests, never their bodies), the seals over those entries
    with inclusion proofs, and the roots among ``roots`` (the exporter's trust anchors) that the
    chains end at. The file is created with mode 0600 and replaced atomically: it holds
    personal data.
    """
    seqs = store.log_seqs(exchange_id=exchange_id)
    if not seqs:
        raise LookupError(f"the message log holds no exchange {exchange_id}")
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
    certificates: dict[str, bytes] = {}
    exchanges: list[dict[str, Any]] = []
    with _private_zip(Path(out)) as (bundle, add, files):
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
        cert_objects, anchored = _add_certificates(add, certificates, roots)
        add(README, BUNDLE_README.encode())
        chain = {"file": CHAIN_FILE, "first_seq": seqs[0], "last_seq": seqs[-1]}
        _write_manifest(
            bundle,
            {"format": BUNDLE_FORMAT, "selection": {"exchange_id": exchange_id}},
            {
                "entry_hash": "sha256(bytes.fromhex(prev_hash) || canonical_json(fields))",
                "genesis_prev_hash": GENESIS_HASH,
                "chain": {**chain, "log_head_seq": None if head is None else head.seq},
                "exchanges": exchanges,
                "seals": sorted(seal_files.values()),
            },
            cert_objects,
            anchored,
            files,
        )
    return BundleSummary(Path(out), len(exchanges), chain_entries, len(seal_files), len(cert_objects), len(anchored))


def export_record_bundle(
    records: Sequence[ProvenRecord],
    *,
    dossier_no: str,
    out: Path,
    roots: Sequence[x509.Certificate] = (),
) -> BundleSummary:
    """Write one dossier's evidence as a zip that names nobody else.

    For each signed sending of the dossier: the record exactly as sent (the Merkle leaf), its
    inclusion proof, and the batch's tree head with the hub's signature over it, plus the
    certificates that signature carries and the matching roots among ``roots``. No exchange body
    and no other leaf is included: the proof's sibling hashes reveal nothing of the other records.
    Mode 0600 and atomic, as :func:`export_bundle`.
    """
    if not records:
        raise LookupError(f"no signed sending of dossier {dossier_no} in the hub store")
    certificates: dict[str, bytes] = {}
    listed: list[dict[str, Any]] = []
    with _private_zip(Path(out)) as (bundle, add, files):
        for n, proven in enumerate(records, start=1):
            root = proven.batch.root.hex()
            batch_file = f"batches/{root}.json"
            if batch_file not in files:
                add(batch_file, _json_bytes(proven.batch.to_dict()))
            for der in signature_certificates(proven.batch.jws):
                certificates[fingerprint(der)] = der
            folder = f"records/{n:04d}"
            listed.append(
                {
                    "dossier_no": proven.dossier_no,
                    "partner": proven.partner,
                    "operation": proven.operation,
                    "batch_id": proven.batch_id,
                    "signed_at": iso_utc(proven.signed_at),
                    "record": add(f"{folder}/record.json", proven.record),
                    "proof": add(f"{folder}/proof.json", _json_bytes(proven.proof.to_dict())),
                    "batch": batch_file,
                }
            )
        cert_objects, anchored = _add_certificates(add, certificates, roots)
        add(README, RECORD_BUNDLE_README.encode())
        _write_manifest(
            bundle,
            {"format": RECORD_BUNDLE_FORMAT, "selection": {"dossier_no": dossier_no}},
            {"records": listed},
            cert_objects,
            anchored,
            files,
        )
    return BundleSummary(Path(out), len(listed), 0, 0, len(cert_objects), len(anchored))


AddMember = Callable[[str, bytes], str]


@contextlib.contextmanager
def _private_zip(out: Path) -> Iterator[tuple[zipfile.ZipFile, AddMember, dict[str, str]]]:
    """A zip written beside ``out`` with mode 0600 and renamed into place only when complete.

    Yields the zip, ``add(name, data) -> name`` (which records each member's SHA-256 for the
    manifest) and those digests so far.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.partial")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an older file of that name keeps its mode through O_TRUNC
    files: dict[str, str] = {}
    try:
        with os.fdopen(descriptor, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as bundle:

            def add(name: str, data: bytes) -> str:
                bundle.writestr(_zip_info(name), data)
                files[name] = sha256_hex(data)
                return name

            yield bundle, add, files
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _add_certificates(
    add: AddMember, certificates: dict[str, bytes], roots: Sequence[x509.Certificate]
) -> tuple[dict[str, x509.Certificate], dict[str, x509.Certificate]]:
    """Every certificate the signatures carry, and the roots among ``roots`` their chains end at."""
    cert_objects = {fp: x509.load_der_x509_certificate(der) for fp, der in certificates.items()}
    issuers = {c.issuer for c in cert_objects.values()}
    anchored = {certificate_fingerprint(r): r for r in roots if r.subject in issuers}
    for fp, cert in sorted(cert_objects.items()):
        add(f"certificates/{fp}.pem", cert.public_bytes(Encoding.PEM))
    for fp, root in sorted(anchored.items()):
        add(f"roots/{fp}.pem", root.public_bytes(Encoding.PEM))
    return cert_objects, anchored


def _write_manifest(
    bundle: zipfile.ZipFile,
    kind: dict[str, Any],
    contents: dict[str, Any],
    cert_objects: dict[str, x509.Certificate],
    anchored: dict[str, x509.Certificate],
    files: dict[str, str],
) -> None:
    """``manifest.json``: format and selection, what the bundle holds, its certificates and roots
    (the exporter's roots: self-asserted), and every other member's SHA-256. Written last."""
    manifest = {
        **kind,
        "created_at": iso_utc(datetime.now(UTC)),
        **contents,
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
