"""The report's charts as inline SVG, drawn with matplotlib's object API.

Inline SVG because the page must render offline, without JavaScript, and identically in the PDF
(WeasyPrint draws SVG natively). Text stays text (``svg.fonttype: none``): labels keep their
Vietnamese diacritics in whatever font the reader has, and a browser or a search finds them.
No ``pyplot``: a ``Figure`` owns no global state, so two reports rendered in one worker cannot
draw into each other's axes. Labels come from the document, so mathtext is switched off (an
agency name with ``$`` must print as written) and matplotlib's SVG writer escapes them.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import matplotlib
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

INK = "#1b2a4a"
BAR = "#1f4e8c"
ALERT = "#b3261e"
GRID = "#d5d9e0"
LINE_COLOURS = ("#1f4e8c", "#b3261e", "#2e7d32", "#b26a00", "#6a3d9a", "#00838f")

_WIDTH_IN = 7.2


def _rc(salt: str) -> dict[str, Any]:
    return {
        "svg.fonttype": "none",
        "svg.hashsalt": salt,  # stable ids per chart: reproducible output, no clash between inline SVGs
        "text.parse_math": False,
        # matplotlib's own bundled font: found everywhere, covers Vietnamese, so no fallback search
        # (which logs a warning per missing family and per label).
        "font.family": ["DejaVu Sans"],
        "font.size": 9,
        "text.color": INK,
        "axes.edgecolor": GRID,
        "axes.labelcolor": INK,
        "xtick.color": INK,
        "ytick.color": INK,
    }


_ID = re.compile(r'\bid="([^"]+)"')
_REFERENCE = re.compile(r'(href="#|url\(#)([^")]+)')


def _svg(figure: Figure, salt: str) -> str:
    """The figure as an SVG to inline, its ids prefixed with the chart's ``salt``: matplotlib numbers
    the groups of every figure the same way (``text_3``), and one page holds several charts, whose
    ids must not repeat (a browser links the first, WeasyPrint warns "Anchor defined twice")."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML declaration and DOCTYPE: the SVG is inlined in HTML
    text = _ID.sub(lambda m: f'id="{salt}-{m[1]}"', text)
    return _REFERENCE.sub(lambda m: f"{m[1]}{salt}-{m[2]}", text)


def bar_chart(salt: str, bars: Sequence[tuple[str, int]], fmt: Callable[[int], str], *, alert: bool = False) -> str:
    """Horizontal bars, largest first at the top, each with its figure printed at its end."""
    with matplotlib.rc_context(_rc(salt)):
        figure = Figure(figsize=(_WIDTH_IN, 0.42 * max(len(bars), 1) + 0.6))
        axes = figure.add_subplot()
        names = [name for name, _ in bars][::-1]
        values = [value for _, value in bars][::-1]
        colours = [ALERT if alert and v else BAR for v in values]
        drawn = axes.barh(names, values, color=colours, height=0.6)
        axes.bar_label(drawn, labels=[fmt(v) for v in values], padding=4, fontsize=9)
        axes.set_xlim(0, max([*values, 1]) * 1.18)
        axes.xaxis.set_visible(False)
        for side in ("top", "right", "bottom"):
            axes.spines[side].set_visible(False)
        return _svg(figure, salt)


def trend_chart(salt: str, trend: Sequence[Mapping[str, Any]], series: Sequence[tuple[str, str]]) -> str:
    """One line per KPI (``series`` = key, label) over the trend's days; a missing value is a gap."""
    days = [date.fromisoformat(row["day"]) for row in trend]
    seen = [row[key] for row in trend for key, _ in series if row.get(key) is not None]
    # Indicators move by tenths of a percent: start the axis near the lowest value, not at 0 %.
    bottom = max(0.0, math.floor((min(seen, default=0.0) - 0.02) * 20) / 20)
    with matplotlib.rc_context(_rc(salt)):
        figure = Figure(figsize=(_WIDTH_IN, 3.0))
        axes = figure.add_subplot()
        for index, (key, label) in enumerate(series):
            values = [row.get(key) for row in trend]
            points = [math.nan if v is None else v for v in values]
            axes.plot(
                days, points, marker="o", markersize=3, linewidth=1.6, label=label,
                color=LINE_COLOURS[index % len(LINE_COLOURS)],
            )  # fmt: skip
        axes.set_ylim(bottom, 1.005)
        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        axes.grid(axis="y", color=GRID, linewidth=0.6)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=min(len(series), 3), frameon=False)
        figure.autofmt_xdate(rotation=0, ha="center")
        axes.xaxis.set_major_formatter(DateFormatter("%d/%m"))
        return _svg(figure, salt)
