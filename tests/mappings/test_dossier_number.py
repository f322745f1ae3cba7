from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.dossier_number import (
    MAX_SEQ,
    DossierNumber,
    DossierNumberAllocator,
    DossierNumberError,
    SequenceExhaustedError,
    is_valid_dossier_number,
    parse_dossier_number,
)

agencies = st.from_regex(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}", fullmatch=True)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
numbers = st.builds(DossierNumber, agencies, days, st.integers(1, MAX_SEQ))
DIGIT_POSITIONS = [0, 1, 2, 4, 5, 7, 8, 11, 12, 14, 15, 16, 17, 18, 19, 21, 22, 23, 24]
STRUCTURE = {3: ".", 6: ".", 9: ".", 10: "H", 13: "-", 20: "-"}


def test_format_and_parse_the_circular_example():
    number = DossierNumber("000.00.12.H26", date(2026, 11, 20), 1)
    assert number.format() == str(number) == "000.00.12.H26-261120-0001"
    assert parse_dossier_number("000.00.12.H26-261120-0001") == number
    assert parse_dossier_number("000.01.60.H26-250701-9999").seq == MAX_SEQ


@pytest.mark.parametrize(
    ("s", "reason"),
    [
        ("000.00.12.H26_261120_0001", "separators"),
        ("000.00.12.H26-261120/0001", "separators"),
        ("000.00.12.H26-261120-0001-1", "separators"),
        ("000-00-12-H26-261120-0001", "separators"),
        ("000.00.12.h26-261120-0001", "agency_code"),
        ("00.00.12.H26-261120-0001", "agency_code"),
        ("000.00.12.H2-261120-0001", "agency_code"),
        ("000.00.12.H26 -261120-0001", "agency_code"),
        ("000.00.12.H26-260230-0001", "date"),
        ("000.00.12.H26-261320-0001", "date"),
        ("000.00.12.H26-2611200-001", "date"),
        ("000.00.12.H26-26112a-0001", "date"),
        ("000.00.12.H26-261120-0000", "sequence"),
        ("000.00.12.H26-261120-001", "sequence"),
        ("000.00.12.H26-261120-00001", "sequence"),
        ("000.00.12.H26-261120-１２３４", "sequence"),
    ],
)
def test_invalid_numbers_say_why(s, reason):
    with pytest.raises(ValueError) as err:
        parse_dossier_number(s)
    assert isinstance(err.value, DossierNumberError) and err.value.reason == reason
    assert not is_valid_dossier_number(s)


def test_leap_day_is_a_real_date():
    assert parse_dossier_number("000.00.12.H26-280229-0001").day == date(2028, 2, 29)
    assert not is_valid_dossier_number("000.00.12.H26-270229-0001")


def test_dossier_number_refuses_bad_parts():
    with pytest.raises(DossierNumberError, match="0001-9999"):
        DossierNumber("000.00.12.H26", date(2026, 11, 20), 10000)
    with pytest.raises(DossierNumberError):
        DossierNumber("000.00.12.H26", date(1999, 12, 31), 1)


def test_allocator_sequence_resets_per_day_and_agency():
    day = date(2026, 11, 20)
    a = DossierNumberAllocator("000.00.12.H26", day)
    assert [a.next().format() for _ in range(3)] == [
        "000.00.12.H26-261120-0001",
        "000.00.12.H26-261120-0002",
        "000.00.12.H26-261120-0003",
    ]
    assert DossierNumberAllocator("000.00.03.H26", day).next().format() == "000.00.03.H26-261120-0001"
    assert DossierNumberAllocator("000.00.12.H26", date(2026, 11, 21)).next().seq == 1
    resumed = DossierNumberAllocator("000.00.12.H26", day, last_seq=3)
    assert resumed.next().format() == "000.00.12.H26-261120-0004"


def test_allocator_stops_at_9999_a_day():
    a = DossierNumberAllocator("000.00.12.H26", date(2026, 11, 20))
    issued = [a.next() for _ in range(MAX_SEQ)]
    assert issued[-1].format().endswith("-9999")
    with pytest.raises(SequenceExhaustedError, match=r"000\.00\.12\.H26 has issued all 9999"):
        a.next()


def test_allocator_refuses_bad_inputs():
    with pytest.raises(DossierNumberError):
        DossierNumberAllocator("UBND-HN", date(2026, 11, 20))
    with pytest.raises(ValueError, match="last_seq"):
        DossierNumberAllocator("000.00.12.H26", date(2026, 11, 20), last_seq=10000)


@given(numbers)
def test_round_trip(number):
    text = number.format()
    assert len(text) == 25
    assert parse_dossier_number(text) == number
    assert is_valid_dossier_number(text)


@given(agencies, days, st.integers(0, MAX_SEQ - 1), st.integers(1, 300))
def test_allocated_numbers_are_valid_unique_and_ordered(agency, day, start, count):
    allocator = DossierNumberAllocator(agency, day, last_seq=start)
    issued = []
    for _ in range(min(count, MAX_SEQ - start)):
        issued.append(allocator.next().format())
    assert all(is_valid_dossier_number(s) for s in issued)
    assert len(set(issued)) == len(issued)
    assert issued == sorted(issued)
    assert all(parse_dossier_number(s).agency == agency and parse_dossier_number(s).day == day for s in issued)


@given(numbers, st.data())
def test_inserted_or_deleted_characters_are_rejected(number, data):
    text = number.format()
    i = data.draw(st.integers(0, len(text) - 1))
    assert not is_valid_dossier_number(text[:i] + text[i + 1 :])
    c = data.draw(st.characters(codec="utf-8"))
    assert not is_valid_dossier_number(text[:i] + c + text[i:])


@given(numbers, st.data())
def test_non_digit_in_a_digit_position_is_rejected(number, data):
    text = number.format()
    i = data.draw(st.sampled_from(DIGIT_POSITIONS))
    c = data.draw(st.characters(codec="ascii").filter(lambda ch: not ch.isdigit()))
    assert not is_valid_dossier_number(text[:i] + c + text[i + 1 :])


@given(numbers, st.data())
def test_broken_structure_characters_are_rejected(number, data):
    text = number.format()
    i = data.draw(st.sampled_from(sorted(STRUCTURE)))
    keep = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if STRUCTURE[i] == "H" else STRUCTURE[i]
    c = data.draw(st.characters(codec="utf-8").filter(lambda ch: ch not in keep))
    assert not is_valid_dossier_number(text[:i] + c + text[i + 1 :])


@given(agencies, days)
def test_sequence_zero_is_rejected(agency, day):
    assert not is_valid_dossier_number(f"{agency}-{day:%y%m%d}-0000")
