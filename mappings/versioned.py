"""Versioned code tables: rows that are valid for a period, looked up by code on a date.

Codes change with the law (Decree 118/2025 abolished districts and merged communes on
2025-07-01), so no lookup is ever made without a date: the same code may mean different things,
or nothing, before and after a reform.
"""

from __future__ import annotations

import csv
import typing
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import date
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Generic, TypeVar


class CodeTableError(ValueError):
    """A code-table file is malformed; raised at load time so bad data never reaches a mapping."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """Common columns of every table; an empty ``valid_from``/``valid_to`` leaves that end open."""

    code: str
    valid_from: date | None
    valid_to: date | None

    def valid_on(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on <= self.valid_to)


R = TypeVar("R", bound=Row)


class VersionedTable(Generic[R]):
    """Rows indexed by ``code`` (and any extra unique columns), each code's periods disjoint."""

    def __init__(self, name: str, rows: Iterable[R], unique_by: tuple[str, ...] = ()) -> None:
        self.name = name
        self._rows = list(rows)
        self._indexes = {column: self._index(column) for column in ("code", *unique_by)}
        # A batch asks about the same few hundred codes on the same few days thousands of times,
        # and rows never change after loading: remember the answers (bounded, for long runs).
        self._find = lru_cache(maxsize=65536)(self._scan)

    def _index(self, column: str) -> dict[Any, list[R]]:
        index: dict[Any, list[R]] = {}
        for row in self._rows:
            index.setdefault(getattr(row, column), []).append(row)
        for value, versions in index.items():
            versions.sort(key=lambda r: r.valid_from or date.min)
            for earlier, later in pairwise(versions):
                if earlier.valid_to is None or later.valid_from is None or earlier.valid_to >= later.valid_from:
                    raise CodeTableError(f"{self.name}: {column}={value!r} has overlapping validity periods")
        return index

    def get(self, code: Any, on: date, *, by: str = "code") -> R | None:
        """The row whose ``by`` column equals ``code`` and that is valid on ``on``, else None."""
        return self._find(by, code, on)

    def _scan(self, by: str, code: Any, on: date) -> R | None:
        return next((r for r in self._indexes[by].get(code, ()) if r.valid_on(on)), None)

    def valid_codes(self, on: date) -> set[str]:
        return {r.code for r in self._rows if r.valid_on(on)}

    def rows(self, on: date) -> list[R]:
        """Rows valid on ``on``, in file order (generators rely on a stable order for seeding)."""
        return [r for r in self._rows if r.valid_on(on)]

    def all_rows(self) -> list[R]:
        """Every version of every row, for reports that span a reform."""
        return list(self._rows)


def _parse_bool(value: str) -> bool:
    if value not in ("true", "false"):
        raise ValueError(f"expected true/false, got {value!r}")
    return value == "true"


_CONVERTERS: dict[Any, Callable[[str], Any]] = {
    str: str,
    int: int,
    float: float,
    bool: _parse_bool,
    date | None: lambda v: date.fromisoformat(v) if v else None,
    str | None: lambda v: v or None,
}


def read_rows(path: Path, row_type: type[R], code: Callable[[str], str] = str) -> list[R]:
    """Read a UTF-8 CSV whose header is exactly ``row_type``'s fields; ``code`` rewrites the key."""
    hints = typing.get_type_hints(row_type)
    columns = [f.name for f in fields(row_type)]
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if sorted(reader.fieldnames or ()) != sorted(columns):
            raise CodeTableError(f"{path.name}: columns {reader.fieldnames} != expected {columns}")
        rows = []
        for line in reader:
            if None in line or None in line.values():
                raise CodeTableError(f"{path.name} line {reader.line_num}: wrong number of fields")
            try:
                values = {
                    name: _CONVERTERS[hints[name]](unicodedata.normalize("NFC", line[name].strip())) for name in columns
                }
                values["code"] = code(values["code"])
                row = row_type(**values)
            except (ValueError, TypeError) as exc:
                raise CodeTableError(f"{path.name} line {reader.line_num}: {exc}") from exc
            if row.valid_from and row.valid_to and row.valid_to < row.valid_from:
                raise CodeTableError(f"{path.name} line {reader.line_num}: valid_to before valid_from")
            rows.append(row)
    return rows
