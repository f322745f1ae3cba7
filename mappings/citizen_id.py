"""Structural check of the 12-digit personal identification number ("số định danh cá nhân").

There is no check digit, so all that can be verified offline is the shape: the province code
(digits 1-3), the century/sex digit (4) and the birth year (5-6) against what else is known.
Reasons never repeat the full number, because they end up in quarantine reports.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from mappings.code_tables import CodeTables
from mappings.dossier import VN_TZ

MALE, FEMALE = "male", "female"
_SEX_WORDS = {"male": MALE, "m": MALE, "nam": MALE, "female": FEMALE, "f": FEMALE, "nữ": FEMALE, "nu": FEMALE}
_SEX_VI = {MALE: "nam", FEMALE: "nữ"}
# Digit 4 = the century's male digit, +1 for female.
_MALE_DIGIT_BY_CENTURY = {1900: 0, 2000: 2, 2100: 4, 2200: 6, 1800: 8}
CENTURY_BY_DIGIT = {d + f: c for c, d in _MALE_DIGIT_BY_CENTURY.items() for f in (0, 1)}
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")


def century_digit(birth_year: int, sex: str) -> int:
    """The digit 4 that a person of this sex born in ``birth_year`` gets (used to build test IDs)."""
    century = birth_year // 100 * 100
    if century not in _MALE_DIGIT_BY_CENTURY:
        raise ValueError(f"birth year {birth_year} is outside 1800-2299, which IDs cannot encode")
    return _MALE_DIGIT_BY_CENTURY[century] + (_normalise_sex(sex) == FEMALE)


def _normalise_sex(sex: str) -> str:
    try:
        return _SEX_WORDS[unicodedata.normalize("NFC", sex).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown sex {sex!r}; expected male/female (nam/nữ)") from None


def check_citizen_id(
    s: str,
    tables: CodeTables,
    sex: str | None = None,
    birth_year: int | None = None,
    *,
    birth_date: date | None = None,
    today: date | None = None,
) -> list[str]:
    """Reasons ``s`` is not a valid ID for this person (Vietnamese, for officers); empty if valid.

    ``birth_date`` may be given instead of ``birth_year``; ``today`` pins the clock in tests.
    """
    if birth_date is not None:
        if birth_year is not None and birth_year != birth_date.year:
            raise ValueError(f"birth_year {birth_year} disagrees with birth_date {birth_date}")
        birth_year = birth_date.year
    today = today or datetime.now(VN_TZ).date()
    if not _TWELVE_DIGITS.fullmatch(s):
        return [f"số định danh phải gồm đúng 12 chữ số (nhận được {len(s)} ký tự)"]
    reasons = []
    province, digit, yy = s[:3], int(s[3]), s[4:6]
    if tables.provinces.get(province, today) is None:
        reasons.append(f"mã tỉnh nơi đăng ký khai sinh '{province}' không có trong danh mục")
    id_sex = FEMALE if digit % 2 else MALE
    if sex is not None and _normalise_sex(sex) != id_sex:
        reasons.append(f"chữ số thứ 4 ('{digit}') chỉ giới tính {_SEX_VI[id_sex]}, khác giới tính khai báo")
    century = CENTURY_BY_DIGIT[digit]
    if birth_year is not None and birth_year // 100 * 100 != century:
        reasons.append(f"chữ số thứ 4 ('{digit}') chỉ năm sinh {century}-{century + 99}, khác năm sinh {birth_year}")
    if birth_year is not None and f"{birth_year % 100:02d}" != yy:
        reasons.append(f"chữ số 5-6 ('{yy}') không khớp năm sinh {birth_year}")
    if century + int(yy) > today.year:
        reasons.append(f"năm sinh ghi trong số định danh ({century + int(yy)}) ở tương lai")
    return reasons
