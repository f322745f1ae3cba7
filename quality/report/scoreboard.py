"""The hub's Decision 766 figures beside the portal's own scoreboard, as the report prints them.

Built from the document's ``portal_scoreboard`` part only (``quality.reconcile.scoreboard``): per
indicator, the hub's share, the portal's score over its maximum (and as a share), the difference,
and whether it is consistent or flagged with what explains it. Its words live here, in both languages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from quality.report.labels import check_language

_WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Đối chiếu với bảng điểm 766 của Cổng DVCQG",
        "unavailable": "Không lấy được bảng điểm 766 của Cổng DVCQG cho kỳ {period}: "
        "chỉ số của Thành phố được nêu mà không có số liệu của Cổng để so sánh.",
        "intro": "Bảng điểm công khai của Cổng, kỳ {period} (lấy lúc {fetched}): tổng điểm {total}/{top}. "
        "Chênh lệch quá {tolerance} điểm phần trăm được đánh dấu.",
        "indicator": "Chỉ số",
        "group": "Nhóm của Cổng",
        "hub": "Hub tính",
        "portal": "Điểm của Cổng",
        "difference": "Chênh lệch",
        "status": "Nhận xét",
        "consistent": "Khớp (trong ngưỡng)",
        "flagged": "Lệch",
        "no_figure": "Thiếu số liệu một bên",
    },
    "en": {
        "title": "Against the national portal's Decision 766 scoreboard",
        "unavailable": "The portal's scoreboard was not available for {period}: "
        "the city's indicators are stated without the portal's figures beside them.",
        "intro": "The portal's public scoreboard, period {period} (fetched {fetched}): total score {total}/{top}. "
        "Differences above {tolerance} percentage points are flagged.",
        "indicator": "Indicator",
        "group": "Portal group",
        "hub": "Hub's figure",
        "portal": "Portal's score",
        "difference": "Difference",
        "status": "Finding",
        "consistent": "Consistent (within tolerance)",
        "flagged": "Differs",
        "no_figure": "A figure is missing",
    },
}


def scoreboard_view(
    document: Mapping[str, Any], language: str, share: Callable[[float | None, str], str]
) -> dict[str, Any] | None:
    """What the template prints, or None when the document predates the scoreboard."""
    part = document.get("portal_scoreboard")
    if part is None:
        return None
    words = _WORDS[check_language(language)]
    if not part.get("available"):
        return {"words": words, "available": False, "lines": [words["unavailable"].format(period=part.get("period"))]}
    rows = []
    for row in part["indicators"]:
        portal = row["portal_score"]
        rows.append(
            {
                "label": row.get(f"label_{language}") or row["kpi"],
                "group": row["indicator"],
                "hub": share(row["hub"], language),
                "portal": f"{portal:g}/{row['portal_max']:g} ({share(row['portal'], language)})"
                if portal is not None
                else "–",
                "difference": f"{100 * row['difference']:+.1f}" if row["difference"] is not None else "–",
                "status": words[row["status"]],
                "flagged": row["status"] == "flagged",
                "why": row.get(f"why_{language}") or "",
            }
        )
    intro = words["intro"].format(
        period=part["period"],
        fetched=part.get("fetched_at") or "–",
        total=f"{part['total_score']:g}" if part.get("total_score") is not None else "–",
        top=f"{part.get('total_max') or 100:g}",
        tolerance=f"{100 * part['tolerance']:g}",
    )
    return {"words": words, "available": True, "lines": [intro], "rows": rows}
