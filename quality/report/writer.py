"""Write a reconciliation document out as the files officials read.

Every file is produced in memory first and written only once all of them exist, so a failure
(a bad document, a signing key that will not load) never leaves a new HTML beside last run's PDF.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from quality.report.charts import bar_chart, trend_chart
from quality.report.labels import check_language, class_text, detail_text, source_name
from quality.report.pdf import render_pdf, sign_pdf
from quality.report.view import ReportDocumentError, ReportView, build_view, check_document, fmt_int
from signing.keys import SigningIdentity

HTML_NAME = "reconciliation.html"
CSV_NAME = "differences.csv"
JSON_NAME = "reconciliation.json"
PDF_NAME = "reconciliation.pdf"

# ``counted_as``: empty on the row of the class a dossier is counted in; on a flag row (another class
# the same dossier shows) the class it is counted in, so the rows with it empty add up to the verdict.
CSV_HEADER = ("dossier_no", "kind", "kind_label", "counted_as", "source", "agency", "detail")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_templates = Environment(
    loader=PackageLoader("quality.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class ReportFiles:
    """Where the report's files are; ``pdf`` is None when no signer was given (no unsigned PDF exists)."""

    html: Path
    csv: Path
    json: Path
    pdf: Path | None


def write_reconciliation_report(
    document: dict[str, Any], folder: Path, *, signer: SigningIdentity | None, language: str = "vi"
) -> ReportFiles:
    """Write the HTML, CSV, JSON and -- with a ``signer`` -- the signed PDF of ``document`` into ``folder``.

    ``signer=None`` writes no PDF (and removes one a previous run left in ``folder``, which would
    no longer match): an official PDF is always signed, so there is never an unsigned one to file.
    """
    check_language(language)
    check_document(document)
    folder = Path(folder)
    view = build_view(document, language, data_docs_href=data_docs_href(document.get("data_docs")))
    view.charts = _charts(document, view)
    view.files = {"csv": CSV_NAME, "json": JSON_NAME, "pdf": PDF_NAME if signer else ""}
    html = _templates.get_template("reconciliation.html.j2").render(v=view)
    contents = {
        HTML_NAME: html.encode("utf-8"),
        CSV_NAME: differences_csv(document["differences"], language),
        JSON_NAME: (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
    }
    if signer is not None:
        reason = f"{view.t['title']} – {view.period_title}"
        contents[PDF_NAME] = sign_pdf(render_pdf(html, folder.resolve()), signer, reason=reason)

    folder.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    if signer is None:
        (folder / PDF_NAME).unlink(missing_ok=True)
    return ReportFiles(
        html=folder / HTML_NAME,
        csv=folder / CSV_NAME,
        json=folder / JSON_NAME,
        pdf=folder / PDF_NAME if signer is not None else None,
    )


def differences_csv(differences: list[Mapping[str, Any]], language: str) -> bytes:
    """Every difference, one row each, UTF-8 with a BOM so Excel shows Vietnamese as written.

    A cell that Excel would read as a formula (``=``, ``+``, ``-``, ``@``) gets a leading ``'``:
    the document's fields are data, and a spreadsheet must never execute them.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for d in differences:
        kind, label = d["kind"], class_text(d["kind"], language).name
        detail = detail_text(d.get("detail") or "", language)
        row = (d["dossier_no"], kind, label, d.get("counted_as", ""), d["source"], d["agency"], detail)
        writer.writerow([_inert(str(cell)) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")


def _inert(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def data_docs_href(value: object) -> str | None:
    """A link to GX Data Docs: an http(s) or file URL as given, a relative path as a relative link
    (from the report's folder, so it still works when ``var/`` is copied or served), an absolute
    path as a file URL; nothing else."""
    if value is None:
        return None
    text = str(value)
    scheme = urlsplit(text).scheme.lower()
    if scheme in ("http", "https", "file"):
        return text
    if scheme == "":
        path = PurePosixPath(Path(text).as_posix())
        return Path(text).as_uri() if path.is_absolute() else quote(str(path))
    raise ReportDocumentError(f"data_docs must be an http(s) URL or a path, not a {scheme}: link")


def _charts(document: Mapping[str, Any], view: ReportView) -> dict[str, Markup]:
    """The SVGs are matplotlib's output over escaped text, so they may go into the page unescaped."""

    def fmt(n: int) -> str:
        return fmt_int(n, view.language)

    charts = {
        "classes": "",
        "trend": "",
        "sources": bar_chart(
            "sources", [(source_name(s["source"], view.language), s["dossiers"]) for s in document["sources"]], fmt
        ),
    }
    if view.classes:
        charts["classes"] = bar_chart("classes", [(c.name, c.count) for c in view.classes], fmt, alert=True)
    trend = document.get("trend") or []
    if trend:
        labels = {k["key"]: k["label"] for k in view.kpis}
        keys = list(dict.fromkeys(key for row in trend for key in row if key != "day"))
        charts["trend"] = trend_chart("trend", trend, [(key, labels.get(key, key)) for key in keys])
    return {name: Markup(svg) for name, svg in charts.items()}
