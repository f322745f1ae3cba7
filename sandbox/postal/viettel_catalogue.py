"""Viettel Post's address catalogue as the sandbox double knows it, and the hub's mapping made from it.

    uv run python -m sandbox.postal.viettel_catalogue          # rewrite mappings/postal/viettel_addresses.csv
    uv run python -m sandbox.postal.viettel_catalogue --check  # exit 1 when the file is not what this makes

The sandbox Viettel Post accepts exactly the (province, district, ward) id triples :func:`rows` lists
(``catalogue``), as the real one accepts its own catalogue's; the hub's versioned mapping
(``mappings/postal/viettel_addresses.csv``) is written from the same rows, as production would write
it from Viettel's ``/v2/categories/list*`` answers.

No download and no copy of Viettel's catalogue: Hà Nội's province id 1 is public (docs/interfaces.md,
Viettel Post ledger); every district and ward id below is synthetic, numbered so it never equals the
statistics-office code it stands for -- a client that sent the statistics code would be refused by
the sandbox, as Viettel would refuse it. One row per version of each commune in
``mappings/code_tables/communes.csv``, with that version's effective dates:

- pre-reform wards (valid until 2025-06-30) sit in their old district: the district is read from the
  statistics-office code block (00001-00036 Ba Đình, 00037-00090 Hoàn Kiếm, the blocks the file holds);
- wards and communes of the July 2025 reform carry district 0 (Viettel's two-level catalogue).

Every commune of the table has its row, so the demo's orders all map; a commune created after the
catalogue was last synced (no row) is quarantined by the hub's mapping (tested with a shortened table).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from datetime import date
from pathlib import Path

from mappings.code_tables import load_code_tables
from mappings.postal.viettel_addresses import TABLE_PATH

HANOI, VIETTEL_HANOI = "01", 1
REFORM = date(2025, 7, 1)
# Statistics-office ward code blocks of the pre-reform districts the commune table holds -> Viettel district id.
OLD_DISTRICTS = ((1, 36, 11), (37, 90, 12))  # (first code, last code, synthetic Viettel district id)
FIRST_OLD_WARD, FIRST_NEW_WARD = 1001, 15001
COLUMNS = ("code", "province_id", "district_id", "ward_id", "ward_name", "valid_from", "valid_to")


def _old_district(code: str) -> int:
    number = int(code)
    for first, last, district in OLD_DISTRICTS:
        if first <= number <= last:
            return district
    raise ValueError(f"commune {code}: no pre-reform district block holds it; extend OLD_DISTRICTS")


def rows() -> list[dict[str, str]]:
    """The table's rows, in the commune table's order (deterministic: same input, same file)."""
    out: list[dict[str, str]] = []
    old_ward, new_ward = FIRST_OLD_WARD, FIRST_NEW_WARD
    for commune in load_code_tables().communes.all_rows():
        if commune.province_code != HANOI:
            raise ValueError(f"commune {commune.code}: only Hà Nội's province id is known ({commune.province_code})")
        reformed = commune.valid_from is not None and commune.valid_from >= REFORM
        if reformed:
            district, ward = 0, new_ward
            new_ward += 1
        else:
            district, ward = _old_district(commune.code), old_ward
            old_ward += 1
        out.append(
            {
                "code": commune.code,
                "province_id": str(VIETTEL_HANOI),
                "district_id": str(district),
                "ward_id": str(ward),
                "ward_name": commune.name.upper(),  # Viettel's catalogue writes names in capitals
                "valid_from": commune.valid_from.isoformat() if commune.valid_from else "",
                "valid_to": commune.valid_to.isoformat() if commune.valid_to else "",
            }
        )
    return out


def catalogue() -> frozenset[tuple[int, int, int]]:
    """The (province, district, ward) id triples Viettel's sandbox accepts in an order."""
    return frozenset((int(r["province_id"]), int(r["district_id"]), int(r["ward_id"])) for r in rows())


def render() -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows())
    return buffer.getvalue()


def main(argv: list[str] | None = None, path: Path = TABLE_PATH) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        same = path.exists() and path.read_text(encoding="utf-8") == text
        print(f"{path}: {'up to date' if same else 'differs from the generator; run without --check'}")
        return 0 if same else 1
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path} ({text.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
