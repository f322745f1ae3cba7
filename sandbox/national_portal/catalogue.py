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
    """Procedure and agency catalogue backed by ``mappings.code_tables`` (loaded lazily, once)."""

    def __init__(self, code_tables: Any | None = None) -> None:
        self._tables = code_tables
        self.procedure_on_portal = lru_cache(maxsize=65536)(self._procedure_on_portal)
        self.agency_known = lru_cache(maxsize=65536)(self._agency_known)

    @property
    def tables(self) -> Any:
        if self._tables is None:
            self._tables = tables()
        return self._tables

    def _procedure_on_portal(self, code: str, on: date) -> bool:
        row = self.tables.procedures.get(code, on)
        return row is not None and row.integrated_on_portal

    def _agency_known(self, code: str, on: date) -> bool:
        return self.tables.agencies.get(code, on) is not None

    def procedures(self, on: date) -> list[dict[str, str]]:
        """``LayDanhSachTTHC``: the integrated procedures valid on ``on``."""
        out = []
        for row in self.tables.procedures.rows(on):
            if row.integrated_on_portal:
                out.append(
                    {
                        "MaTTHC": row.code,
                        "TenTTHC": row.name,
                        "MaLinhVuc": row.field_code,
                    }
                )
        return sorted(out, key=lambda item: item["MaTTHC"])

    def agencies(self, on: date) -> list[dict[str, str]]:
        """``LayDanhMucCoQuan``: the agencies valid on ``on``."""
        out = [{"MaCoQuan": row.code, "TenCoQuan": row.name} for row in self.tables.agencies.rows(on)]
        return sorted(out, key=lambda item: item["MaCoQuan"])
