"""The portal's view of the code tables: which procedures it integrates and which agencies it knows.

The portal only accepts dossiers of procedures *integrated on the portal* and valid on the day the
dossier was submitted (DOMAIN.md: 165 full + 727 partial of 1,885). Lookups are cached because a
1000-record call asks about the same few hundred codes over and over.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from sandbox.tables import tables

__all__ = ["Catalogue"]


class Catalogue:
    """Procedure and agency catalogue backed by ``mappings.code_tables`` (loaded lazily, once).

    Answers in the upper-case keys public clients read (ledger 2.8): ``MATTHC``, ``TENTTHC``,
    ``LINHVUCTHUCHIEN[].MALINHVUC/TENLINHVUC``; ``MADONVI``, ``TENDONVI``, ``CAPDONVI``.
    """

    def __init__(self, code_tables: Any | None = None) -> None:
        self._tables = code_tables
        self.procedure_on_portal = lru_cache(maxsize=65536)(self._procedure_on_portal)
        self.agency_name_known = lru_cache(maxsize=65536)(self._agency_name_known)

    @property
    def tables(self) -> Any:
        if self._tables is None:
            self._tables = tables()
        return self._tables

    def _procedure_on_portal(self, code: str, on: date) -> bool:
        row = self.tables.procedures.get(code, on)
        return row is not None and row.integrated_on_portal

    def _agency_name_known(self, name: str, on: date) -> bool:
        """``DonViXuLy`` is the agency's name (O-I, T-S), so the portal knows agencies by name too."""
        return any(row.name == name for row in self.tables.agencies.rows(on))

    def procedures(self, on: date) -> list[dict[str, str]]:
        """``LayDanhSachTTHC``: the integrated procedures valid on ``on``."""
        rows = [row for row in self.tables.procedures.rows(on) if row.integrated_on_portal]
        return sorted(({"MATTHC": row.code, "TENTTHC": row.name} for row in rows), key=lambda item: item["MATTHC"])

    def procedure(self, code: str, on: date) -> list[dict[str, Any]]:
        """``LayThuTuc``: one procedure with its field, as a one-item list (empty when unknown)."""
        row = self.tables.procedures.get(code, on)
        if row is None or not row.integrated_on_portal:
            return []
        field = self.tables.fields.get(row.field_code, on)
        fields = [{"MALINHVUC": row.field_code, "TENLINHVUC": field.name if field else ""}]
        return [{"MATTHC": row.code, "TENTTHC": row.name, "LINHVUCTHUCHIEN": fields}]

    def agencies(self, on: date) -> list[dict[str, str]]:
        """``LayDanhMucCoQuan``: the agencies valid on ``on``; ``CAPDONVI`` the hub's level name."""
        out = [
            {"MADONVI": row.code, "TENDONVI": row.name, "CAPDONVI": row.level} for row in self.tables.agencies.rows(on)
        ]
        return sorted(out, key=lambda item: item["MADONVI"])
