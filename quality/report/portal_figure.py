"""The portal's figure as an official states it: the whole figure, with the roads it is made of.

The city used to trim its quarterly figure to match the portal's by hand (DOMAIN.md). The report
states the portal's own figure instead, and what it is made of: "the portal holds N = city M +
civil status a + business registration b ...". The sentence is built from the document's
``portal_side.explained`` only (``quality.reconcile.portal_explained``), the ministries named as
the registry names them (``labels.source_name``), the other parts with the identity's term names.
Its few words live here, beside the one function that assembles them, in both languages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quality.report.labels import check_language, source_name, term_name

_WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "holds": "Cổng DVCQG đang có {n} hồ sơ của kỳ",
        "not_checked": "Chưa đối chiếu với số liệu của Cổng DVCQG trong kỳ này (chưa lấy danh sách hồ sơ của Cổng).",
        "explained": "Chênh lệch giữa Cổng và Thành phố được giải thích theo từng hồ sơ, không cắt giảm số liệu.",
        "unexplained": "Các thành phần không cộng đủ số của Cổng: xem danh sách chênh lệch.",
    },
    "en": {
        "holds": "The national portal holds {n} dossiers of the period",
        "not_checked": "The portal's own figures were not checked for this period (no portal listing was read).",
        "explained": "The difference between the portal and the city is explained dossier by dossier, not trimmed.",
        "unexplained": "The parts do not add up to the portal's figure: see the differences listed.",
    },
}


def portal_figure(document: Mapping[str, Any], language: str, fmt: Any) -> list[str]:
    """The sentences stating the portal's figure; ``fmt(n, language)`` formats a count."""
    words = _WORDS[check_language(language)]
    side = document.get("portal_side") or {}
    explained = side.get("explained")
    if not side.get("checked") or not explained:
        return [words["not_checked"]]
    parts = [f"{term_name('city', language)} {fmt(explained['city'], language)}"]
    parts += [
        f"{source_name(row['source'], language)} {fmt(row['dossiers'], language)}" for row in explained["by_ministry"]
    ]
    parts.append(f"{term_name('portal_only', language)} {fmt(explained['portal_only'], language)}")
    minus = [
        f"{term_name(key, language)} {fmt(explained[key], language)}" for key in ("not_integrated", "missing_at_portal")
    ]
    sentence = f"{words['holds'].format(n=fmt(explained['portal'], language))} = " + " + ".join(parts)
    sentence += "".join(f" − {part}" for part in minus) + "."
    return [sentence, words["explained" if explained["holds"] else "unexplained"]]
