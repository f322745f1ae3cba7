"""The simulated population register, generated to agree with the city system's generated days.

The city generator (``sandbox.city_system``) draws each citizen applicant with
``people.make_person`` and writes them into the record as ``chu_ho_so`` (name, possibly in NFD,
and the 12-digit ID); defects aside, everything a :class:`~sandbox.city_system.people.Person`
holds is recoverable from the record: the NFC name, and sex and birth year from ID digits 4-6.
So the register re-runs the same deterministic generation (same day, scale, seed) and rebuilds
each applicant from it -- without touching the city generator.

The birth date comes from :func:`sandbox.city_system.people.birth_date_for` -- a hash of the ID,
not the generator's RNG -- which the city generator also writes into the record as
``chu_ho_so.ngay_sinh``: one function, so the city and the register agree by construction.

Each applicant's fate in the register is seeded by (seed, ID), so it is the same on every run and
every day the person appears: most match; :data:`FATE_SHARES` says how many differ in the name's
diacritics, differ in birth date, or are not registered at all. Applicants whose record carries
an injected defect on the applicant (bad ID, missing name) are left out: their true identity is
not in the record.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from sandbox.city_system.people import birth_date_for

__all__ = [
    "FATE_SHARES",
    "Applicant",
    "Citizen",
    "Fate",
    "applicants_of",
    "birth_date_for",
    "citizen_for",
    "fate_for",
]

Fate = Literal["match", "name_diacritics", "birth_date", "not_found"]
# ASSUMPTION: shares chosen so a 0.1-scale day (~1,100 dossiers, ~200 citizen applicants) shows
# every kind; the real mismatch rate of Hanoi's data against the register is not published.
FATE_SHARES: tuple[tuple[Fate, float], ...] = (
    ("name_diacritics", 0.04),
    ("birth_date", 0.03),
    ("not_found", 0.03),
)
CITIZEN_KINDS = frozenset({"CONG_DAN", "KHAC"})
APPLICANT_DEFECTS = frozenset({"bad_citizen_id", "missing_applicant_name"})
_ACUTE, _GRAVE, _HOOK, _TILDE, _DOT = "\u0301", "\u0300", "\u0309", "\u0303", "\u0323"
_TONES = (_ACUTE, _GRAVE, _HOOK, _TILDE, _DOT)
_STREETS = ("Trần Hưng Đạo", "Nguyễn Trãi", "Láng Hạ", "Kim Mã", "Giải Phóng", "Xuân Thủy", "Nguyễn Văn Cừ")
HANOI = "Thành phố Hà Nội"
HANOI_CODE = "01"  # GSO province code, as the register writes MaTinhThanh


def fate_for(citizen_id: str, seed: int) -> Fate:
    """Whether the register agrees with what the city holds for this applicant (seeded, stable)."""
    u = random.Random(f"{seed}:{citizen_id}:population").random()
    for fate, share in FATE_SHARES:
        if u < share:
            return fate
        u -= share
    return "match"


@dataclass(frozen=True, slots=True)
class Applicant:
    """A citizen applicant as the city system holds them, with the fate the register gives them."""

    dossier_no: str
    citizen_id: str
    name_as_sent: str  # as in the city record: NFC or NFD
    name: str  # NFC
    sex: str
    birth_date: date
    fate: Fate


@dataclass(frozen=True, slots=True)
class Citizen:
    """One row of the register (the values of the contract's ``CongDan``)."""

    citizen_id: str
    name: str
    sex: str
    birth_date: date
    birth_place: str
    street: str
    commune_code: str
    commune_name: str

    def values(self) -> dict[str, Any]:
        """The ``CongDan`` as the register answers it: the whole name in capitals in ``Ten`` (``Ho``
        and ``ChuDem`` empty, as in public samples), the birth date as ``Nam`` and ``NgayThangNam``,
        and the residence as GSO codes (no district: the day is after the July 2025 reform)."""
        residence = {
            "MaTinhThanh": HANOI_CODE,
            "MaQuanHuyen": "",
            "MaPhuongXa": self.commune_code,
            "ChiTiet": f"{self.street}, {self.commune_name}, {HANOI}",
            "QuocGia": "VN",
        }
        return {
            "SoDinhDanh": self.citizen_id,
            "HoVaTen": {"Ho": "", "ChuDem": "", "Ten": self.name.upper()},
            "GioiTinh": "1" if self.sex == "male" else "2",
            "NgayThangNamSinh": {"Nam": f"{self.birth_date:%Y}", "NgayThangNam": f"{self.birth_date:%Y%m%d}"},
            "NoiDangKyKhaiSinh": {"ChiTiet": self.birth_place, "QuocGia": "VN"},
            "QuocTich": "VN",
            "ThuongTru": residence,
            "NoiOHienTai": residence,
        }


def _sex_of(citizen_id: str) -> str:
    return "male" if int(citizen_id[3]) % 2 == 0 else "female"


def applicants_of(day: date, scale: float, seed: int) -> Iterator[Applicant]:
    """The citizen applicants of a generated city day (same arguments as the city simulator's)."""
    from sandbox.city_system.generator import generate

    generated = generate(day, scale, seed)
    for record in generated.records:
        applicant = record["chu_ho_so"]
        if applicant["loai"] not in CITIZEN_KINDS or not applicant["so_giay_to"]:
            continue
        if generated.defects.get(record["id"]) in APPLICANT_DEFECTS:
            continue
        citizen_id = applicant["so_giay_to"]
        yield Applicant(
            dossier_no=record["ma_ho_so"],
            citizen_id=citizen_id,
            name_as_sent=applicant["ho_ten"],
            name=unicodedata.normalize("NFC", applicant["ho_ten"]),
            sex=_sex_of(citizen_id),
            birth_date=birth_date_for(citizen_id),
            fate=fate_for(citizen_id, seed),
        )


def citizen_for(
    applicant: Applicant, province_names: dict[str, str], communes: list[tuple[str, str]]
) -> Citizen | None:
    """The register's row for an applicant, with the applicant's fate applied (None: not registered)."""
    if applicant.fate == "not_found":
        return None
    rng = random.Random(f"{applicant.citizen_id}:register")
    name = _other_diacritics(applicant.name, rng) if applicant.fate == "name_diacritics" else applicant.name
    birth = applicant.birth_date
    if applicant.fate == "birth_date":
        birth = _other_day(birth, rng)
    commune_code, commune_name = rng.choice(communes)
    return Citizen(
        citizen_id=applicant.citizen_id,
        name=name,
        sex=applicant.sex,
        birth_date=birth,
        birth_place=province_names.get(applicant.citizen_id[:3], applicant.citizen_id[:3]),
        street=f"Số {rng.randint(1, 200)} phố {rng.choice(_STREETS)}",
        commune_code=commune_code,
        commune_name=commune_name,
    )


def _other_diacritics(name: str, rng: random.Random) -> str:
    """The same letters with one tone mark changed, added or dropped (a typical keying error).

    Only combining tone marks are touched, so the result folds to the same letters as the input.
    """
    syllables = unicodedata.normalize("NFD", name).split(" ")
    index = rng.randrange(len(syllables))
    syllable = syllables[index]
    present = [tone for tone in _TONES if tone in syllable]
    if present:
        replacement = rng.choice([t for t in (*_TONES, "") if t != present[0]])
        syllable = syllable.replace(present[0], replacement, 1)
    else:  # no tone yet: put one after the first vowel
        vowel = next((i for i, c in enumerate(syllable) if c.lower() in "aeiouy"), 0)
        syllable = syllable[: vowel + 1] + rng.choice(_TONES) + syllable[vowel + 1 :]
    syllables[index] = syllable
    return unicodedata.normalize("NFC", " ".join(syllables))


def _other_day(birth: date, rng: random.Random) -> date:
    """Another day of the same year (the ID encodes the year, so a register error keeps it)."""
    shifted = birth + timedelta(days=rng.choice((-1, 1)) * rng.randint(1, 120))
    if shifted.year != birth.year:
        shifted = birth - (shifted - birth)
    return shifted
