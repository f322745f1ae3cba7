"""The message log as evidence, modelled on X-Road's: entry format, hash chain, seals, bundles.

``entry`` (which fields an entry hash covers), ``seals`` (signed Merkle roots over ranges of
entries) and ``chain`` (walking the log) are the log format the store appends with and
``hub evidence verify`` checks; they are exposed here because the store uses them as
``evidence.entry_hash`` and the like. The evidence bundles, handed to third parties, live in
``bundle_export`` and ``bundle_verify`` and are imported from there.
"""

from signing.evidence.chain import ChainReport, verify_chain
from signing.evidence.entry import (
    ENTRY_FIELDS,
    GENESIS_HASH,
    entry_fields,
    entry_hash,
    fingerprint,
    sha256_hex,
    signature_certificates,
)
from signing.evidence.seals import sign_seal

__all__ = [
    "ENTRY_FIELDS",
    "GENESIS_HASH",
    "ChainReport",
    "entry_fields",
    "entry_hash",
    "fingerprint",
    "sha256_hex",
    "sign_seal",
    "signature_certificates",
    "verify_chain",
]
