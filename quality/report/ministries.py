"""The reconciliation by ministry as the report prints it: per ministry system and procedure, the
dossiers processed there, how many the hub matched to a city dossier and by which rule, how many
are ambiguous or only at the ministry, and whether the portal holds them.

Built from the document's ``ministries`` part only (``quality.reconcile.ministries``); its words
live here, in both languages, beside the one function that uses them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from quality.report.labels import check_language, source_name, term_name

_WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Hồ sơ xử lý trên phần mềm của Bộ, theo Bộ và thủ tục",
        "intro": "Mỗi dòng cộng đủ: đã xử lý = khớp với hồ sơ của Thành phố (theo quy tắc) + khớp nhiều hồ sơ "
        "+ chỉ có ở Bộ. Quy tắc khớp, theo thứ tự: cùng số hồ sơ; số một cửa Bộ lưu; số hồ sơ của Bộ ghi ở "
        "Thành phố; người nộp, thủ tục và ngày nộp (chỉ khi đúng một hồ sơ).",
        "none": "Không có hồ sơ nào được xử lý trên phần mềm của Bộ trong kỳ.",
        "ministry": "Bộ (hệ thống)",
        "procedure": "Thủ tục",
        "processed": "Đã xử lý",
        "matched": "Khớp với Thành phố",
        "ambiguous": "Khớp nhiều hồ sơ",
        "ministry_only": "Chỉ có ở Bộ",
        "portal": "Cổng có / không có",
        "not_checked": "chưa đối chiếu",
    },
    "en": {
        "title": "Dossiers processed on ministry software, by ministry and procedure",
        "intro": "Every row adds up: processed = matched to a city dossier (by rule) + ambiguous + ministry only. "
        "The match rules, in order: the same number; the one-stop number the ministry holds; the ministry's "
        "number recorded in the city; applicant, procedure and day (only when exactly one dossier fits).",
        "none": "No dossier was processed on ministry software in the period.",
        "ministry": "Ministry (system)",
        "procedure": "Procedure",
        "processed": "Processed",
        "matched": "Matched to the city",
        "ambiguous": "Ambiguous",
        "ministry_only": "Ministry only",
        "portal": "On the portal / not",
        "not_checked": "not checked",
    },
}


def ministries_view(
    document: Mapping[str, Any], language: str, fmt: Callable[[int, str], str]
) -> dict[str, Any] | None:
    """What the template prints, or None when the document predates the section."""
    rows = document.get("ministries")
    if rows is None:
        return None
    words = _WORDS[check_language(language)]
    shown = []
    for row in rows:
        matched = [
            f"{term_name('matched_' + rule, language)} {fmt(n, language)}" for rule, n in row["matched"].items() if n
        ]
        owner = source_name(row["source"], language)
        shown.append(
            {
                "ministry": f"{row['ministry']} ({owner})" if row.get("ministry") else owner,
                "procedure": " ".join(p for p in (row.get("procedure"), row.get("procedure_name")) if p) or "–",
                "processed": fmt(row["processed"], language),
                "matched": fmt(sum(row["matched"].values()), language),
                "matched_by": "; ".join(matched),
                "ambiguous": fmt(row["ambiguous"], language),
                "ministry_only": fmt(row["ministry_only"], language),
                "portal": words["not_checked"]
                if row.get("at_portal") is None
                else f"{fmt(row['at_portal'], language)} / {fmt(row['not_at_portal'], language)}",
            }
        )
    return {"words": words, "rows": shown}
