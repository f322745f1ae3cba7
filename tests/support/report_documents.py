"""Reconciliation documents (schema hub.reconciliation/3) as the engine writes them, for the report tests.

Built by hand so the report tests do not depend on the engine: the figures add up the way a real
day's would, and each document exercises a different page (several classes, a failing identity,
nothing to report).
"""

from __future__ import annotations

import copy
from typing import Any

SCHEMA = "hub.reconciliation/3"
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


EXPECTED = ("quarantined", "pending", "behind_at_portal", "ministry_only", "postal_delivered_not_closed")
NOT_FETCHED = {"source": "national_portal:export", "reason": "not_fetched"}


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
            "status": "not_reconciled",
            "reconciled": False,
            "differing_dossiers": 83,
            "largest_class": "missing_at_portal",
            "largest_class_count": 61,
            "identities_hold": False,
            "expected_classes": list(EXPECTED),
            "unexpected_classes": ["missing_at_portal"],
            "not_compared": [NOT_FETCHED["source"]],
        },
        "sources": [
            {"source": "city", "dossiers": 1250},
            {"source": "national_portal", "dossiers": 1180},
            {"source": "ministry:civil_status", "dossiers": 2},
        ],
        "compared": {"portal_basis": "acknowledged", "not_compared": [NOT_FETCHED]},
        "identities": [
            {
                "key": "hub_flow",
                "formula": "extracted = delivered + quarantined + pending + out_of_scope",
                "terms": {"extracted": 1250, "delivered": 1187, "quarantined": 7, "pending": 4, "out_of_scope": 50},
                "left_term": "extracted",
                "right_terms": ["delivered", "quarantined", "pending", "out_of_scope"],
                "minus_terms": [],
                "left": 1250,
                "right": 1248,
                "holds": False,
            },
            {
                "key": "table01",
                "formula": "total = on_time + late + in_process",
                "terms": {"total": 1250, "on_time": 1003, "late": 12, "in_process": 235},
                "left_term": "total",
                "right_terms": ["on_time", "late", "in_process"],
                "minus_terms": [],
                "left": 1250,
                "right": 1250,
                "holds": True,
            },
        ],
        "counts": counts,
        "flags": {},
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
    document["verdict"] = {
        "status": "reconciled",
        "reconciled": True,
        "differing_dossiers": 0,
        "largest_class": None,
        "largest_class_count": 0,
        "identities_hold": True,
        "expected_classes": list(EXPECTED),
        "unexpected_classes": [],
        "not_compared": [],
    }
    document["compared"] = {"portal_basis": "export", "not_compared": []}
    document["sources"][1]["dossiers"] = 1200
    hub_flow = document["identities"][0]
    hub_flow["terms"].update(delivered=1200, quarantined=0, pending=0)
    hub_flow.update(right=1250, holds=True)
    document["counts"] = dict.fromkeys(document["counts"], 0)
    document["by_agency"] = {}
    document["differences"] = []
    document["trend"] = []
    return document


def explained_day() -> dict[str, Any]:
    """A day whose differences are all expected: 7 quarantined and 2 ministry-only, one of which the
    portal holds too (a flag on it, not a second count), every identity holding -- the portal one
    with a term subtracted, the way the portal's figure is written out."""
    document = copy.deepcopy(reconciled_day())
    kept = [
        {**row, "detail": row.get("detail", "")}
        for row in differing_day()["differences"]
        if row["kind"] in ("quarantined", "ministry_only")
    ]
    ministry_no = next(row["dossier_no"] for row in kept if row["kind"] == "ministry_only")
    flag = {
        "dossier_no": ministry_no,
        "kind": "extra_at_portal",
        "source": "national_portal",
        "agency": DEPT_JUSTICE,
        "detail": "ministry_only: ministry:civil_status",
        "counted_as": "ministry_only",
    }
    document["differences"] = [*kept, flag]
    document["counts"] = dict.fromkeys(document["counts"], 0) | {"quarantined": 7, "ministry_only": 2}
    document["flags"] = {"extra_at_portal": 1}
    document["verdict"].update(
        status="explained", reconciled=False, differing_dossiers=9, largest_class="quarantined", largest_class_count=7
    )
    hub_flow = document["identities"][0]
    hub_flow["terms"].update(delivered=1193, quarantined=7, pending=0)
    document["identities"].append(
        {
            "key": "portal",
            "formula": "portal = city + ministry_only - not_integrated ...",
            "terms": {"portal": 1187, "city": 1250, "ministry_only": 2, "portal_only": 0, "not_integrated": 50,
                      "missing_at_portal": 15},
            "left_term": "portal",
            "right_terms": ["city", "ministry_only", "portal_only"],
            "minus_terms": ["not_integrated", "missing_at_portal"],
            "left": 1187,
            "right": 1187,
            "holds": True,
        }
    )  # fmt: skip
    document["compared"] = {"portal_basis": "export", "not_compared": []}
    return document


def empty_period() -> dict[str, Any]:
    """A month no source holds a dossier of: nothing compared, "no data"."""
    document = copy.deepcopy(reconciled_day())
    document["period"] = {"first": "2030-01-01", "last": "2030-01-31", "kind": "month", "label": "2030-01"}
    document["verdict"]["status"] = "no_data"
    document["verdict"]["reconciled"] = False
    document["sources"] = [{"source": "city", "dossiers": 0}, {"source": "national_portal", "dossiers": 0}]
    for identity in document["identities"]:
        identity["terms"] = dict.fromkeys(identity["terms"], 0)
        identity.update(left=0, right=0, holds=True)
    document["kpis"] = []
    document["breakdown"] = []
    return document
