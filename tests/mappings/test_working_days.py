"""The shared working-day calendar (mappings.working_days) and its day-off table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from mappings.dossier import VN_TZ
from mappings.versioned import CodeTableError, read_rows
from mappings.working_days import (
    TABLE_PATH,
    DayOffRow,
    WorkingCalendar,
    add_working_days,
    is_working_day,
    load_working_calendar,
)

HEADER = "code,name_vi,basis,valid_from,valid_to\n"
# A complete 2030 in the file's shape (the statutory fixed days, Tết left out: it is not checked).
YEAR_2030 = (
    "2030-TET-DUONG-LICH,Tết Dương lịch,x,2030-01-01,2030-01-01\n"
    "2030-30-4-1-5,Ngày Chiến thắng và Quốc tế Lao động,x,2030-04-30,2030-05-01\n"
    "2030-QUOC-KHANH,Quốc khánh,x,2030-09-02,2030-09-03\n"
)


def _table(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "public_days_off.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_tet_2025_is_skipped() -> None:
    friday = date(2025, 1, 24)
    assert friday.weekday() == 4 and is_working_day(friday)
    assert add_working_days(friday, 1) == date(2025, 2, 3)  # 25 Jan - 2 Feb off, Monday 3 Feb
    assert not any(is_working_day(friday + timedelta(days=i)) for i in range(1, 10))


def test_national_day_and_its_neighbour_are_off() -> None:
    assert not is_working_day(date(2025, 9, 1))  # Monday next to 2/9
    assert not is_working_day(date(2025, 9, 2))  # Tuesday, 2/9
    assert is_working_day(date(2025, 9, 3))
    assert not is_working_day(date(2026, 9, 2))  # Wednesday
    assert add_working_days(date(2026, 8, 31), 1) == date(2026, 9, 3)
    # 30/4 and 1/5/2026 are Thursday and Friday: a deadline one working day after Wednesday is Monday.
    assert add_working_days(datetime(2026, 4, 29, 10, 0, tzinfo=VN_TZ), 1) == datetime(2026, 5, 4, 10, 0, tzinfo=VN_TZ)


def test_weekends_are_off_and_a_day_off_counts_from_the_next_working_day() -> None:
    friday, saturday, sunday, monday = (date(2026, 11, 20) + timedelta(days=i) for i in (0, 1, 2, 3))
    assert not is_working_day(saturday) and not is_working_day(sunday) and is_working_day(monday)
    assert add_working_days(friday, 1) == monday
    assert add_working_days(friday, 0) == friday
    assert add_working_days(saturday, 0) == monday
    assert add_working_days(sunday, 1) == monday + timedelta(days=1)  # received Monday, +1


def test_a_datetime_keeps_its_time_of_day_and_zone() -> None:
    placed = datetime(2025, 1, 24, 15, 30, tzinfo=VN_TZ)
    due = add_working_days(placed, 1)
    assert due == datetime(2025, 2, 3, 15, 30, tzinfo=VN_TZ)
    assert due.tzinfo is VN_TZ and due.utcoffset() == timedelta(hours=7)
    # 20:00 UTC on Friday is 03:00 on Saturday in Hanoi: the Hanoi day decides, the zone is kept.
    late_friday_utc = datetime(2025, 1, 24, 20, 0, tzinfo=UTC)
    result = add_working_days(late_friday_utc, 1)
    assert result.tzinfo is UTC
    assert result == datetime(2025, 2, 4, 3, 0, tzinfo=VN_TZ)


def test_naive_datetimes_and_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        add_working_days(datetime(2025, 1, 24, 9, 0), 1)
    with pytest.raises(ValueError, match="forwards"):
        add_working_days(date(2025, 1, 24), -1)


def test_outside_the_covered_years_it_is_monday_to_friday() -> None:
    calendar = load_working_calendar()
    assert calendar.covered_years == frozenset({2023, 2024, 2025, 2026})
    assert calendar.covers(date(2026, 12, 31)) and not calendar.covers(date(2027, 1, 1))
    assert not calendar.covers(date(2022, 9, 2))
    # The fixed holidays are not guessed for an uncovered year: 1/1/2027 is a Friday, 2/9/2022 too.
    assert is_working_day(date(2027, 1, 1)) and is_working_day(date(2022, 9, 2))
    assert add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 1)
    assert not is_working_day(date(2027, 1, 2))  # weekends still are off


def test_a_deadline_through_an_uncovered_year_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="mappings.working_days"):
        assert add_working_days(date(2041, 3, 1), 2) == date(2041, 3, 5)  # Friday + 2: Tuesday
        add_working_days(date(2041, 6, 3), 5)
        add_working_days(date(2026, 3, 2), 1)  # a covered year says nothing
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings
    assert "2041" in warnings[0] and "public_days_off.csv" in warnings[0]


def test_the_table_is_well_formed() -> None:
    rows = sorted(read_rows(TABLE_PATH, DayOffRow), key=lambda r: r.first)
    assert rows
    for row in rows:
        assert row.first <= row.last, row.code
        assert row.code.startswith(f"{row.first.year}-"), row.code
        assert row.name_vi and row.basis, row.code
    for earlier, later in pairwise(rows):
        assert earlier.last < later.first, (earlier.code, later.code)
    assert len({r.code for r in rows}) == len(rows)
    calendar = load_working_calendar()
    for year in calendar.covered_years:
        for month, day in ((1, 1), (4, 30), (5, 1), (9, 2)):
            assert calendar.is_day_off(date(year, month, day)), (year, month, day)


def test_a_complete_year_loads(tmp_path: Path) -> None:
    calendar = load_working_calendar(_table(tmp_path, YEAR_2030))
    assert calendar.covered_years == frozenset({2030})
    assert not calendar.is_working_day(date(2030, 9, 3))  # Tuesday, the day after 2/9
    assert calendar.is_working_day(date(2030, 9, 4))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (YEAR_2030 + "2030-TRUNG,Trùng,x,2030-05-01,2030-05-02\n", "overlap"),
        (YEAR_2030.replace("2030-09-02,2030-09-03", "2030-09-02,2030-09-02"), "2030-09-01"),
        (YEAR_2030.replace("2030-04-30,2030-05-01", "2030-05-01,2030-05-01"), "2030-04-30"),
        (YEAR_2030 + "2031-TET-DUONG-LICH,Tết Dương lịch,x,2031-01-01,2031-01-01\n", "2031 is covered"),
        (YEAR_2030 + "2030-X,X,x,2030-10-01,\n", "first and last"),
        (YEAR_2030 + "2030-X,X,x,2030-10-02,2030-10-01\n", "valid_to before valid_from"),
    ],
)
def test_a_bad_table_is_refused_at_load(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(CodeTableError, match=message):
        load_working_calendar(_table(tmp_path, body))


def test_the_calendar_takes_rows_directly() -> None:
    row = DayOffRow(code="2030-X", name_vi="X", basis="x", valid_from=date(2030, 1, 1), valid_to=date(2030, 1, 1))
    with pytest.raises(CodeTableError, match="misses"):
        WorkingCalendar([row])
