"""The hub's code tables (statuses, local states, channels, applicant types, agencies, fields,
procedures, provinces, communes, ministry systems), loaded from the versioned CSV files in ``mappings/code_tables/``.

Agency codes and local procedure variants end in the province suffix (``H26`` for Hanoi, as the
portal's own evaluation API lists it: docs/interfaces.md 2.9), so the files store only the local
part and :func:`province_suffix` is the one place that decides the suffix.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from mappings.versioned import CodeTableError, Row, VersionedTable, read_rows

DEFAULT_DIR = Path(__file__).with_name("code_tables")
SUFFIX_ENV = "HUB_PROVINCE_SUFFIX"
DEFAULT_SUFFIX = "H26"

_SUFFIX = re.compile(r"[A-Z][0-9]{2}")
_LOCAL_AGENCY = re.compile(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}")
_LOCAL_PROCEDURE = re.compile(r"[0-9]\.[0-9]{6}\.[0-9]{3}\.[0-9]{2}\.[0-9]{2}")
_NATIONAL_PROCEDURE = re.compile(r"[0-9]\.[0-9]{6}")

LEVELS = ("city", "department", "district", "commune")
OUTCOMES = ("in_process", "resolved", "closed_unresolved")
ONLINE_LEVELS = ("full", "partial", "none")
COMMUNE_KINDS = ("ward", "commune", "town")
# Ministry systems the city pushes interconnected ("liên thông") dossiers to: the partner names of
# their adapters (``adapters/<name>``), so a procedure row says which exchange it takes part in.
INTERCONNECT_PARTNERS = ("civil_status",)


def _one_of(column: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{column}={value!r}, expected one of {allowed}")


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRow(Row):
    """Portal ``TrangThaiHoSo``; ``outcome`` is how reconciliation counts it."""

    name_vi: str
    name_en: str
    outcome: str

    def __post_init__(self) -> None:
        _one_of("outcome", self.outcome, OUTCOMES)


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalStateRow(Row):
    """A city workflow state and the portal status it reports as."""

    name_vi: str
    status_code: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalCodeRow(Row):
    """A portal code (``KenhThucHien``, ``LoaiDoiTuong``) and the city system's name for it."""

    local_code: str
    name_vi: str
    name_en: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgencyRow(Row):
    """``code`` is the full QCVN 102:2016 code, suffix included."""

    name: str
    level: str

    def __post_init__(self) -> None:
        _one_of("level", self.level, LEVELS)


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldRow(Row):
    """A procedure field ("lĩnh vực", the portal's ``MaLinhVuc``) and its name (``TenLinhVuc``)."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureRow(Row):
    """``weight`` is a relative volume share (generators, benchmarks); ``max_days`` is the legal
    processing time in working days. ``interconnected_with`` names the ministry system a city
    dossier of the procedure must also be registered in (a partner of ``INTERCONNECT_PARTNERS``),
    None when the city system alone handles it."""

    name: str
    field_code: str
    authority_level: str
    integrated_on_portal: bool
    processed_on_ministry_software: bool
    ministry: str | None
    interconnected_with: str | None
    online_level: str
    weight: float
    max_days: int

    def __post_init__(self) -> None:
        _one_of("authority_level", self.authority_level, LEVELS)
        _one_of("online_level", self.online_level, ONLINE_LEVELS)
        if self.weight < 0 or self.max_days < 0:
            raise ValueError("weight and max_days must not be negative")
        if self.processed_on_ministry_software != (self.ministry is not None):
            raise ValueError("ministry is required exactly when processed_on_ministry_software is true")
        if self.interconnected_with is not None:
            _one_of("interconnected_with", self.interconnected_with, INTERCONNECT_PARTNERS)
            if self.processed_on_ministry_software:
                raise ValueError("a procedure processed on ministry software has no city dossier to interconnect")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvinceRow(Row):
    """Province-of-birth-registration code, digits 1-3 of a citizen ID."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommuneRow(Row):
    """A commune-level unit (phường, xã, thị trấn) a postal receiver lives in; ``province_code`` is
    the two-digit administrative code (``01`` Hà Nội). The 2025 reform ends most codes on 30 June."""

    name: str
    kind: str
    province_code: str

    def __post_init__(self) -> None:
        _one_of("kind", self.kind, COMMUNE_KINDS)


@dataclass(frozen=True, slots=True, kw_only=True)
class MinistrySystemRow(Row):
    """Which ministry system processes a procedure field's dossiers on its own software, and which
    ministry owns it, per period: ``code`` is the field (``MaLinhVuc``: every procedure of it) or one
    procedure's code (that procedure only, as its field also holds procedures the city system
    handles: land, transport), ``system`` the hub's partner id of that system
    (``business_registration``), ``ministry`` the owning ministry's name. The
    March 2025 reorganisation merged ministries (Planning and Investment into Finance, ...) and moved
    driving licences to Public Security, so ownership is a dated fact, like a commune."""

    system: str
    ministry: str


@dataclass(frozen=True)
class CodeTables:
    province_suffix: str
    statuses: VersionedTable[StatusRow]
    local_states: VersionedTable[LocalStateRow]
    channels: VersionedTable[LocalCodeRow]
    applicant_types: VersionedTable[LocalCodeRow]
    agencies: VersionedTable[AgencyRow]
    fields: VersionedTable[FieldRow]
    procedures: VersionedTable[ProcedureRow]
    provinces: VersionedTable[ProvinceRow]
    communes: VersionedTable[CommuneRow]
    ministry_systems: VersionedTable[MinistrySystemRow]

    def ministry_system(self, procedure: ProcedureRow, on: date) -> MinistrySystemRow | None:
        """The ministry system that processes ``procedure``'s dossiers on ``on`` and the ministry
        owning it then, or None when no ministry system does (the city system handles them). A row
        naming the procedure itself comes before one naming its field."""
        return self.ministry_systems.get(procedure.code, on) or self.ministry_systems.get(procedure.field_code, on)


def commune_problem(tables: CodeTables, commune_code: str, province_code: str, on: date) -> str | None:
    """Why an address's commune/province pair is not valid on ``on`` (None when it is).

    Addresses written before 1 July 2025 name communes that no longer exist; a carrier refuses or
    misroutes them, so the hub checks the pair against the table version in force on the day.
    """
    commune = tables.communes.get(commune_code, on)
    if commune is None:
        known = tables.communes.all_rows()
        versions = [r for r in known if r.code == commune_code]
        if versions:
            periods = ", ".join(f"{r.valid_from or '...'}..{r.valid_to or ''}" for r in versions)
            return f"commune {commune_code} ({versions[0].name}) is not valid on {on} (valid {periods})"
        return f"commune code {commune_code!r} is unknown"
    if commune.province_code != province_code:
        return f"commune {commune_code} ({commune.name}) is in province {commune.province_code}, not {province_code!r}"
    return None


def province_suffix() -> str:
    """The configured province suffix (``HUB_PROVINCE_SUFFIX``, default ``H26``)."""
    suffix = os.environ.get(SUFFIX_ENV, DEFAULT_SUFFIX)
    if not _SUFFIX.fullmatch(suffix):
        raise CodeTableError(f"{SUFFIX_ENV}={suffix!r}: expected a letter and two digits, e.g. H26")
    return suffix


def _with_suffix(local_part: str, pattern: re.Pattern[str], suffix: str) -> str:
    if not pattern.fullmatch(local_part):
        raise ValueError(f"{local_part!r} is not a local code of the form {pattern.pattern}")
    return f"{local_part}.{suffix}"


def _procedure_code(code: str, suffix: str) -> str:
    """National codes stay as they are; local variants get the province suffix."""
    return code if _NATIONAL_PROCEDURE.fullmatch(code) else _with_suffix(code, _LOCAL_PROCEDURE, suffix)


def _system_key(code: str, suffix: str) -> str:
    """A ``ministry_systems`` key: a field code as it is, a procedure code as ``procedures`` keys it."""
    return code if code.isalpha() else _procedure_code(code, suffix)


def load_code_tables(path: Path | None = None) -> CodeTables:
    """Load every table from ``path`` (default: the package's own files, cached per suffix)."""
    suffix = province_suffix()
    if path is None:
        return _load_default(suffix)
    return _load(Path(path), suffix)


@functools.cache
def _load_default(suffix: str) -> CodeTables:
    return _load(DEFAULT_DIR, suffix)


def _load(directory: Path, suffix: str) -> CodeTables:
    def table(
        name: str, row_type: type[Any], unique_by: tuple[str, ...] = (), code: Callable[[str], str] = str
    ) -> VersionedTable[Any]:
        return VersionedTable(name, read_rows(directory / f"{name}.csv", row_type, code), unique_by)

    tables = CodeTables(
        province_suffix=suffix,
        statuses=table("statuses", StatusRow),
        local_states=table("local_states", LocalStateRow),
        channels=table("channels", LocalCodeRow, ("local_code",)),
        applicant_types=table("applicant_types", LocalCodeRow, ("local_code",)),
        agencies=table("agencies", AgencyRow, code=lambda c: _with_suffix(c, _LOCAL_AGENCY, suffix)),
        fields=table("fields", FieldRow),
        procedures=table("procedures", ProcedureRow, code=lambda c: _procedure_code(c, suffix)),
        provinces=table("provinces", ProvinceRow),
        communes=table("communes", CommuneRow),
        ministry_systems=table("ministry_systems", MinistrySystemRow, code=lambda c: _system_key(c, suffix)),
    )
    status_codes = {r.code for r in tables.statuses.all_rows()}
    for state in tables.local_states.all_rows():
        if str(state.status_code) not in status_codes:
            raise CodeTableError(f"local_states: {state.code} maps to unknown status {state.status_code}")
    field_codes = {r.code for r in tables.fields.all_rows()}
    for procedure in tables.procedures.all_rows():
        if procedure.field_code not in field_codes:
            raise CodeTableError(f"procedures: {procedure.code} names unknown field {procedure.field_code}")
        _check_owner(tables, procedure)
    return tables


def _check_owner(tables: CodeTables, procedure: ProcedureRow) -> None:
    """A procedure processed on ministry software names the ministry ``ministry_systems`` says owns
    its field's system on the day its version starts (one fact, two tables that must agree)."""
    if not procedure.processed_on_ministry_software or procedure.valid_from is None:
        return
    owner = tables.ministry_system(procedure, procedure.valid_from)
    if owner is not None and owner.ministry != procedure.ministry:
        raise CodeTableError(
            f"procedures: {procedure.code} from {procedure.valid_from} names ministry {procedure.ministry!r}, "
            f"but ministry_systems gives field {procedure.field_code} (procedure {procedure.code}) "
            f"to {owner.ministry!r} ({owner.system}) then"
        )
