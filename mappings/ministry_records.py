"""A ministry's own record as the hub's canonical pull-back record, by the field map of the
ministry's declarative contract (``adapters/ministry/contracts/<partner>.yaml``). Pure: no I/O.

Why a map and not a function per ministry: every ministry names and formats the same few things
differently (its number, the one-stop number when the dossier came from a one-stop desk, the
procedure, the unit, four dates, the applicant), and when a real specification replaces an
assumed one, what changes is a key name or a date format -- an edit of the contract file, not code.

The canonical pull-back record uses the national portal's field names (docs/interfaces.md 2.5), so
the facts (``mappings.facts.portal_facts``) and the ``ministry_pullbacks`` quality suite read every
ministry alike:

- ``MaHoSo`` -- the ministry's own number (the key the record is staged under, and the number a
  ministry syncs to the portal with);
- ``MaHoSoMotCua`` -- the one-stop ("một cửa") number when the ministry holds one (a dossier the
  city received and passed on), else None;
- ``MaTTHC``, ``DonViXuLy`` (the agency's QCVN 102 code), ``TrangThaiHoSo`` (portal status as a
  string), ``NgayNopHoSo``, ``NgayTiepNhan``, ``NgayHenTra``, ``NgayKetThucXuLy``
  (``yyyyMMddHHmmss``, Hanoi time), ``ChuHoSo``, ``SoGiayToChuHoSo``, ``LoaiDoiTuong``;
- ``BanGhiBo`` -- the ministry's record exactly as received, kept for the officer who reads it.

A value the map cannot produce (a code outside a value table, a date in another format) is None:
the quality gate then quarantines the record with the rule it breaks, instead of the mapper
guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mappings.code_tables import CodeTables
from mappings.dossier import VN_TZ
from mappings.national_portal import format_portal_date
from mappings.working_days import add_working_days

__all__ = ["CANONICAL_KEYS", "FieldSpec", "RecordMap", "map_record", "source_value"]

CANONICAL_KEYS = (
    "MaHoSo",
    "MaHoSoMotCua",
    "MaTTHC",
    "DonViXuLy",
    "TrangThaiHoSo",
    "NgayNopHoSo",
    "NgayTiepNhan",
    "NgayHenTra",
    "NgayKetThucXuLy",
    "ChuHoSo",
    "SoGiayToChuHoSo",
    "LoaiDoiTuong",
)
DATE_KEYS = frozenset({"NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy"})

Lookup = Literal["agency", "commune_agency", "procedure_on_day"]
"""Named look-ups in the code tables a field may need after its value table:

- ``agency``: a local agency code (``000.00.05``) gets the configured province suffix;
- ``commune_agency``: the numeric unit code a ministry gives a commune (the statistics office's
  5-digit code, sent as a number, as civil-status units are numbered) becomes the commune People's Committee's agency
  code, through the commune's name on the record's day (``communes.csv`` and ``agencies.csv``);
- ``procedure_on_day``: of several candidate procedure codes (a procedure renumbered by the 2025
  reform), the one valid on the record's submission day.
"""

Derivation = Literal["statutory_due"]
"""``statutory_due``: a ministry that sends no due date gets the one the city system sets, the
procedure's ``max_days`` working days after intake, at 17:00 (``mappings.working_days``)."""


class FieldSpec(BaseModel):
    """How one canonical field is read from the ministry's record.

    ``source`` is a dotted path into the record (``MainInformation.IN_JOURNAL_NO``); ``const`` a
    fixed value instead; ``format`` a ``strptime`` format for dates (output ``yyyyMMddHHmmss``);
    ``values`` a value table (the ministry's code -> the hub's; a list holds candidates that
    ``procedure_on_day`` chooses from); ``lookup`` one of :data:`Lookup`; ``derive`` one of
    :data:`Derivation`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = None
    const: str | None = None
    format: str | None = None
    values: dict[str, str | list[str]] | None = None
    lookup: Lookup | None = None
    derive: Derivation | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> FieldSpec:
        origins = [self.source is not None, self.const is not None, self.derive is not None]
        if sum(origins) != 1:
            raise ValueError("a field is read from exactly one of source, const or derive")
        return self


class RecordMap(BaseModel):
    """The ministry's record -> the canonical pull-back record (every key of
    :data:`CANONICAL_KEYS` but ``BanGhiBo``; unmapped keys are None)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: dict[str, FieldSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_keys(self) -> RecordMap:
        unknown = set(self.fields) - set(CANONICAL_KEYS)
        if unknown:
            raise ValueError(f"unknown canonical fields {sorted(unknown)}; known: {', '.join(CANONICAL_KEYS)}")
        if "MaHoSo" not in self.fields:
            raise ValueError("the map must say where the ministry's own number is (MaHoSo)")
        dates = [k for k, f in self.fields.items() if f.format and k not in DATE_KEYS]
        if dates:
            raise ValueError(f"format applies to dates only, not {dates}")
        return self


def source_value(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` of ``record`` (None where a step is missing or not an object)."""
    value: Any = record
    for step in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _date(text: str | None, fmt: str) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.strptime(text, fmt)
    except ValueError:
        return None
    return parsed.replace(tzinfo=VN_TZ)


def _commune_agency(unit: str | None, on: date | None, tables: CodeTables) -> str | None:
    if unit is None or on is None or not unit.isdigit():
        return None
    commune = tables.communes.get(unit.zfill(5), on)  # a number on the wire: leading zeros are lost
    if commune is None:
        return None
    named = [a.code for a in tables.agencies.rows(on) if a.level == "commune" and a.name == commune.name]
    return named[0] if len(named) == 1 else None


def _procedure_on_day(candidates: list[str], on: date | None, tables: CodeTables) -> str | None:
    if on is None:
        return candidates[0] if len(candidates) == 1 else None
    valid = [code for code in candidates if tables.procedures.get(code, on) is not None]
    return valid[0] if len(valid) == 1 else None


class _Mapper:
    """One record's mapping: fields in dependency order (dates first, then what needs the day)."""

    def __init__(self, record: Mapping[str, Any], tables: CodeTables) -> None:
        self.record, self.tables = record, tables
        self.out: dict[str, Any] = {}
        self.dates: dict[str, datetime | None] = {}

    @property
    def day(self) -> date | None:
        submitted = self.dates.get("NgayNopHoSo") or self.dates.get("NgayTiepNhan")
        return submitted.date() if submitted is not None else None

    def raw(self, spec: FieldSpec) -> Any:
        if spec.const is not None:
            return spec.const
        return source_value(self.record, spec.source or "")

    def date_field(self, key: str, spec: FieldSpec) -> None:
        text = _text(self.raw(spec))
        self.dates[key] = _date(text, spec.format) if spec.format else None

    def value_field(self, spec: FieldSpec) -> str | None:
        text = _text(self.raw(spec))
        chosen: str | list[str] | None = text
        if spec.values is not None:
            chosen = spec.values.get(text) if text is not None else None
        if spec.lookup == "procedure_on_day":
            candidates = chosen if isinstance(chosen, list) else [chosen] if chosen else []
            return _procedure_on_day(candidates, self.day, self.tables)
        if isinstance(chosen, list):
            return None  # several candidates without a rule to choose: not guessed
        if spec.lookup == "agency":
            return f"{chosen}.{self.tables.province_suffix}" if chosen else None
        if spec.lookup == "commune_agency":
            return _commune_agency(chosen, self.day, self.tables)
        return chosen

    def statutory_due(self) -> datetime | None:
        start = self.dates.get("NgayTiepNhan") or self.dates.get("NgayNopHoSo")
        code = self.out.get("MaTTHC")
        procedure = self.tables.procedures.get(code, start.date()) if code and start else None
        if procedure is None or start is None:
            return None
        return datetime.combine(add_working_days(start.date(), procedure.max_days), time(17), VN_TZ)


def map_record(record: Mapping[str, Any], record_map: RecordMap, tables: CodeTables) -> dict[str, Any]:
    """The canonical pull-back record of one ministry record (see the module docstring)."""
    mapper = _Mapper(record, tables)
    specs = record_map.fields
    for key in DATE_KEYS:
        if key in specs and specs[key].derive is None:
            mapper.date_field(key, specs[key])
    for key in CANONICAL_KEYS:
        if key in specs and key not in DATE_KEYS:
            mapper.out[key] = mapper.value_field(specs[key])
    for key in DATE_KEYS:
        if key in specs and specs[key].derive == "statutory_due":
            mapper.dates[key] = mapper.statutory_due()
    out = {key: mapper.out.get(key) for key in CANONICAL_KEYS if key not in DATE_KEYS}
    for key in DATE_KEYS:
        value = mapper.dates.get(key)
        out[key] = format_portal_date(value) if value is not None else None
    return {**{key: out[key] for key in CANONICAL_KEYS}, "BanGhiBo": dict(record)}
