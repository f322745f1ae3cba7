"""What export and verification of an evidence bundle agree on: the format names and the fixed files.

An exchange bundle is a zip: ``manifest.json`` (what it holds and every other file's SHA-256),
``chain.jsonl`` (a contiguous segment of the log), the exchanges' bodies and signatures, the seals
with inclusion proofs, and the certificates (layout in ``bundle_export.BUNDLE_README``). A record
bundle holds one dossier's records, proofs and signed batch roots instead
(``bundle_export.RECORD_BUNDLE_README``).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signing.evidence.entry import fingerprint

BUNDLE_FORMAT = "hub-evidence-bundle/1"
RECORD_BUNDLE_FORMAT = "hub-record-bundle/1"
"""One dossier's evidence: its records as sent, their inclusion proofs and the signed batch roots --
no exchange body, so no other citizen of the same batches (``bundle_export.export_record_bundle``)."""
MANIFEST = "manifest.json"
CHAIN_FILE = "chain.jsonl"


def certificate_fingerprint(cert: x509.Certificate) -> str:
    """The name a bundle and the log give a certificate (``fingerprint`` of its DER)."""
    return fingerprint(cert.public_bytes(Encoding.DER))
