"""The hub's own identity check: what a dossier says about its applicant against what the national
population database holds (docs/interfaces.md 5.1).

The register, as public clients practise it, answers a look-up with the person's record (or an
empty collection) and no verdict: there is no public "match / mismatch" operation. So the hub
compares, here, with no I/O:

- **name** -- NFC, single spaces, case-folded (the register writes names in capitals: "ĐÀO VĂN
  TÀI"); a difference that disappears once tone and vowel marks are removed is told apart as
  "diacritics only" (a clerical slip, not another person);
- **birth date** -- exact dates compare as dates; when either side knows only the year (people
  whose exact birth date was never recorded: ``Nam`` in the register, "1957" in a record) the years
  are compared;
- **address** (when the dossier states one) -- province, then district, then commune, against the
  permanent (``ThuongTru``) and current (``NoiOHienTai``) residence, through the versioned commune
  table: since 1 July 2025 districts are abolished and communes merged, so a register address
  written before the reform and a dossier address written after it cannot be compared at commune
  level without a successor table -- that comparison is reported as *unverifiable*, never as a
  mismatch.

Personal data: the dataclasses below mask the ID in their ``repr``; reasons never contain it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from mappings.code_tables import CodeTables
from mappings.masking import mask_citizen_id

__all__ = [
    "ADDRESS",
    "BIRTH_DATE",
    "NAME",
    "AddressCheck",
    "BirthDate",
    "IdentityCheck",
    "RegisteredAddress",
    "RegisteredPerson",
    "StatedAddress",
    "StatedIdentity",
    "Verdict",
    "compare",
    "compare_address",
    "fold_name",
    "normalise_name",
]

# The register's field names, as the mismatch list names them (and quarantine reasons repeat).
NAME, BIRTH_DATE, ADDRESS = "HoVaTen", "NgayThangNamSinh", "DiaChi"
DIACRITICS_ONLY = "name differs only in diacritics/normalisation"
REFORM = date(2025, 7, 1)  # two-level local government: districts abolished, communes merged


def normalise_name(name: str) -> str:
    """NFC, single spaces, no leading/trailing blanks: the form the hub sends and compares."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def fold_name(name: str) -> str:
    """The letters of a name without tone and vowel marks, case-folded (``Nguyễn`` -> ``nguyen``)."""
    decomposed = unicodedata.normalize("NFD", normalise_name(name).replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True, slots=True, order=True)
class BirthDate:
    """A birth date, or only its year (``month``/``day`` None) for people registered that way."""

    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if (self.month is None) != (self.day is None):
            raise ValueError("a birth date has both month and day, or neither")
        if self.month is not None:
            date(self.year, self.month, self.day or 1)  # raises ValueError when impossible

    @classmethod
    def of(cls, value: date) -> BirthDate:
        return cls(value.year, value.month, value.day)

    @classmethod
    def parse(cls, text: str) -> BirthDate:
        """From ``YYYY-MM-DD`` or ``YYYY`` (city records) or ``yyyyMMdd`` (the register); ValueError otherwise."""
        text = text.strip()
        if len(text) == 4 and text.isdigit():
            return cls(int(text))
        if len(text) == 8 and text.isdigit():
            return cls(int(text[:4]), int(text[4:6]), int(text[6:]))
        return cls.of(date.fromisoformat(text))

    @property
    def exact(self) -> bool:
        return self.month is not None

    def isoformat(self) -> str:
        return f"{self.year:04d}" if not self.exact else f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def register_form(self) -> dict[str, str]:
        """The request's ``NgayThangNamSinh`` content: ``NgayThangNam`` yyyyMMdd, or ``Nam`` yyyy."""
        if not self.exact:
            return {"Nam": f"{self.year:04d}"}
        return {"NgayThangNam": f"{self.year:04d}{self.month:02d}{self.day:02d}"}

    def agrees_with(self, other: BirthDate) -> bool:
        """Same date; only the year when either side knows no more."""
        if not (self.exact and other.exact):
            return self.year == other.year
        return self == other


@dataclass(frozen=True, slots=True)
class RegisteredAddress:
    """A ``DiaChi`` of the register: GSO codes (province 2 digits, district 3, commune 5) and text."""

    province: str = ""
    district: str = ""
    commune: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RegisteredPerson:
    """What the register holds about one person (personal data: its ``repr`` masks the ID)."""

    citizen_id: str
    full_name: str
    birth: BirthDate | None
    sex: str = ""
    old_id: str = ""
    permanent: RegisteredAddress | None = None
    current: RegisteredAddress | None = None

    def __repr__(self) -> str:
        return f"RegisteredPerson(citizen_id={mask_citizen_id(self.citizen_id)!r}, ...)"


@dataclass(frozen=True, slots=True)
class StatedAddress:
    """Where a dossier says the applicant lives: province and commune codes (district before the reform)."""

    province: str
    commune: str
    district: str = ""


@dataclass(frozen=True, slots=True)
class StatedIdentity:
    """What the dossier says about its applicant."""

    citizen_id: str
    full_name: str
    birth: BirthDate
    address: StatedAddress | None = None

    def __repr__(self) -> str:
        return f"StatedIdentity(citizen_id={mask_citizen_id(self.citizen_id)!r}, ...)"


class Verdict(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class AddressCheck:
    """Level by level (``province``, ``district``, ``commune``): ``same``, ``differs`` or
    ``unverifiable``, with why a level could not be compared."""

    levels: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def differs(self) -> bool:
        return "differs" in self.levels.values()


@dataclass(frozen=True, slots=True)
class IdentityCheck:
    """The outcome of :func:`compare`. ``mismatched`` names the register's fields that differ."""

    verdict: Verdict
    mismatched: tuple[str, ...] = ()
    diacritics_only: bool = False
    address: AddressCheck | None = None

    @property
    def reason(self) -> str:
        """A sentence for officers and quarantine entries (never contains the ID)."""
        if self.verdict is Verdict.MATCH:
            return "identity matches the population database"
        if self.verdict is Verdict.NOT_FOUND:
            return "no citizen with this ID number in the population database"
        parts = []
        if NAME in self.mismatched:
            parts.append(DIACRITICS_ONLY if self.diacritics_only else "name differs from the population database")
        if BIRTH_DATE in self.mismatched:
            parts.append("birth date differs from the population database")
        if ADDRESS in self.mismatched and self.address is not None:
            levels = ", ".join(level for level, state in self.address.levels.items() if state == "differs")
            parts.append(f"address differs from the population database ({levels})")
        return "; ".join(parts)


def compare(
    stated: StatedIdentity,
    registered: RegisteredPerson | None,
    *,
    tables: CodeTables | None = None,
    on: date | None = None,
) -> IdentityCheck:
    """The hub's verdict on ``stated`` given the register's record (None: the register holds nobody).

    The address is compared only when the dossier states one and ``tables`` and ``on`` are given.
    """
    if registered is None:
        return IdentityCheck(Verdict.NOT_FOUND)
    mismatched: list[str] = []
    diacritics_only = False
    ours, theirs = normalise_name(stated.full_name).casefold(), normalise_name(registered.full_name).casefold()
    if ours != theirs:
        mismatched.append(NAME)
        diacritics_only = fold_name(ours) == fold_name(theirs)
    if registered.birth is None or not stated.birth.agrees_with(registered.birth):
        mismatched.append(BIRTH_DATE)
    address = None
    if stated.address is not None and tables is not None and on is not None:
        address = compare_address(stated.address, registered, tables, on)
        if address.differs:
            mismatched.append(ADDRESS)
    if not mismatched:
        return IdentityCheck(Verdict.MATCH, address=address)
    only_marks = diacritics_only and mismatched == [NAME]
    return IdentityCheck(Verdict.MISMATCH, tuple(mismatched), only_marks, address)


def compare_address(stated: StatedAddress, person: RegisteredPerson, tables: CodeTables, on: date) -> AddressCheck:
    """Compare a stated address with the person's current residence, else the permanent one.

    The residence that agrees best wins (a person may file where they live now or where they are
    registered). Levels: province always; district only when both sides predate the reform;
    commune when both codes are of the same era of the commune table, else ``unverifiable``.
    """
    candidates = [a for a in (person.current, person.permanent) if a is not None and a.province]
    if not candidates:
        return AddressCheck({"province": "unverifiable"}, ("the register holds no residence codes",))
    checks = [_address_levels(stated, address, tables, on) for address in candidates]
    return min(checks, key=lambda check: sum(state == "differs" for state in check.levels.values()))


def _address_levels(stated: StatedAddress, registered: RegisteredAddress, tables: CodeTables, on: date) -> AddressCheck:
    levels = {"province": "same" if registered.province == stated.province else "differs"}
    notes: list[str] = []
    ours, theirs = _era(tables, stated.commune, on), _era(tables, registered.commune, None)
    if stated.district and registered.district and ours == theirs == "before":
        levels["district"] = "same" if stated.district == registered.district else "differs"
    elif registered.district and ours == "after":
        notes.append("districts were abolished on 2025-07-01: the register's district is not compared")
    if ours is None or theirs is None:
        levels["commune"] = "unverifiable"
        notes.append("a commune code is not in the hub's commune table")
    elif ours != theirs:
        levels["commune"] = "unverifiable"
        notes.append(
            "one address predates the July 2025 commune reform and the other does not; "
            "the hub has no successor table to map old communes onto new ones"
        )
    else:
        levels["commune"] = "same" if stated.commune == registered.commune else "differs"
    return AddressCheck(levels, tuple(notes))


def _era(tables: CodeTables, commune: str, on: date | None) -> str | None:
    """``before`` or ``after`` the reform, for the table version of ``commune`` (in force ``on``,
    or its latest when ``on`` is None: the register keeps a code as it was written); None if unknown."""
    versions = [row for row in tables.communes.all_rows() if row.code == commune]
    if on is not None:
        versions = [row for row in versions if row.valid_on(on)] or versions
    if not versions:
        return None
    latest = max(versions, key=lambda row: row.valid_from or date.min)
    return "after" if (latest.valid_from or date.min) >= REFORM else "before"
