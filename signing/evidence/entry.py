"""The log entry: which fields its hash covers, how they are spelled, and how an entry links to the last.

This module owns the *format*, so that the store that appends, the command that verifies and a third
party holding an exported bundle all compute the same hash.

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
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from signing.digests import canonical_json

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


def signature_certificates(token: str | None) -> list[bytes]:
    """The DER certificates in a compact JWS's ``x5c`` header, signer first; [] when unreadable.

    Read without verifying anything: the log keeps what was received, including a signature the
    transport refused, and that refusal is itself evidence. Verification happens in the
    adapter when the reply arrives and again in ``verify_bundle``.
    """
    if not token:
        return []
    return list(_header_certificates(token.split(".", 1)[0]))


@lru_cache(maxsize=64)
def _header_certificates(header_part: str) -> tuple[bytes, ...]:
    """The ``x5c`` chain of one protected header segment, remembered: a signer sends the same
    header with every message, and the message log reads it for each side of every exchange."""
    try:
        header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
        chain = header.get("x5c") if isinstance(header, dict) else None
        if not isinstance(chain, list):
            return ()
        return tuple(base64.b64decode(c, validate=True) for c in chain if isinstance(c, str))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return ()


def fingerprint(der: bytes) -> str:
    """SHA-256 of a certificate's DER: how the log and bundles name certificates."""
    return sha256_hex(der)


def token_digest(token: str | None) -> str | None:
    return None if token is None else sha256_hex(token.encode())
