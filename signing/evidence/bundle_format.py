"""What export and verification of an evidence bundle agree on: the format name and the fixed files.

A bundle is a zip: ``manifest.json`` (what it holds and every other file's SHA-256), ``chain.jsonl``
(a contiguous segment of the log), the exchanges' bodies and signatures, the seals with inclusion
proofs, and the certificates (the layout is spelled out in ``bundle_export.BUNDLE_README``).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signing.evidence.entry import fingerprint

BUNDLE_FORMAT = "hub-evidence-bundle/1"
MANIFEST = "manifest.json"
CHAIN_FILE = "chain.jsonl"


def certificate_fingerprint(cert: x509.Certificate) -> str:
    """The name a bundle and the log give a certificate (``fingerprint`` of its DER)."""
    return fingerprint(cert.public_bytes(Encoding.DER))
