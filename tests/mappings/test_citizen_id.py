from datetime import UTC, date, datetime

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mappings import citizen_id
from mappings.citizen_id import century_digit, check_citizen_id
from mappings.code_tables import load_code_tables

TODAY = date(2026, 11, 20)
TABLES = load_code_tables()
PROVINCES = sorted(TABLES.provinces.valid_codes(TODAY))
UNKNOWN_PROVINCES = sorted({f"{n:03d}" for n in range(1000)} - set(PROVINCES))


def make_id(province: str, sex: str, year: int, serial: int) -> str:
    return f"{province}{century_digit(year, sex)}{year % 100:02d}{serial:06d}"


people = st.tuples(
    st.sampled_from(PROVINCES),
    st.sampled_from(["male", "female"]),
    st.integers(1900, TODAY.year),
    st.integers(0, 999_999),
)


def check(s, **kwargs):
    return check_citizen_id(s, TABLES, today=TODAY, **kwargs)


def test_hanoi_man_born_1990_is_valid():
    assert check("001090012345") == []
    assert check("001090012345", sex="male", birth_year=1990) == []
    assert check("001090012345", sex="Nam", birth_date=date(1990, 5, 17)) == []
    assert check("079301012345", sex="nữ", birth_year=2001) == []


@pytest.mark.parametrize(
    "s", ["00109001234", "0010900123456", "00109001234a", "", "001 090 012 345", "００１０９００１２３４５"]
)
def test_not_twelve_digits(s):
    assert check(s) == [f"số định danh phải gồm đúng 12 chữ số (nhận được {len(s)} ký tự)"]


def test_each_inconsistency_is_reported():
    assert check("003090012345") == ["mã tỉnh nơi đăng ký khai sinh '003' không có trong danh mục"]
    assert check("001090012345", sex="female") == ["chữ số thứ 4 ('0') chỉ giới tính nam, khác giới tính khai báo"]
    assert check("001090012345", birth_year=2090) == ["chữ số thứ 4 ('0') chỉ năm sinh 1900-1999, khác năm sinh 2090"]
    assert check("001090012345", birth_year=1991) == ["chữ số 5-6 ('90') không khớp năm sinh 1991"]
    assert check("001299012345") == ["năm sinh ghi trong số định danh (2099) ở tương lai"]
    assert len(check("000399012345", sex="male", birth_year=1980)) == 5


def test_reasons_never_repeat_the_full_number():
    s = "000399012345"
    assert all(s not in reason for reason in check(s, sex="male", birth_year=1980))


def test_unknown_sex_or_conflicting_birth_data_is_a_caller_error():
    with pytest.raises(ValueError, match="unknown sex"):
        check("001090012345", sex="x")
    with pytest.raises(ValueError, match="disagrees"):
        check("001090012345", birth_year=1990, birth_date=date(1991, 1, 1))


def test_a_birth_date_alone_is_checked_like_a_birth_year():
    assert check("001090012345", birth_date=date(1991, 1, 1)) == ["chữ số 5-6 ('90') không khớp năm sinh 1991"]
    assert check("001090012345", birth_date=date(2090, 1, 1)) == [
        "chữ số thứ 4 ('0') chỉ năm sinh 1900-1999, khác năm sinh 2090"
    ]


class _ServerClock(datetime):
    """A server kept in UTC at 20:00 on 31 December 2026: in Hanoi (UTC+7) it is already 2027."""

    @classmethod
    def now(cls, tz=None):
        instant = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
        return instant.astimezone(tz) if tz is not None else instant.replace(tzinfo=None)


def test_the_future_is_judged_by_the_date_in_vietnam_not_the_servers(monkeypatch):
    monkeypatch.setattr(citizen_id, "datetime", _ServerClock)
    born_in_2027 = "001227012345"
    assert check_citizen_id(born_in_2027, TABLES) == []
    assert check_citizen_id("001228012345", TABLES) == ["năm sinh ghi trong số định danh (2028) ở tương lai"]


def test_century_digit_encodes_sex_and_century():
    assert [century_digit(y, "male") for y in (1850, 1950, 2010, 2150, 2250)] == [8, 0, 2, 4, 6]
    assert [century_digit(y, "female") for y in (1850, 1950, 2010, 2150, 2250)] == [9, 1, 3, 5, 7]
    with pytest.raises(ValueError, match=r"^birth year 1799 is outside 1800-2299, which IDs cannot encode$"):
        century_digit(1799, "male")


@given(people)
def test_generated_valid_ids_pass(person):
    province, sex, year, serial = person
    s = make_id(province, sex, year, serial)
    assert check(s) == []
    assert check(s, sex=sex, birth_year=year) == []


@given(people, st.sampled_from(UNKNOWN_PROVINCES))
def test_unknown_province_is_rejected(person, province):
    _, sex, year, serial = person
    reasons = check(make_id(province, sex, year, serial), sex=sex, birth_year=year)
    assert reasons == [f"mã tỉnh nơi đăng ký khai sinh '{province}' không có trong danh mục"]


@given(people)
def test_wrong_sex_is_rejected(person):
    province, sex, year, serial = person
    other = "female" if sex == "male" else "male"
    reasons = check(make_id(province, sex, year, serial), sex=other, birth_year=year)
    assert len(reasons) == 1 and "giới tính" in reasons[0]


@given(people, st.integers(1900, TODAY.year))
def test_wrong_birth_year_is_rejected(person, claimed):
    province, sex, year, serial = person
    assume(claimed != year)
    reasons = check(make_id(province, sex, year, serial), sex=sex, birth_year=claimed)
    assert reasons
    assert all("năm sinh" in r for r in reasons)
    assert any("5-6" in r for r in reasons) == (claimed % 100 != year % 100)
    assert any("chữ số thứ 4" in r for r in reasons) == (claimed // 100 != year // 100)


@given(people, st.integers(TODAY.year + 1, 2299))
def test_birth_year_in_the_future_is_rejected(person, future):
    province, sex, _, serial = person
    reasons = check(make_id(province, sex, future, serial))
    assert reasons == [f"năm sinh ghi trong số định danh ({future}) ở tương lai"]
