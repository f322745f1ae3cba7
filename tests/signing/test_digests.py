"""Content hashes and idempotency keys: the same content, the same key; anything else, another."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from signing.digests import canonical_json, content_hash, idempotency_key


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
