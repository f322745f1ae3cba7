"""Reconciliation documents (schema hub.reconciliation/2) as the engine writes them, for the report tests.

Built by hand so the report tests do not depend on the engine: the figures add up the way a real
day's would, and each document exercises a different page (several classes, a failing identity,
nothing to report).
"""

from __future__ import annotations

import copy
from typing import Any

SCHEMA = "hub.reconciliation/2"
DEPT_CONSTRUCTION = "000.00.12.H26"  # Sở Xây dựng
DEPT_JUSTICE = "000.00.03.H26"  # Sở Tư pháp
DEPT_FINANCE = "000.00.05.H26"  # Sở Tài chính
BIRTH = "1.001193"  # Đăng ký khai sinh
MARRIAGE = "1.000894"  # Đăng ký kết hôn

KPI_FORMULAS = {
    "synced_to_portal": ("Tỷ lệ hồ sơ đồng bộ lên Cổng DVCQG", "Share synced to the national portal",
                         "synced_to_portal = delivered / (extracted - out_of_scope)"),
    "on_time": ("Tỷ lệ hồ sơ giải quyết đúng hạn", "Share resolved on time",
                "on_time = resolved on or before due date / resolved"),
    "online": ("Tỷ lệ hồ sơ trực tuyến", "Share submitted online", "online = KenhThucHien 2 / received"),
}  # fmt: skip


def _dossier(agency: str, day: str, n: int) -> str:
    return f"{agency}-{day}-{n:04d}"


def _kpi(key: str, overall: tuple[int, int], by_agency: dict[str, tuple[int, int]]) -> dict[str, Any]:
    label_vi, label_en, formula = KPI_FORMULAS[key]

    def part(numerator: int, denominator: int) -> dict[str, Any]:
        return {
            "numerator": numerator,
            "denominator": denominator,
            "value": numerator / denominator if denominator else None,
        }

    return {
        "key": key,
        "label_vi": label_vi,
        "label_en": label_en,
        "formula": formula,
        **part(*overall),
        "by_agency": {agency: part(*figures) for agency, figures in by_agency.items()},
    }


def differing_day() -> dict[str, Any]:
    """20 Nov 2026: 1,250 city dossiers, 83 differ over five classes, the hub-flow identity is 2 short."""
    differences: list[dict[str, Any]] = []
    counts = {
        "missing_at_portal": 61,
        "behind_at_portal": 9,
        "quarantined": 7,
        "pending": 4,
        "ministry_only": 2,
        "duplicate": 0,
    }
    n = 1
    for kind, count in counts.items():
        for i in range(count):
            agency = DEPT_CONSTRUCTION if i % 3 else DEPT_JUSTICE
            row = {"dossier_no": _dossier(agency, "261120", n), "kind": kind, "source": "city", "agency": agency}
            if kind == "quarantined":
                row["detail"] = "city.malformed_date, portal.rejected: Ngày hẹn trả trước ngày tiếp nhận"
            if kind == "ministry_only":
                row["source"] = "ministry:civil_status"
            differences.append(row)
            n += 1
    by_agency: dict[str, dict[str, int]] = {}
    for row in differences:
        classes = by_agency.setdefault(row["agency"], dict.fromkeys(counts, 0))
        classes[row["kind"]] += 1
    return {
        "schema": SCHEMA,
        "period": {"first": "2026-11-20", "last": "2026-11-20", "kind": "day", "label": "2026-11-20"},
        "generated_at": "2026-11-21T02:00:00+07:00",
        "verdict": {
            "reconciled": False,
            "differing_dossiers": 83,
            "largest_class": "missing_at_portal",
            "largest_class_count": 61,
        },
        "sources": [
            {"source": "city", "dossiers": 1250},
            {"source": "national_portal", "dossiers": 1180},
            {"source": "ministry:civil_status", "dossiers": 2},
        ],
        "identities": [
            {
                "key": "hub_flow",
                "formula": "extracted = delivered + quarantined + pending + out_of_scope",
                "terms": {"extracted": 1250, "delivered": 1187, "quarantined": 7, "pending": 4, "out_of_scope": 50},
                "left": 1250,
                "right": 1248,
                "holds": False,
            },
            {
                "key": "table01",
                "formula": "total = on_time + late + in_process",
                "terms": {"total": 1250, "on_time": 1003, "late": 12, "in_process": 235},
                "left": 1250,
                "right": 1250,
                "holds": True,
            },
        ],
        "counts": counts,
        "by_agency": by_agency,
        "breakdown": [
            {"agency": DEPT_JUSTICE, "procedure": BIRTH, "status": 10, "city": 412, "portal": 405, "ministry": 2},
            {"agency": DEPT_JUSTICE, "procedure": MARRIAGE, "status": 4, "city": 96, "portal": 96, "ministry": 0},
            {"agency": DEPT_CONSTRUCTION, "procedure": BIRTH, "status": None, "city": 3, "portal": 0, "ministry": 0},
        ],
        "kpis": [
            _kpi("synced_to_portal", (1187, 1200), {DEPT_JUSTICE: (560, 566), DEPT_CONSTRUCTION: (627, 634)}),
            _kpi("on_time", (1003, 1015), {DEPT_JUSTICE: (500, 503), DEPT_CONSTRUCTION: (503, 512)}),
            _kpi("online", (0, 0), {DEPT_JUSTICE: (0, 0)}),
        ],
        "trend": [
            {"day": f"2026-11-{d}", "synced_to_portal": 0.95 + d / 1000, "on_time": 0.97, "online": None}
            for d in range(14, 21)
        ],
        "differences": differences,
    }


def reconciled_day() -> dict[str, Any]:
    """The same day once everything has gone through: no difference, every identity holds, no trend."""
    document = copy.deepcopy(differing_day())
    document["verdict"] = {"reconciled": True, "differing_dossiers": 0, "largest_class": None, "largest_class_count": 0}
    document["sources"][1]["dossiers"] = 1200
    hub_flow = document["identities"][0]
    hub_flow["terms"].update(delivered=1200, quarantined=0, pending=0)
    hub_flow.update(right=1250, holds=True)
    document["counts"] = dict.fromkeys(document["counts"], 0)
    document["by_agency"] = {}
    document["differences"] = []
    document["trend"] = []
    return document
