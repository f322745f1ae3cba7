"""Viettel Post's own address ids for the statistics-office communes the hub's addresses name.

Viettel Post does not take the statistics office's commune codes: ``createOrder`` wants its own
numeric ``*_PROVINCE``, ``*_DISTRICT`` and ``*_WARD`` ids, the ones its ``/v2/categories/list*``
catalogue answers (docs/interfaces.md, Viettel Post ledger). ``viettel_addresses.csv`` beside this
file maps each commune code of ``mappings/code_tables/communes.csv`` to those ids, versioned like
the communes themselves: a pre-reform ward (valid until 2025-06-30) has its district's id, a ward
created by the July 2025 reform carries district id 0 (Viettel's post-reform catalogue is province
+ ward; an assumption the ledger names). A commune Viettel's catalogue does not list yet has no
row: the order is quarantined with :data:`UNMAPPED_RULE` instead of being sent with a guess.

The file is generated for the sandbox by ``sandbox/postal/viettel_catalogue.py`` (no download: the ids
are synthetic, Hà Nội's province id 1 aside); production replaces it with the rows of Viettel's
catalogue, keeping the columns and the effective dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from mappings.errors import MappingError
from mappings.versioned import Row, VersionedTable, read_rows

TABLE_PATH = Path(__file__).with_name("viettel_addresses.csv")
UNMAPPED_RULE = "postal.viettel_address_unmapped"


@dataclass(frozen=True, slots=True, kw_only=True)
class ViettelAddressRow(Row):
    """``code`` is the statistics-office commune code; the rest are Viettel Post's ids and ward name."""

    province_id: int
    district_id: int
    ward_id: int
    ward_name: str

    def __post_init__(self) -> None:
        if self.province_id <= 0 or self.ward_id <= 0 or self.district_id < 0:
            raise ValueError(f"commune {self.code}: Viettel ids must be positive (district 0 after the reform)")


@lru_cache(maxsize=4)
def load_viettel_addresses(path: Path = TABLE_PATH) -> VersionedTable[ViettelAddressRow]:
    return VersionedTable("viettel_addresses", read_rows(path, ViettelAddressRow))


def viettel_address(table: VersionedTable[ViettelAddressRow], commune_code: str, on: date) -> ViettelAddressRow:
    """Viettel's ids for ``commune_code`` on ``on``, or ``MappingError`` (:data:`UNMAPPED_RULE`) saying why not."""
    row = table.get(commune_code, on)
    if row is not None:
        return row
    versions = [r for r in table.all_rows() if r.code == commune_code]
    if versions:
        periods = ", ".join(f"{r.valid_from or '…'}..{r.valid_to or '…'}" for r in versions)
        detail = f"có mã địa chỉ Viettel Post cho giai đoạn {periods}, không cho ngày {on}"
    else:
        detail = "chưa có trong danh mục địa chỉ của Viettel Post (mappings/postal/viettel_addresses.csv)"
    raise MappingError(UNMAPPED_RULE, f"xã/phường {commune_code} {detail}")


__all__ = ["UNMAPPED_RULE", "ViettelAddressRow", "load_viettel_addresses", "viettel_address"]
