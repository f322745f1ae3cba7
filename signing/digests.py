"""Content digests and idempotency keys: the integrity primitives the rest of signing builds on.

A record's hash is taken over canonical JSON (sorted keys, no whitespace, UTF-8 kept as is), so
the same content always hashes the same whatever order a partner sent its keys in.

The canonical bytes are defined by the standard library's encoder (``json.dumps`` with sorted
keys, ``,``/``:`` separators, ``ensure_ascii=False``, ``default=str``): every hash the hub ever
stored was taken over them. orjson writes the same bytes about ten times faster for JSON data
(strings, integers, lists, dicts, None, booleans, most floats), so it is the fast path, and the
standard encoder stays the reference wherever the two could differ (``tests/signing/test_digests.py``
recomputes stored hashes with both):

* a value orjson would write its own way -- ``datetime``/``date``/``time`` (RFC 3339 there,
  ``str()`` here), ``Decimal``, subclasses of ``str``/``int``/``dict``/``list``, dataclasses, any
  type only ``default=str`` knows -- reaches :func:`_not_plain_json`, which sends the whole value
  to the standard encoder; so do non-string keys, integers beyond 64 bits and lone surrogates,
  which orjson refuses;
* floats: both write the shortest round-trip digits, but for magnitudes below 1e-4 Python writes
  ``1e-05`` where orjson writes ``0.00001`` or ``1e-6``; an output holding a digit followed by
  ``e-`` or the text ``.0000`` is re-encoded with the standard encoder (a string that happens to
  hold one only costs the slow path);
* NaN and infinities (not JSON, yet ``json.loads`` accepts them and ``json.dumps`` writes ``NaN``)
  are written ``null`` by orjson with no way to tell: the partners' replies are therefore parsed
  with :func:`non_finite_marker` (``adapters.transport``), which keeps their value as a
  :class:`NonFiniteFloat`, a ``float`` subclass orjson refuses, so they too take the standard path;
* plain ``enum.Enum`` members (not ``str``/``int`` enums) would be written as their value by orjson
  and as ``Cls.NAME`` by the standard encoder; the hub's records and log fields never hold one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, NoReturn

import orjson

# Whatever orjson would write its own way goes to the standard encoder instead (see above).
_PLAIN = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
_OPTIONS = orjson.OPT_SORT_KEYS | _PLAIN
# A float whose text may differ between the two encoders (Python's 1e-05 against orjson's 0.00001).
_SMALL_FLOAT = re.compile(rb"\de-|\.0000")
# The same, or a ``null`` that may be a plain float NaN or infinity (canonical JSON's values are
# marked instead, see above; a request body's are whatever its caller built).
_SMALL_FLOAT_OR_NULL = re.compile(rb"\de-|\.0000|null")


class NonFiniteFloat(float):
    """NaN or an infinity read from a partner's JSON: a float like any other, except that the fast
    encoder refuses it, so canonical JSON writes it ``NaN``/``Infinity`` as it always has."""


def non_finite_marker(constant: str) -> float:
    """``parse_constant`` for ``json.loads``: ``NaN``, ``Infinity``, ``-Infinity`` as :class:`NonFiniteFloat`."""
    return NonFiniteFloat(constant)


class _NotPlainJson(TypeError):
    pass


def _not_plain_json(value: Any) -> NoReturn:
    raise _NotPlainJson(type(value).__name__)


def reference_canonical_json(value: Any) -> bytes:
    """The definition of canonical JSON: what every stored hash was taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def canonical_json(value: Any) -> bytes:
    """:func:`reference_canonical_json`'s bytes, written by orjson where it writes the same ones."""
    return _fast(value, _OPTIONS, reference_canonical_json, _SMALL_FLOAT)


def reference_compact_json(value: Any) -> bytes:
    """JSON as a request body goes on the wire: keys in the order given, no whitespace, UTF-8 kept
    (``json.dumps`` with ``,``/``:`` separators and ``ensure_ascii=False``; no ``default``: a value
    JSON cannot hold is a ``TypeError``)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def compact_json(value: Any) -> bytes:
    """:func:`reference_compact_json`'s bytes, written by orjson where it writes the same ones (the
    same rules as :func:`canonical_json`, keys unsorted, and a ``null`` sent to the reference too:
    a plain float NaN here is not marked): a partner call's body, encoded once. One difference
    stays, on values a request body never holds: orjson writes a ``uuid.UUID`` or a plain
    ``enum.Enum`` member, which the reference refuses (``TypeError``)."""
    return _fast(value, _PLAIN, reference_compact_json, _SMALL_FLOAT_OR_NULL)


def _fast(value: Any, option: int, reference: Callable[[Any], bytes], suspect: re.Pattern[bytes]) -> bytes:
    """``reference(value)``, written by orjson with ``option`` unless its bytes could differ
    (orjson refuses the value, or its output holds a ``suspect`` text)."""
    try:
        text = orjson.dumps(value, default=_not_plain_json, option=option)
    except TypeError:  # orjson.JSONEncodeError is a TypeError; so is _NotPlainJson
        return reference(value)
    if suspect.search(text) is not None:
        return reference(value)
    return text


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def idempotency_key(*parts: str) -> str:
    """One key per (partner, operation, record, version): the same message is never queued twice."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
