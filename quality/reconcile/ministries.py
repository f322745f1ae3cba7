"""The reconciliation by ministry: per ministry system and procedure, the dossiers processed there
and what became of them -- matched to a city dossier (by which rule), ambiguous, only at the
ministry -- and whether the portal holds them.

This answers the Government Office's quarterly question ("how many of the city's dossiers were
processed on ministry software, and are they on the national portal?") with evidence: every row
adds up (``processed = matched + ambiguous + ministry_only``; with the portal's export read, ``at
portal + not at portal = processed``), and the rows add up to one identity the report prints. A
dossier is at the portal when the portal holds its ministry number (the ministry synced it) or the
number of the city dossier it matched (the hub synced that). The owning ministry is the one the
dated ``ministry_systems`` table names for the procedure's field on the period's last day (the
2025 reorganisation merged ministries).
"""

from __future__ import annotations

from typing import Any

import duckdb

from mappings.code_tables import CodeTables
from mappings.sources import PULLBACK_PREFIX
from quality.reconcile.model import DifferenceClass, Identity, Period

__all__ = ["MATCH_RULES", "by_ministry", "ministry_identity"]

MATCH_RULES = ("same_number", "one_stop_number", "ministry_number", "applicant_procedure_day")

_ROWS = f"""
SELECT s.source, coalesce(s.procedure, '') AS procedure, count(*) AS processed,
    {", ".join(f"count(*) FILTER (WHERE s.match_rule = '{rule}') AS {rule}" for rule in MATCH_RULES)},
    count(*) FILTER (WHERE s.kind = '{DifferenceClass.MINISTRY_AMBIGUOUS}') AS ambiguous,
    count(*) FILTER (WHERE s.kind = '{DifferenceClass.MINISTRY_ONLY}') AS ministry_only,
    count(*) FILTER (WHERE p.dossier_no IS NOT NULL OR pc.dossier_no IS NOT NULL) AS at_portal
FROM ministry_state s
LEFT JOIN portal p ON p.dossier_no = s.dossier_no
LEFT JOIN portal pc ON pc.dossier_no = s.city_no
WHERE s.in_period
GROUP BY 1, 2
ORDER BY 1, 2
"""


def by_ministry(
    db: duckdb.DuckDBPyConnection, tables: CodeTables, period: Period, *, portal_checked: bool
) -> list[dict[str, Any]]:
    """One row per ministry system and procedure of the period (see the module docstring)."""
    rows = []
    for source, procedure, processed, *counts in db.execute(_ROWS).fetchall():
        matched = dict(zip(MATCH_RULES, counts[: len(MATCH_RULES)], strict=True))
        ambiguous, ministry_only, at_portal = counts[len(MATCH_RULES) :]
        row = tables.procedures.get(procedure, period.last) if procedure else None
        owner = tables.ministry_system(row, period.last) if row is not None else None
        rows.append(
            {
                "source": source,
                "system": source.removeprefix(PULLBACK_PREFIX),
                "ministry": owner.ministry if owner is not None else None,
                "procedure": procedure or None,
                "procedure_name": row.name if row is not None else None,
                "processed": int(processed),
                "matched": {rule: int(n) for rule, n in matched.items()},
                "ambiguous": int(ambiguous),
                "ministry_only": int(ministry_only),
                "at_portal": int(at_portal) if portal_checked else None,
                "not_at_portal": int(processed - at_portal) if portal_checked else None,
            }
        )
    return rows


def ministry_identity(rows: list[dict[str, Any]]) -> Identity:
    """``processed = matched + ambiguous + ministry_only`` over every ministry and procedure."""
    terms = {
        "processed": sum(r["processed"] for r in rows),
        **{f"matched_{rule}": sum(r["matched"][rule] for r in rows) for rule in MATCH_RULES},
        "ambiguous": sum(r["ambiguous"] for r in rows),
        "ministry_only": sum(r["ministry_only"] for r in rows),
    }
    return Identity(
        key="ministries",
        formula="processed on ministry software = matched to a city dossier (by rule) + ambiguous + ministry only",
        terms=terms,
        left_term="processed",
        right_terms=(*(f"matched_{rule}" for rule in MATCH_RULES), "ambiguous", "ministry_only"),
    )
