"""Content digests and idempotency keys: the integrity primitives the rest of signing builds on.

A record's hash is taken over canonical JSON (sorted keys, no whitespace, UTF-8 kept as is), so
the same content always hashes the same whatever order a partner sent its keys in.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def idempotency_key(*parts: str) -> str:
    """One key per (partner, operation, record, version): the same message is never queued twice."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
