"""Characters a record may carry that one of the hub's stores cannot keep, found and made storable.

PostgreSQL refuses NUL (U+0000) in ``text`` and in JSONB (``\\u0000 cannot be converted to text``)
and, like every UTF-8 encoder, a lone surrogate (U+D800-U+DFFF: what JSON's ``"\\ud800"`` escape
decodes to). SQLite keeps NUL. Left alone, the same city record is accepted on one store and
crashes the extract on the other. So a record is made storable *before* it is stored -- each such
character becomes its visible escape (``\\u0000``, six ordinary characters) -- and the quality gate
quarantines any record that carries one, raw or escaped, under :data:`RULE`, naming the field and
the character. Both stores then hold the same bytes and reach the same verdict.
"""

from __future__ import annotations

import re
from typing import Any

RULE = "text.storable"

_RAW = re.compile("[\x00\ud800-\udfff]")
# The escape :func:`storable` writes (any case: a source may send it as text too).
_ESCAPED = re.compile(r"\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def has_raw_unstorable(text: str) -> bool:
    """Whether ``text`` holds NUL or a lone surrogate as such (not escaped)."""
    return _RAW.search(text) is not None


def storable_text(text: str) -> str:
    """``text`` with NUL and lone surrogates written as their ``\\uXXXX`` escape (else unchanged)."""
    return _RAW.sub(_escape, text) if _RAW.search(text) else text


def storable(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with :func:`storable_text` applied to
    every string, keys included; values that need nothing are returned as they are."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(k) if isinstance(k, str) else k: storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def unstorable_characters(value: Any, path: str = "") -> list[tuple[str, str]]:
    """``(field path, "U+XXXX")`` for every string in ``value`` holding a character a store refuses,
    raw or as the escape :func:`storable` left in its place; [] for a clean record."""
    if isinstance(value, str):
        found = [f"U+{ord(m.group()):04X}" for m in _RAW.finditer(value)]
        found += [f"U+{m.group(1).upper()}" for m in _ESCAPED.finditer(value)]
        return [(path or "(value)", code) for code in dict.fromkeys(found)]
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in unstorable_characters(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list | tuple):
        return [hit for i, v in enumerate(value) for hit in unstorable_characters(v, f"{path}[{i}]")]
    return []


def unstorable_reason(value: Any) -> str | None:
    """The quarantine reason for a record carrying such characters (Vietnamese, as the gate's
    reasons are; the value itself is not quoted), or None."""
    hits = unstorable_characters(value)
    if not hits:
        return None
    listed = ", ".join(f"'{field}' ({code})" for field, code in hits)
    return (
        f"ký tự không lưu được (NUL hoặc nửa cặp surrogate, PostgreSQL từ chối) trong {listed}: nguồn cần sửa bản ghi"
    )
