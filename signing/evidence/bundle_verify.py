"""Verify an evidence bundle with nothing but its contents and, optionally, the verifier's own root.

The verifier is the auditor's side of ``bundle_export``: it trusts nothing in the zip that it can
recompute, so it re-walks the chain segment (``chain.ChainWalker``), re-hashes bodies and tokens,
and checks signatures and seal proofs against a root the auditor supplies.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509

from signing.errors import SignatureInvalid, SigningError
from signing.evidence.bundle_format import (
    BUNDLE_FORMAT,
    CHAIN_FILE,
    MANIFEST,
    RECORD_BUNDLE_FORMAT,
    certificate_fingerprint,
)
from signing.evidence.chain import ChainEntry, ChainWalker
from signing.evidence.entry import sha256_hex
from signing.jws import verify_detached
from signing.merkle import BatchSignature, InclusionProof, verify_batch_member

if TYPE_CHECKING:
    from signing.trust import TrustStore

MAX_BUNDLE_MEMBER = 512 * 1024 * 1024
MAX_BUNDLE_TOTAL = 2 * 1024 * 1024 * 1024


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
    records: int = 0
    records_verified: int = 0
    trust_anchor: str = ""
    self_asserted: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems


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
        if manifest.get("format") == RECORD_BUNDLE_FORMAT:
            _verify_records(members, manifest, trusted_roots, report)
            return report
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


def _verify_records(
    members: Mapping[str, bytes],
    manifest: Mapping[str, Any],
    trusted_roots: Sequence[x509.Certificate] | None,
    report: BundleReport,
) -> None:
    """A record bundle: every file against the manifest, then each record as leaf ``index`` of a
    batch whose tree head the hub signed, with a certificate valid when it signed."""
    try:
        listed: dict[str, str] = manifest["files"]
        records: list[dict[str, Any]] = manifest["records"]
    except (KeyError, TypeError) as exc:
        report.problems.append(f"{MANIFEST}: missing or malformed ({exc})")
        return
    _check_files(members, listed, report)
    trust = _bundle_trust(members, manifest, trusted_roots, report)
    for record in records:
        where = f"record {record.get('record')!r} of dossier {record.get('dossier_no')}"
        try:
            leaf = members[record["record"]]
            proof = InclusionProof.from_json(members[record["proof"]])
            batch = BatchSignature.from_dict(json.loads(members[record["batch"]]))
            signed_at = datetime.fromisoformat(record["signed_at"])
        except (KeyError, ValueError, TypeError) as exc:
            report.problems.append(f"{where}: incomplete or malformed ({exc})")
            continue
        except SigningError as exc:
            report.problems.append(f"{where}: {exc.reason}")
            continue
        if trust is None:
            report.problems.append(f"{where}: cannot be checked: no trusted root supplied and none in the bundle")
            continue
        try:
            verify_batch_member(leaf, proof, batch, trust, at=signed_at)
        except SigningError as exc:
            report.problems.append(f"{where}: not proven by batch {record['batch']}: {exc.reason}")
            continue
        report.records_verified += 1
    report.records = len(records)
    if not records:
        report.problems.append(f"{MANIFEST}: lists no record")


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
    if certificate_fingerprint(signer) != fields.get(f"{side}_signer"):
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
