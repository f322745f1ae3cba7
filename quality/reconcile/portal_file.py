"""The portal's figures as the file an official downloads: a per-dossier listing, checked whole.

The portal-side listing the hub reconciles against (``/sandbox/export/dossiers``) has no public
API evidence (docs/interfaces.md 2.8: an assumption). What an official certainly can get is a
download from the portal's pages, per unit and period, so the reconciliation also takes that
file. Its columns (header in row 1, names matched without regard to case or surrounding spaces;
others ignored):

- ``MaHoSo`` -- the dossier number as the portal holds it (required, no spaces, <= 64 characters;
  not checked against the city's number format, since the portal also holds other systems' numbers);
- ``TrangThaiHoSo`` -- the portal status code, 1-10 (required);
- ``NgayNopHoSo`` -- the submission date, in the period reconciled (required;
  ``yyyyMMddHHmmss`` as the portal writes dates, ``yyyyMMdd``, ``yyyy-mm-dd`` or ``dd/mm/yyyy``, optionally
  with a time, or a date cell of a spreadsheet);
- ``MaDonVi`` -- the unit the listing was downloaded for (optional; when given, one value in the
  whole file: a listing is per unit).

ASSUMPTION: these are the portal's own field names (DOMAIN.md); the real download's headings
are not known -- confirm with a file from the portal and map its headings here.

Only a per-dossier listing is taken: every difference it shows can be explained by dossier. A
file of counts per agency (a ``SoLuong`` column and no ``MaHoSo``) is refused with that reason:
counts can say the portal holds 12 more than the city, never which 12, so they cannot tell a
ministry's dossier from a lost one or an entry made by mistake -- the very difference the hub
exists to explain. A file with any bad row is refused whole, naming the row and the reason, and
nothing is stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from quality.reconcile.model import Period

__all__ = ["COLUMNS", "PortalFileError", "PortalFileRow", "read_portal_file"]

NUMBER, STATUS, SUBMITTED, UNIT = "mahoso", "trangthaihoso", "ngaynophoso", "madonvi"
COLUMNS = {NUMBER: "MaHoSo", STATUS: "TrangThaiHoSo", SUBMITTED: "NgayNopHoSo", UNIT: "MaDonVi"}
_REQUIRED = (NUMBER, STATUS, SUBMITTED)
_COUNTS = ("soluong", "count", "tongso")
_DATE_FORMATS = ("%Y%m%d%H%M%S", "%Y%m%d", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S",
                 "%d/%m/%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")  # fmt: skip
MAX_NUMBER = 64  # portal_snapshot.dossier_no


class PortalFileError(ValueError):
    """The file is refused: ``row`` is the spreadsheet's row number (the header is row 1)."""

    def __init__(self, name: str, row: int, reason: str) -> None:
        super().__init__(f"{name}, row {row}: {reason}")
        self.row, self.reason = row, reason


@dataclass(frozen=True)
class PortalFileRow:
    dossier_no: str
    status: int
    submitted: date


def _csv_rows(path: Path) -> Iterator[list[Any]]:
    text = path.read_text(encoding="utf-8-sig")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","  # Excel in a Vietnamese locale writes ';'
    yield from csv.reader(io.StringIO(text), delimiter=delimiter)


def _xlsx_rows(path: Path) -> Iterator[list[Any]]:
    from openpyxl import load_workbook  # only when a spreadsheet is given

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        yield from (list(row) for row in workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _status(value: Any) -> int:
    text = _text(value)
    number = float(text) if text.replace(".", "", 1).isdigit() else None
    if number is None or number != int(number) or not 1 <= int(number) <= 10:
        raise ValueError(f"TrangThaiHoSo must be a status code 1-10, got {text!r}")
    return int(number)


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"NgayNopHoSo {text!r} is not a date (yyyyMMdd[HHmmss], yyyy-mm-dd or dd/mm/yyyy)")


def _header(name: str, cells: list[Any]) -> dict[str, int]:
    found = {_text(cell).lower(): at for at, cell in enumerate(cells) if _text(cell)}
    if NUMBER not in found and any(key in found for key in _COUNTS):
        raise PortalFileError(
            name,
            1,
            "a file of counts cannot be reconciled dossier by dossier (it says how many, never which dossiers); "
            "download the portal's dossier listing (MaHoSo, TrangThaiHoSo, NgayNopHoSo)",
        )
    missing = [COLUMNS[key] for key in _REQUIRED if key not in found]
    if missing:
        raise PortalFileError(name, 1, f"missing column {', '.join(missing)}")
    return found


def read_portal_file(path: Path, period: Period) -> list[PortalFileRow]:
    """Every dossier the file lists for ``period``, or :class:`PortalFileError` for the first bad row."""
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise PortalFileError(name, 0, f"a portal file is .csv or .xlsx, not {suffix or 'without an extension'}")
    try:
        rows = iter(_csv_rows(path) if suffix == ".csv" else _xlsx_rows(path))
        columns = _header(name, next(rows, []))
        return _data_rows(name, rows, columns, period)
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise PortalFileError(name, 0, f"cannot be read as {suffix[1:].upper()}: {exc}") from exc
    except PortalFileError:
        raise
    except Exception as exc:  # openpyxl raises its own (zipfile, XML) errors for a file that is not a workbook
        raise PortalFileError(name, 0, f"cannot be read as XLSX: {exc}") from exc


def _data_rows(name: str, rows: Iterator[list[Any]], columns: dict[str, int], period: Period) -> list[PortalFileRow]:
    found: list[PortalFileRow] = []
    seen: dict[str, int] = {}
    unit: tuple[str, int] | None = None
    for number, cells in enumerate(rows, start=2):
        if not any(_text(cell) for cell in cells):
            continue  # blank lines a spreadsheet leaves at the end

        def cell(key: str, cells: list[Any] = cells) -> Any:
            at = columns.get(key)
            return cells[at] if at is not None and at < len(cells) else None

        try:
            dossier_no = _text(cell(NUMBER))
            if not dossier_no or any(ch.isspace() for ch in dossier_no) or len(dossier_no) > MAX_NUMBER:
                raise ValueError(
                    f"MaHoSo must be a dossier number without spaces (<= {MAX_NUMBER}), got {dossier_no!r}"
                )
            if dossier_no in seen:
                raise ValueError(f"MaHoSo {dossier_no} is listed twice (also in row {seen[dossier_no]})")
            status, submitted = _status(cell(STATUS)), _day(cell(SUBMITTED))
            if not period.first <= submitted <= period.last:
                raise ValueError(f"NgayNopHoSo {submitted.isoformat()} is outside the period {period.label}")
            if UNIT in columns:
                this = _text(cell(UNIT))
                unit = unit or (this, number)
                if this != unit[0]:
                    raise ValueError(
                        f"MaDonVi {this!r} differs from {unit[0]!r} (row {unit[1]}): a listing is per unit"
                    )
        except ValueError as exc:
            raise PortalFileError(name, number, str(exc)) from None
        seen[dossier_no] = number
        found.append(PortalFileRow(dossier_no, status, submitted))
    return found
