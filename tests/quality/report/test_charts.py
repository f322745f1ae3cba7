"""The report's charts: inline SVGs that can share one page and draw without a font search."""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

import pytest

from quality.report.charts import bar_chart, trend_chart
from quality.report.pdf import render_pdf


def _charts() -> list[str]:
    return [
        bar_chart("sources", [("Hệ thống của Thành phố", 1071), ("Cổng DVCQG", 1407)], str),
        bar_chart("classes", [("Bị giữ lại", 8), ("Chỉ có ở Bộ", 385)], str, alert=True),
        trend_chart("trend", [{"day": "2026-11-19", "on_time": 0.9}, {"day": "2026-11-20", "on_time": 0.95}],
                    [("on_time", "Tỷ lệ đúng hạn")]),
    ]  # fmt: skip


def test_no_id_repeats_across_the_charts_of_one_page_and_every_reference_resolves() -> None:
    page = "".join(_charts())
    ids = Counter(re.findall(r'\bid="([^"]+)"', page))
    assert ids and [i for i, n in ids.items() if n > 1] == []
    references = set(re.findall(r'(?:href="#|url\(#)([^")]+)', page))
    assert references <= set(ids)


def test_drawing_and_printing_the_charts_logs_no_font_or_anchor_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A reconcile once printed hundreds of ``findfont`` and "Anchor defined twice" lines first."""
    with caplog.at_level(logging.WARNING):
        page = "<html><body>" + "".join(_charts()) + "</body></html>"
        render_pdf(page, Path("."))
    noise = [r.getMessage() for r in caplog.records if "findfont" in r.getMessage() or "Anchor" in r.getMessage()]
    assert noise == []
