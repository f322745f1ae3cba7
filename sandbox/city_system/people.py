"""Synthetic applicants: Vietnamese names, citizen ID numbers, phone numbers, e-mails, companies.

Everything here is fake but shaped like the real thing, so the hub's checks meet realistic input:
names with diacritics (a few in decomposed NFD form, as some front-ends deliver them), 12-digit
citizen IDs whose digits 1-6 agree with province of birth registration, sex and birth year
(DOMAIN.md), and mobile numbers with real Vietnamese prefixes.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from mappings.citizen_id import CENTURY_BY_DIGIT, century_digit

__all__ = [
    "Person",
    "ascii_slug",
    "birth_date_for",
    "company_name",
    "make_person",
    "organisation_name",
    "phone_number",
]

# Family-name frequencies: rounded from commonly cited estimates (Nguyễn ~38%, Trần ~11%, ...);
# an ASSUMPTION good enough for realistic-looking data, not a statistic the hub relies on.
_FAMILY = (
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.1),
    ("Hoàng", 5.1),
    ("Phan", 4.5),
    ("Vũ", 3.9),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Đinh", 0.5),
    ("Trịnh", 0.4),
    ("Đào", 0.4),
    ("Mai", 0.3),
)
_FAMILY_NAMES = [name for name, _ in _FAMILY]
_FAMILY_WEIGHTS = [weight for _, weight in _FAMILY]
_MIDDLE = {
    "male": ("Văn", "Văn", "Đức", "Minh", "Quang", "Hữu", "Thành", "Ngọc", "Xuân", "Mạnh", "Tiến", "Công"),
    "female": ("Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Phương", "Hồng", "Thùy", "Kim", "Bích"),
}
_GIVEN = {
    "male": (
        "An", "Anh", "Bình", "Cường", "Dũng", "Đạt", "Đức", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy", "Khánh",
        "Khoa", "Kiên", "Long", "Lâm", "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quân", "Quang", "Sơn",
        "Thắng", "Thành", "Tiến", "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ",
    ),
    "female": (
        "An", "Anh", "Ánh", "Chi", "Dung", "Giang", "Hà", "Hằng", "Hạnh", "Hiền", "Hoa", "Hồng", "Hương",
        "Huyền", "Lan", "Liên", "Linh", "Loan", "Mai", "Ngân", "Ngọc", "Nhung", "Oanh", "Phương", "Quỳnh",
        "Tâm", "Thảo", "Thủy", "Trang", "Trâm", "Uyên", "Vân", "Yến",
    ),
}  # fmt: skip

# Mobile prefixes of Viettel, Vinaphone, Mobifone, Vietnamobile, Gmobile (10-digit numbering plan).
_MOBILE_PREFIXES = (
    "032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098",
    "081", "082", "083", "084", "085", "088", "091", "094",
    "070", "076", "077", "078", "079", "089", "090", "093",
    "052", "056", "058", "092", "059", "099",
)  # fmt: skip
_MAIL_DOMAINS = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hanoi.gov.vn", "vnpt.vn")

_COMPANY_FORMS = ("Công ty TNHH", "Công ty TNHH", "Công ty Cổ phần", "Công ty TNHH Một thành viên")
_COMPANY_WORDS = (
    "Thương mại", "Dịch vụ", "Xây dựng", "Đầu tư", "Công nghệ", "Sản xuất", "Vận tải", "Du lịch",
    "Thực phẩm", "Dược phẩm", "Giáo dục", "Kiến trúc", "Môi trường", "Nông nghiệp", "Điện tử",
)  # fmt: skip
_COMPANY_NAMES = (
    "Hà Thành", "Thăng Long", "Hồng Hà", "Đông Đô", "Kinh Bắc", "Tràng An", "Sông Đà", "Phú Thịnh",
    "An Phát", "Minh Long", "Việt Hưng", "Tân Á", "Hoàng Gia", "Bảo Ngọc", "Trường Thành", "Sao Mai",
)  # fmt: skip
_ORGANISATIONS = (
    "Trường Trung học cơ sở {n}",
    "Trường Tiểu học {n}",
    "Bệnh viện Đa khoa {n}",
    "Trung tâm Y tế {n}",
    "Ban Quản lý dự án {n}",
    "Hợp tác xã {n}",
    "Hội Cựu chiến binh {n}",
)


@dataclass(frozen=True, slots=True)
class Person:
    """A synthetic citizen; ``name`` is NFC (``display_name`` may be NFD)."""

    name: str
    display_name: str
    sex: str
    birth_year: int
    citizen_id: str


def _weighted_family(rng: random.Random) -> str:
    return rng.choices(_FAMILY_NAMES, _FAMILY_WEIGHTS)[0]


def make_person(
    rng: random.Random, today: date, provinces: list[str], *, nfd_share: float, hanoi_share: float = 0.6
) -> Person:
    """A citizen aged 18-80 born-registered in Hanoi (``001``) with probability ``hanoi_share``.

    ``hanoi_share`` is an ASSUMPTION (Hanoi draws many residents from other provinces).
    """
    sex = "male" if rng.random() < 0.5 else "female"
    parts = [_weighted_family(rng), rng.choice(_MIDDLE[sex])]
    if rng.random() < 0.25:  # some names have two middle names ("Nguyễn Thị Thu Hà")
        parts.append(rng.choice(_MIDDLE[sex][2:]))
    parts.append(rng.choice(_GIVEN[sex]))
    name = " ".join(parts)
    display = unicodedata.normalize("NFD", name) if rng.random() < nfd_share else name
    birth_year = today.year - rng.randint(18, 80)
    province = "001" if rng.random() < hanoi_share else rng.choice(provinces)
    citizen_id = f"{province}{century_digit(birth_year, sex)}{birth_year % 100:02d}{rng.randrange(10**6):06d}"
    return Person(name, display, sex, birth_year, citizen_id)


def birth_date_for(citizen_id: str) -> date:
    """The birth date of the person holding a citizen ID: the city record's ``chu_ho_so.ngay_sinh``
    and the population register's ``NgayThangNamSinh`` (before its seeded mismatches) alike.

    The year is the one the ID encodes (digit 4's century + digits 5-6); the day within it comes
    from SHA-256 of the ID, so it is stable and draws nothing from the generator's RNG stream --
    adding the field left every other generated value as it was.
    """
    year = CENTURY_BY_DIGIT[int(citizen_id[3])] + int(citizen_id[4:6])
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    return first + timedelta(days=int.from_bytes(hashlib.sha256(citizen_id.encode()).digest()[:8]) % days)


def phone_number(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**7):07d}"


def ascii_slug(text: str) -> str:
    """``Nguyễn Văn An`` -> ``nguyenvanan`` (e-mail local parts are ASCII)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def email_for(rng: random.Random, name: str) -> str:
    return f"{ascii_slug(name)}{rng.randint(1, 999)}@{rng.choice(_MAIL_DOMAINS)}"


def company_name(rng: random.Random) -> str:
    words = " ".join(rng.sample(_COMPANY_WORDS, 2))
    return f"{rng.choice(_COMPANY_FORMS)} {words} {rng.choice(_COMPANY_NAMES)}"


def tax_code(rng: random.Random) -> str:
    """10-digit enterprise code; Hanoi enterprises' codes start with ``01``."""
    return f"01{rng.randrange(10**8):08d}"


def organisation_name(rng: random.Random) -> str:
    return rng.choice(_ORGANISATIONS).format(n=rng.choice(_COMPANY_NAMES))


def officer_name(rng: random.Random) -> str:
    sex = "male" if rng.random() < 0.5 else "female"
    return f"{_weighted_family(rng)} {rng.choice(_MIDDLE[sex])} {rng.choice(_GIVEN[sex])}"
