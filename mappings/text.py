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
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

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


def clean_at_a_glance(value: Any) -> bool:
    """True when ``value`` certainly holds no NUL, no lone surrogate and no escape of either: its
    JSON text, written in one pass in C, has no ``\\u`` at all (the JSON escape of NUL and of every
    control character, and the start of the escaped forms :func:`storable` leaves), and orjson,
    which refuses lone surrogates and non-JSON types, could write it. False means only "look
    closer": the value is then walked field by field. A whole record costs microseconds this
    way instead of a recursive call per value (issue 19: the rule was a sixth of the plan)."""
    try:
        return b"\\u" not in orjson.dumps(value)
    except TypeError:  # a lone surrogate, a non-string key, a type JSON does not have
        return False


def storable(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with :func:`storable_text` applied to
    every string, keys included; values that need nothing are returned as they are."""
    return value if clean_at_a_glance(value) else _storable(value)


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(k) if isinstance(k, str) else k: _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def unstorable_characters(value: Any, path: str = "", *, escaped: bool = True) -> list[tuple[str, str]]:
    """``(field path, "U+XXXX")`` for every string in ``value`` holding a character a store refuses,
    raw or (``escaped``) as the escape :func:`storable` left in its place; [] for a clean record.
    ``escaped=False`` looks for the raw characters only: for a decoded JSON document, where the text
    ``\\ud83d`` may be one half of an escaped pair a nested document decodes correctly."""
    if isinstance(value, str):
        found = [f"U+{ord(m.group()):04X}" for m in _RAW.finditer(value)]
        found += [f"U+{m.group(1).upper()}" for m in _ESCAPED.finditer(value)] if escaped else []
        return [(path or "(value)", code) for code in dict.fromkeys(found)]
    if isinstance(value, dict):
        return [
            hit
            for k, v in value.items()
            for hit in unstorable_characters(v, f"{path}.{k}" if path else str(k), escaped=escaped)
        ]
    if isinstance(value, list | tuple):
        return [hit for i, v in enumerate(value) for hit in unstorable_characters(v, f"{path}[{i}]", escaped=escaped)]
    return []


# Records per glance in :func:`unstorable_reasons`: one dirty record sends only its chunk to be
# looked at record by record, and a page where every record is dirty costs two dumps, not one.
_GLANCE_CHUNK = 100


def unstorable_reasons(rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """Position -> :func:`unstorable_reason` for the rows of a page that carry such characters.

    The rule over a page as one column check: one glance (one C pass) per chunk of rows, and a
    row is looked at alone only in a chunk the glance cannot clear. The JSON text of a chunk holds
    each row's, so a clean chunk has only clean rows: the verdicts are the per-row ones."""
    records = [row if type(row) is dict else dict(row) for row in rows]
    found: dict[int, str] = {}
    for start in range(0, len(records), _GLANCE_CHUNK):
        chunk = records[start : start + _GLANCE_CHUNK]
        if clean_at_a_glance(chunk):
            continue
        for offset, record in enumerate(chunk):
            reason = unstorable_reason(record)
            if reason is not None:
                found[start + offset] = reason
    return found


def unstorable_reason(value: Any) -> str | None:
    """The quarantine reason for a record carrying such characters (Vietnamese, as the gate's
    reasons are; the value itself is not quoted), or None."""
    hits = [] if clean_at_a_glance(value) else unstorable_characters(value)
    if not hits:
        return None
    listed = ", ".join(f"'{field}' ({code})" for field, code in hits)
    return (
        f"ký tự không lưu được (NUL hoặc nửa cặp surrogate, PostgreSQL từ chối) trong {listed}: nguồn cần sửa bản ghi"
    )
