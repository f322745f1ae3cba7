"""Find what identifies a person of the source records in a published file.

:func:`personal_values` gathers, from city records, every value that points at a person or a
dossier: full names, citizen and tax numbers, phone numbers, e-mail addresses, street addresses,
dossier numbers and the city's record ids. :func:`leaks` reports which of them -- and
anything shaped like a 12-digit citizen ID, a 10-digit phone number or an e-mail address -- a file
contains. The open-data tests run every published file through it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

SHAPES = {
    "citizen_id": re.compile(rb"(?<!\d)\d{12}(?!\d)"),
    "phone": re.compile(rb"(?<!\d)0\d{9}(?!\d)"),
    "email": re.compile(rb"[\w.+-]+@[\w-]+\.[\w.]+"),
}


def _person(block: dict[str, Any] | None) -> list[str]:
    if not block:
        return []
    values = [block.get(key) for key in ("ho_ten", "so_giay_to", "dien_thoai", "email", "dia_chi")]
    values += [item.get("so") for item in block.get("dinh_danh") or []]
    return [v for v in values if isinstance(v, str) and v]


def personal_values(records: Iterable[dict[str, Any]]) -> set[str]:
    """Every value of the records that identifies an applicant, a recipient or a dossier."""
    found: set[str] = set()
    for record in records:
        found.update(_person(record.get("chu_ho_so")))
        found.update(_person(record.get("dia_chi_nhan_ket_qua")))
        found.update(str(record[key]) for key in ("ma_ho_so", "id", "ma_tai_khoan_dvcqg") if record.get(key))
    return found


def leaks(content: bytes, values: set[str]) -> list[str]:
    """What in ``content`` identifies someone: known values (masked in the answer) and shapes."""
    text = content.decode("utf-8")
    found = sorted(f"{value[:3]}... (source record)" for value in values if value in text)
    found += sorted(
        f"{kind}: {m.group()[:3].decode()}..." for kind, shape in SHAPES.items() for m in shape.finditer(content)
    )
    return found
