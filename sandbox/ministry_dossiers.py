"""Dossiers the ministry simulators hold that the city system never sees (DOMAIN.md, "The problem").

High-volume procedures under city authority are processed on ministry software; their dossiers
are the count gap the hub closes by pulling them back. The ministry simulators get theirs from the
city-system generator itself (``include_ministry=True``), so procedures, agencies, applicants,
timelines and Table 01 outcomes follow exactly the rules of the city's own data, and then keep only
the procedures that partner processes.

Numbers: the city system numbers an agency's dossiers from 0001 each day. A ministry system numbers
the dossiers it receives for the same agency in the same ``{agency}-{YYMMDD}-{NNNN}`` format, from
a block of its own (ASSUMPTION: ``MINISTRY_SEQ_BASE`` + 1 upwards), so a pulled-back dossier never
collides with a city dossier. At the calibrated volume (scale 1.0) the busiest agency numbers
fewer than 3,000 dossiers a day, well below the block.

Everything is deterministic in (day, scale, seed, partner): the partner name is mixed into the
seed, so two ministries given the same seed still hold different dossiers.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import date
from typing import Any

from mappings.code_tables import ProcedureRow
from mappings.dossier_number import DossierNumberAllocator
from sandbox.city_system.generator import generate
from sandbox.tables import tables

__all__ = ["MINISTRY_SEQ_BASE", "ProcedureFilter", "ministry_dossiers", "partner_seed"]

MINISTRY_SEQ_BASE = 5000
ProcedureFilter = Callable[[ProcedureRow], bool]


def partner_seed(seed: int, partner: str) -> int:
    """A seed of the partner's own, derived from the sandbox seed (stable across processes)."""
    return zlib.crc32(f"{seed}:{partner}".encode())


def ministry_dossiers(
    day: date, scale: float, seed: int, *, partner: str, keep: ProcedureFilter, code_tables: Any | None = None
) -> list[dict[str, Any]]:
    """City-format records of ``day`` for the procedures ``keep`` selects, numbered by the ministry.

    Records the generator made defective on purpose are left out: a ministry system's own data is
    what it is, and the quality gate is tested on the city's defects.
    """
    code_tables = code_tables if code_tables is not None else tables()
    generated = generate(day, scale, partner_seed(seed, partner), code_tables=code_tables, include_ministry=True)
    allocators: dict[str, DossierNumberAllocator] = {}
    kept = []
    for record in generated.records:  # already in submission order
        if record["id"] in generated.defects:
            continue
        procedure = code_tables.procedures.get(record["ma_tthc"], day)
        if procedure is None or not keep(procedure):
            continue
        agency = record["don_vi_xu_ly"]
        allocator = allocators.setdefault(agency, DossierNumberAllocator(agency, day, MINISTRY_SEQ_BASE))
        kept.append({**record, "ma_ho_so": allocator.next().format()})
    return kept
