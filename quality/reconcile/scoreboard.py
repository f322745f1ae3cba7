"""The hub's Decision 766 figures beside the portal's own scoreboard, indicator by indicator.

The reconciliation computes the KPIs from the dossiers the hub moved (``engine._KPIS``); the portal
publishes how it scored the city on the same indicators (its public scoreboard, fetched and
stored by ``hub.jobs.reconcile.fetch_portal_scoreboard``). This module sets the two side by side
for the reconciliation document (its ``portal_scoreboard`` part, which the report renders from):
the portal's group score as a share of its maximum next to the hub's share, and each difference
flagged when it exceeds :data:`TOLERANCE`, with what is known to explain it.

Pure: it reads plain rows and the document's KPI dicts; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TOLERANCE = 0.10  # ten percentage points: below it the two figures are read as consistent

# hub KPI key -> the portal's indicator group it is closest to (docs/interfaces.md 2.8; F766).
PAIRS: tuple[tuple[str, str], ...] = (
    ("synced_to_portal", "CKMB"),
    ("on_time", "TDGQ"),
    ("online", "CLGQ"),
    ("paid_online", "TTTT"),
    ("digitised", "MDSH"),
)
# Why the portal's group score is not the hub's share, per group (what the report says when flagged).
WHY: dict[str, dict[str, str]] = {
    "CKMB": {
        "vi": "Điểm Công khai, minh bạch của Cổng gồm nhiều chỉ tiêu (công bố TTHC, đồng bộ), không chỉ tỷ lệ đồng bộ.",
        "en": "The portal's transparency score has several parts (published "
        "procedures, syncing), not only the synced share.",
    },
    "TDGQ": {
        "vi": "Cổng tính cả hồ sơ do phần mềm của Bộ xử lý (đồng bộ trực tiếp lên "
        "Cổng), Thành phố không có các hồ sơ này.",
        "en": "The portal also counts dossiers processed on ministry software and "
        "synced by the ministries, which the city never holds.",
    },
    "CLGQ": {
        "vi": "Điểm Dịch vụ công trực tuyến của Cổng chấm cả việc cung cấp DVCTT "
        "theo TTHC, không chỉ tỷ lệ hồ sơ trực tuyến.",
        "en": "The portal's online-service score also rates procedures offered "
        "online, not only the share of online dossiers.",
    },
    "TTTT": {
        "vi": "Cổng chỉ tính thanh toán được ghi nhận trên Cổng hoặc cổng thanh toán "
        "được đồng bộ; phí trả tại quầy không được tính.",
        "en": "The portal counts only payments recorded on the portal or a synced "
        "payment gateway; fees paid at the counter do not count.",
    },
    "MDSH": {
        "vi": "Điểm Số hóa của Cổng gồm cả tái sử dụng dữ liệu số hóa và kết quả điện tử theo từng chỉ tiêu con.",
        "en": "The portal's digitisation score also weighs reused digitised data and "
        "electronic results, sub-indicator by sub-indicator.",
    },
}


def compare(
    kpis: Iterable[Mapping[str, Any]],
    scores: Iterable[Mapping[str, Any]],
    *,
    scoreboard_period: str,
    province_code: str,
    fetched_at: str | None,
) -> dict[str, Any]:
    """The document's ``portal_scoreboard`` part. ``scores`` are the stored rows of the period
    (``department_code``, ``department_name``, ``indicator``, ``score``, ``max_score``); no row of
    the province means the scoreboard was not available for this period."""
    by_key = {k["key"]: k for k in kpis}
    own = {s["indicator"]: s for s in scores if s["department_code"] == province_code}
    if not own:
        return {"available": False, "period": scoreboard_period, "province": province_code, "indicators": []}
    rows = []
    for key, group in PAIRS:
        kpi, score = by_key.get(key), own.get(group)
        hub = kpi.get("value") if kpi else None
        portal = score["score"] / score["max_score"] if score and score["score"] is not None else None
        difference = hub - portal if hub is not None and portal is not None else None
        flagged = difference is not None and abs(difference) > TOLERANCE
        rows.append(
            {
                "kpi": key,
                "label_vi": kpi["label_vi"] if kpi else key,
                "label_en": kpi["label_en"] if kpi else key,
                "indicator": group,
                "hub": hub,
                "portal_score": score["score"] if score else None,
                "portal_max": score["max_score"] if score else None,
                "portal": portal,
                "difference": difference,
                "status": "no_figure" if difference is None else "flagged" if flagged else "consistent",
                "why_vi": WHY[group]["vi"] if flagged else "",
                "why_en": WHY[group]["en"] if flagged else "",
            }
        )
    total = own.get("total")
    return {
        "available": True,
        "period": scoreboard_period,
        "province": province_code,
        "fetched_at": fetched_at,
        "total_score": total["score"] if total else None,
        "total_max": total["max_score"] if total else None,
        "tolerance": TOLERANCE,
        "indicators": rows,
    }
