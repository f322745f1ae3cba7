"""The hub's identity comparison: names, year-only birth dates, addresses across the July 2025 reform."""

from __future__ import annotations

from datetime import date

import pytest

from mappings.code_tables import load_code_tables
from mappings.identity import (
    BirthDate,
    RegisteredAddress,
    RegisteredPerson,
    StatedAddress,
    StatedIdentity,
    Verdict,
    compare,
)

TABLES = load_code_tables()
ID = "001190004217"
BORN = BirthDate(1990, 4, 17)


def _person(name: str = "LÊ THỊ THU HÀ", birth: BirthDate | None = BORN, **kw: object) -> RegisteredPerson:
    return RegisteredPerson(ID, name, birth, **kw)  # type: ignore[arg-type]


def test_capitals_and_spacing_are_the_same_name_and_marks_are_told_apart() -> None:
    stated = StatedIdentity(ID, "Lê  Thị Thu Hà", BirthDate(1990, 4, 17))
    assert compare(stated, _person()).verdict is Verdict.MATCH
    check = compare(stated, _person("LÊ THỊ THU HẢ"))
    assert (check.verdict, check.mismatched, check.diacritics_only) == (Verdict.MISMATCH, ("HoVaTen",), True)
    assert "diacritics" in check.reason and ID not in check.reason
    assert compare(stated, _person("LÊ THỊ THU HƯƠNG")).diacritics_only is False
    assert compare(stated, None).verdict is Verdict.NOT_FOUND


@pytest.mark.parametrize(
    ("ours", "theirs", "verdict"),
    [
        (BirthDate(1957), BirthDate(1957, 3, 1), Verdict.MATCH),  # only the year is known on one side
        (BirthDate(1957, 3, 1), BirthDate(1957), Verdict.MATCH),
        (BirthDate(1957), BirthDate(1958), Verdict.MISMATCH),
        (BirthDate(1957, 3, 1), BirthDate(1957, 3, 2), Verdict.MISMATCH),
        (BirthDate(1957, 3, 1), None, Verdict.MISMATCH),
    ],
)
def test_year_only_birth_dates_compare_by_year(ours: BirthDate, theirs: BirthDate | None, verdict: Verdict) -> None:
    assert compare(StatedIdentity(ID, "Lê Thị Thu Hà", ours), _person(birth=theirs)).verdict is verdict


def test_birth_dates_read_and_write_the_register_forms() -> None:
    assert BirthDate.parse("19900417") == BirthDate.parse("1990-04-17") == BirthDate(1990, 4, 17)
    assert BirthDate.parse("1957").register_form() == {"Nam": "1957"}
    assert BirthDate(1990, 4, 17).register_form() == {"NgayThangNam": "19900417"}
    with pytest.raises(ValueError):
        BirthDate.parse("1990-02-30")


def test_addresses_compare_by_level_and_across_the_reform_only_as_unverifiable() -> None:
    after = RegisteredAddress("01", "", "90001", "Số 12 phố Kim Mã")
    before = RegisteredAddress("01", "001", "00004", "Số 3 phố Trúc Bạch")
    on = date(2026, 11, 20)

    def check(stated: StatedAddress, **residences: RegisteredAddress) -> object:
        person = _person(**residences)
        return compare(
            StatedIdentity(ID, "Lê Thị Thu Hà", BirthDate(1990, 4, 17), stated), person, tables=TABLES, on=on
        )

    same = check(StatedAddress("01", "90001"), permanent=after)
    assert same.verdict is Verdict.MATCH and same.address.levels == {"province": "same", "commune": "same"}
    moved = check(StatedAddress("01", "90002"), permanent=after)
    assert moved.mismatched == ("DiaChi",) and "commune" in moved.reason
    other_province = check(StatedAddress("79", "90001"), permanent=after)
    assert other_province.address.levels["province"] == "differs"
    across = check(StatedAddress("01", "90001"), permanent=before)
    assert across.verdict is Verdict.MATCH and across.address.levels["commune"] == "unverifiable"
    assert any("reform" in note for note in across.address.notes)
    either = check(StatedAddress("01", "90001"), permanent=before, current=after)  # lives now where the dossier says
    assert either.address.levels["commune"] == "same"
