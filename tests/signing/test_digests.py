"""Content hashes and idempotency keys: the same content, the same key; anything else, another. The fast
(orjson) canonical encoder writes, byte for byte, what the reference encoder every stored hash was
taken over writes."""

from __future__ import annotations

import hashlib
import json
import math
import random
import struct
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

import pytest
import sqlalchemy as sa

from hub.pipeline.extract import staged_record
from hub.store import HubStore
from hub.store import schema as t
from mappings.city_system import to_canonical
from mappings.code_tables import load_code_tables
from mappings.errors import MappingError
from mappings.national_portal import to_dong_bo_ho_so, to_progress_entries
from mappings.sources import CITY_SOURCE
from sandbox.city_system.generator import generate
from signing.digests import (
    canonical_json,
    compact_json,
    content_hash,
    idempotency_key,
    non_finite_marker,
    reference_canonical_json,
    reference_compact_json,
)

# Each fast encoder with the reference whose bytes it must write: canonical JSON (hashes, leaves) and
# compact JSON (request bodies, keys in the order given).
ENCODERS = [(canonical_json, reference_canonical_json), (compact_json, reference_compact_json)]


def test_canonical_json_sorts_keys_drops_whitespace_and_keeps_vietnamese_as_utf8() -> None:
    assert canonical_json({"b": 1, "a": ["Hà Nội", None]}) == '{"a":["Hà Nội",null],"b":1}'.encode()


def test_canonical_json_writes_dates_and_decimals_as_their_text() -> None:
    assert canonical_json({"on": date(2026, 11, 20), "fee": Decimal("50000.00")}) == (
        b'{"fee":"50000.00","on":"2026-11-20"}'
    )


def test_the_content_hash_ignores_key_order_and_is_sha256_of_the_canonical_form() -> None:
    first = {"MaHoSo": "000.00.12.H26-261120-0001", "TrangThai": 2, "ChuHoSo": {"Ten": "Lê", "Tuoi": 40}}
    second = {"ChuHoSo": {"Tuoi": 40, "Ten": "Lê"}, "TrangThai": 2, "MaHoSo": "000.00.12.H26-261120-0001"}
    assert content_hash(first) == content_hash(second) == hashlib.sha256(canonical_json(first)).hexdigest()
    assert content_hash({**first, "TrangThai": 3}) != content_hash(first)


def test_an_idempotency_key_is_one_per_partner_operation_record_and_version() -> None:
    key = idempotency_key("national_portal", "DongBoHoSoMC", "000.00.12.H26-261120-0001", "v1")
    assert key == idempotency_key("national_portal", "DongBoHoSoMC", "000.00.12.H26-261120-0001", "v1")
    others = {
        idempotency_key("population_db", "DongBoHoSoMC", "000.00.12.H26-261120-0001", "v1"),
        idempotency_key("national_portal", "CapNhatTienDoHoSoMC", "000.00.12.H26-261120-0001", "v1"),
        idempotency_key("national_portal", "DongBoHoSoMC", "000.00.12.H26-261120-0002", "v1"),
        idempotency_key("national_portal", "DongBoHoSoMC", "000.00.12.H26-261120-0001", "v2"),
    }
    assert key not in others and len(others) == 4


def test_parts_cannot_run_into_each_other() -> None:
    """("ab", "c") and ("a", "bc") are two messages: the separator keeps the parts apart."""
    assert idempotency_key("ab", "c") != idempotency_key("a", "bc")
    assert idempotency_key("a", "b") == hashlib.sha256(b"a\x1fb").hexdigest()


# -- the fast encoder writes the reference bytes ------------------------------------------------------


class _Code(StrEnum):
    ISSUED = "issued"


class _Level(IntEnum):
    HIGH = 3


EDGE_VALUES: list[Any] = [
    {"z": 1, "a": 2, "Ä": 3, "ä": 4, "é": 5, "😀": 6, "\uffff": 7, "": 8},
    "".join(chr(i) for i in range(0x80)) + "\u2028\u2029\ufeff\x7f\x80\x9f Hà Nội 𝄞",
    [0.0, -0.0, 1.0, 0.1, 1e-4, 1e-5, 1.5e-5, 2.5e-7, 1e-99, 1e-100, 5e-324, 1e15, 1e16, 1.7976931348623157e308],
    [2**63 - 1, -(2**63), 2**64 - 1, 2**64, 2**70, -(2**70), True, False, None],
    {"on": date(2026, 11, 20), "at": datetime(2026, 11, 20, 8, 30, tzinfo=UTC), "fee": Decimal("50000.00")},
    {"id": uuid.UUID(int=5), "tuple": (1, "a"), "code": _Code.ISSUED, "level": _Level.HIGH},
    {1: "an integer key", "b": 2},
    "lone \ud800 surrogate is not UTF-8",
    "a code like 1e-05 or v1.00000 in a string",
]


# A request body never holds a UUID: orjson writes one where json.dumps (no ``default``) refuses it.
COMPACT_EDGE_VALUES = [
    {k: v for k, v in value.items() if k != "id"} if i == 5 else value for i, value in enumerate(EDGE_VALUES)
]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fast", "reference", "value"),
    [(canonical_json, reference_canonical_json, v) for v in EDGE_VALUES]
    + [(compact_json, reference_compact_json, v) for v in COMPACT_EDGE_VALUES],
    ids=[f"canonical-{i}" for i in range(len(EDGE_VALUES))] + [f"compact-{i}" for i in range(len(EDGE_VALUES))],
)
def test_the_fast_encoder_writes_the_reference_bytes_or_fails_the_same_way(
    value: Any, fast: Callable[[Any], bytes], reference: Callable[[Any], bytes]
) -> None:
    try:
        expected = reference(value)
    except (TypeError, UnicodeEncodeError) as exc:
        with pytest.raises(type(exc)):
            fast(value)
    else:
        assert fast(value) == expected


def test_compact_json_keeps_the_key_order_and_writes_plain_nan_as_json_dumps_does() -> None:
    """A request body's values are whatever its caller built, not marked: orjson's ``null`` for a
    NaN never goes out in place of the ``NaN`` the standard encoder writes."""
    value = {"z": [float("nan"), float("inf"), -float("inf")], "a": None, "m": "null"}
    assert compact_json(value) == reference_compact_json(value) == b'{"z":[NaN,Infinity,-Infinity],"a":null,"m":"null"}'


def test_nan_and_infinity_read_from_a_partner_keep_their_reference_text() -> None:
    """orjson would write ``null`` for them: parsed with the marker, they take the reference path."""
    document = json.loads('{"a": NaN, "b": [Infinity, -Infinity], "c": 1.5}', parse_constant=non_finite_marker)
    assert (
        canonical_json(document) == reference_canonical_json(document) == b'{"a":NaN,"b":[Infinity,-Infinity],"c":1.5}'
    )


def test_random_floats_and_nested_values_encode_identically() -> None:
    rng = random.Random(19)
    floats = [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(20_000)]
    floats += [round(rng.uniform(-1e9, 1e9), rng.randint(0, 9)) for _ in range(20_000)]
    finite = [f for f in floats if math.isfinite(f)]
    for fast, reference in ENCODERS:
        assert [fast(f) for f in finite] == [reference(f) for f in finite]
    for _ in range(500):
        value = _random_value(rng, depth=3)
        assert canonical_json(value) == reference_canonical_json(value)
        assert compact_json(value) == reference_compact_json(value)


def test_every_stored_hash_of_a_generated_day_recomputes_with_both_encoders(store: HubStore) -> None:
    """A generated city day staged as extract stages it (hash and stored text from the fast
    encoder), read back from the store: each stored text re-encodes to the same bytes with both
    encoders and hashes to the stored hash; so do the portal records and progress entries mapped
    from it."""
    day = generate(date(2026, 11, 20), 0.2, 7)
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in day.records], "digests-test")
    with store.db.engine.connect() as conn:
        rows = conn.execute(sa.select(t.staged_dossier.c.content_hash, t.staged_dossier.c.payload)).all()
    assert len(rows) == len({r["ma_ho_so"] for r in day.records if r.get("ma_ho_so")}) + sum(
        not r.get("ma_ho_so") for r in day.records
    )
    tables = load_code_tables()
    mapped = 0
    for stored_hash, payload in rows:
        record = json.loads(payload) if isinstance(payload, str) else payload
        assert hashlib.sha256(reference_canonical_json(record)).hexdigest() == stored_hash
        assert hashlib.sha256(canonical_json(record)).hexdigest() == stored_hash
        try:
            dossier = to_canonical(record, tables)
            portal = [to_dong_bo_ho_so(dossier, tables), *to_progress_entries(dossier)]
        except (MappingError, ValueError):
            continue  # a record with a named defect: the gate quarantines it, nothing is sent
        mapped += 1
        assert [canonical_json(v) for v in portal] == [reference_canonical_json(v) for v in portal]
        assert [compact_json(v) for v in portal] == [reference_compact_json(v) for v in portal]
    assert mapped > 0.9 * len(rows)


def _random_value(rng: random.Random, depth: int) -> Any:
    leaves: list[Any] = [
        rng.randint(-(2**62), 2**62),
        rng.random() * 10 ** rng.randint(-12, 20),
        "".join(
            chr(rng.choice([rng.randint(32, 126), rng.randint(0xA0, 0x1EFF), rng.randint(0, 31)])) for _ in range(8)
        ),
        None,
        rng.random() < 0.5,
    ]
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(leaves)
    if rng.random() < 0.5:
        return [_random_value(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    return {_random_value(rng, 0).__str__(): _random_value(rng, depth - 1) for _ in range(rng.randint(0, 4))}
