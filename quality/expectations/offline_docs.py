"""GX Data Docs that open without a network: no CDN, and an index that lists without JavaScript.

GX's site pages load Bootstrap, jQuery, bootstrap-table, Vega and Font Awesome from CDNs and fill
the index's tables from JavaScript, so on the machines that read the hub's reports (no Internet
beyond the partners) the index is blank. The suite and validation pages themselves are rendered
HTML tables. So, once GX has built the site, every page here loses its remote scripts, styles and
images and gets a small local stylesheet instead, and the index is replaced by a static one that
lists every suite and every validation with its outcome. GX-free: it reads the built files and
the validations the runner hands it.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

STYLESHEET = Path("static") / "styles" / "hub-offline.css"
INDEX_ROWS = 500
"""Validations listed in the index, newest first; each page stays in ``validations/``."""

# Every script: remote ones cannot load, and the inline ones drive jQuery, which is one of them.
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.IGNORECASE | re.DOTALL)
_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", re.IGNORECASE)
_REMOTE_IMAGE = re.compile(r"<img\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>", re.IGNORECASE)
_REMOTE_URL = re.compile(r"url\(\s*['\"]?https?://[^)]*\)", re.IGNORECASE)  # a CSS background fetched from S3

_CSS = """/* The hub's own styles for GX Data Docs read offline (no CDN). */
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 14px; color: #1b2a4a; margin: 1em 2em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { border: 1px solid #d5d9e0; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f6; }
.ok { color: #1e6b33; } .fail { color: #a3201a; font-weight: bold; }
nav, .ge-cta-footer, #ge-cta-footer, .navbar, .modal { display: none; }
ul { padding-left: 1.2em; }
"""


@dataclass(frozen=True)
class ValidationEntry:
    """One stored validation: GX's key parts (suite, run name, run time, batch) and its outcome."""

    suite: str
    run_name: str
    run_time: str
    batch: str
    success: bool
    evaluated: int
    successful: int

    @property
    def page(self) -> Path:
        return Path("validations", self.suite, self.run_name, self.run_time, f"{self.batch}.html")


def make_offline(
    folder: Path, suites: Sequence[str], validations: Sequence[ValidationEntry], total: int | None = None
) -> Path:
    """Strip remote assets from every page of the site in ``folder``, write its local stylesheet
    and a static index of ``suites`` and ``validations`` (of ``total`` validations kept, when the
    caller passed only some); returns the index."""
    stylesheet = folder / STYLESHEET
    stylesheet.parent.mkdir(parents=True, exist_ok=True)
    stylesheet.write_text(_CSS, encoding="utf-8")
    for page in folder.rglob("*.html"):
        if page.name != "index.html" or page.parent != folder:
            text = page.read_text(encoding="utf-8")
            offline = offline_page(text, _link(page, stylesheet))
            if offline != text:  # pages of earlier builds are offline already: not written again
                page.write_text(offline, encoding="utf-8")
    index = folder / "index.html"
    count = len(validations) if total is None else total
    index.write_text(_index(folder, suites, validations, count), encoding="utf-8")
    return index


def offline_page(text: str, stylesheet: str) -> str:
    """The page without anything fetched from another host, styled by the local ``stylesheet``; a
    page an earlier build made offline (and GX did not render again) is returned as it is."""
    for pattern in (_SCRIPT, _REMOTE_LINK, _REMOTE_IMAGE):
        text = pattern.sub("", text)
    text = _REMOTE_URL.sub("none", text)
    link = f'<link rel="stylesheet" href="{html.escape(stylesheet)}">'
    if link in text:
        return text
    return text.replace("</head>", f"{link}\n</head>", 1)


def _link(page: Path, target: Path) -> str:
    return Path(os.path.relpath(target, page.parent)).as_posix()


def _index(folder: Path, suites: Sequence[str], validations: Sequence[ValidationEntry], total: int) -> str:
    """Suites, then validations newest first, as plain HTML tables (escaped: names come from GX)."""
    e = html.escape
    suite_rows = "".join(
        f'<li><a href="{e(Path("expectations", f"{name}.html").as_posix())}">{e(name)}</a></li>'
        for name in sorted(suites)
        if (folder / "expectations" / f"{name}.html").exists()
    )
    newest = sorted(validations, key=lambda v: (v.run_time, v.suite, v.batch), reverse=True)
    rows = []
    for v in newest[:INDEX_ROWS]:
        outcome = '<span class="ok">passed</span>' if v.success else '<span class="fail">failed</span>'
        name = f'<a href="{e(v.page.as_posix())}">{e(v.batch)}</a>' if (folder / v.page).exists() else e(v.batch)
        rows.append(
            f"<tr><td>{e(v.run_time)}</td><td>{e(v.suite)}</td><td>{name}</td><td>{outcome}</td>"
            f"<td>{v.successful}/{v.evaluated}</td></tr>"
        )
    more = (
        f"<p>The {min(INDEX_ROWS, len(newest))} newest of {total} validations are listed; every page is in"
        " validations/.</p>"
        if total > min(INDEX_ROWS, len(newest))
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Data quality: GX Data Docs</title>
<link rel="stylesheet" href="{STYLESHEET.as_posix()}"></head>
<body>
<h1>Data quality: GX Data Docs</h1>
<h2>Expectation suites ({len(suites)})</h2>
<ul id="suites">{suite_rows}</ul>
<h2>Validations ({len(newest)})</h2>
{more}<table id="validations">
<thead><tr><th>run time (UTC)</th><th>suite</th><th>batch</th><th>result</th><th>expectations met</th></tr></thead>
<tbody>{"".join(rows)}</tbody>
</table>
</body>
</html>
"""
