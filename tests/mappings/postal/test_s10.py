"""UPU S10 item codes: the check digit the hub relies on to refuse a carrier's mangled reply."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.postal.s10 import is_valid_s10, make_s10, s10_check_digit

serials = st.text(alphabet="0123456789", min_size=8, max_size=8)
letters = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)


def test_the_reference_example_from_the_upu_standard() -> None:
    assert s10_check_digit("12345678") == 5
    assert is_valid_s10("EE123456785VN")
    assert make_s10("EE", "12345678") == "EE123456785VN"


@pytest.mark.parametrize(
    ("serial", "digit"),
    [("00000000", 5), ("00000004", 5), ("00000008", 0), ("00000001", 4)],  # remainder 0 -> 5, 6 -> 5, 1 -> 0
)
def test_the_two_special_remainders(serial: str, digit: int) -> None:
    assert s10_check_digit(serial) == digit


@given(letters, serials, letters)
def test_every_made_code_is_valid_and_keeps_its_parts(prefix: str, serial: str, country: str) -> None:
    code = make_s10(prefix, serial, country)
    assert is_valid_s10(code)
    assert (code[:2], code[2:10], code[11:]) == (prefix, serial, country)


@given(letters, serials, st.integers(min_value=1, max_value=9))
def test_any_other_check_digit_is_refused(prefix: str, serial: str, shift: int) -> None:
    code = make_s10(prefix, serial)
    wrong = f"{code[:10]}{(int(code[10]) + shift) % 10}{code[11:]}"
    assert not is_valid_s10(wrong)


@given(serials, st.integers(min_value=0, max_value=7), st.integers(min_value=1, max_value=9))
def test_a_single_mistyped_serial_digit_changes_the_weighted_sum(serial: str, position: int, shift: int) -> None:
    """Every weight is prime to 11, so one wrong digit always moves the sum mod 11; the digit
    catches it except where remainders 0 and 6 share the digit 5 (the standard's known blind spot)."""
    typo = f"{serial[:position]}{(int(serial[position]) + shift) % 10}{serial[position + 1 :]}"
    weights = (8, 6, 4, 2, 3, 5, 9, 7)
    remainders = {sum(int(d) * w for d, w in zip(s, weights, strict=True)) % 11 for s in (serial, typo)}
    assert len(remainders) == 2
    if remainders != {0, 6}:
        assert s10_check_digit(serial) != s10_check_digit(typo)


@pytest.mark.parametrize(
    "code",
    ["ee123456785VN", "EE123456785V", "EE12345678VN", "E1123456785VN", "EE1234567850VN", "EE12345678XVN", ""],
)
def test_anything_not_shaped_like_s10_is_refused(code: str) -> None:
    assert not is_valid_s10(code)


@pytest.mark.parametrize(
    ("prefix", "serial", "country", "reason"),
    [
        ("E", "12345678", "VN", "an S10 service indicator is two capital letters, got 'E'"),
        ("EE", "1234567", "VN", "an S10 serial is exactly 8 digits, got '1234567'"),
        ("EE", "1234567a", "VN", "an S10 serial is exactly 8 digits, got '1234567a'"),
        ("EE", "12345678", "vn", "an S10 country code is two capital letters, got 'vn'"),
    ],
)
def test_making_a_code_from_bad_parts_says_which_part(prefix: str, serial: str, country: str, reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        make_s10(prefix, serial, country)
    assert str(refused.value) == reason
