"""The reconciliation document, turned into what the page shows: words, formatted figures, rows.

The template stays free of logic (it loops and prints), so everything a reader relies on --
which classes exist, the verdict sentence, formulas with figures substituted, number formats --
is decided here and tested as data. The view reads only the document (a report can be re-rendered
from a saved JSON years later); the code tables only give public names to agency, procedure and
status codes, as valid on the period's last day.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from mappings.code_tables import load_code_tables
from quality.report.labels import CLASS_ORDER, class_text, identity_name, source_name, term_name, texts
from quality.report.ministries import ministries_view
from quality.report.portal_figure import portal_figure
from quality.report.scoreboard import scoreboard_view

SCHEMA = "hub.reconciliation/2"
REQUIRED = ("period", "generated_at", "verdict", "sources", "identities", "counts", "differences")

DIFFERENCES_PER_CLASS = 50
"""Rows per class in the page and the PDF; the CSV always holds every difference."""

PAGE_ROWS = 100
"""Rows of each per-agency table in the page: a year touches hundreds of agencies and thousands of
(agency, procedure, status) cells, which the JSON holds and a PDF should not print."""

_ROMAN_QUARTERS = {"1": "I", "2": "II", "3": "III", "4": "IV"}
_TERM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ReportDocumentError(ValueError):
    """The document is not a reconciliation document this renderer can read."""


def check_document(document: Mapping[str, Any]) -> None:
    schema = document.get("schema")
    if schema != SCHEMA:
        raise ReportDocumentError(f"reconciliation document has schema {schema!r}; this renderer reads {SCHEMA!r}")
    missing = [key for key in REQUIRED if key not in document]
    if missing:
        raise ReportDocumentError(f"reconciliation document lacks {', '.join(missing)}")


# --- numbers and dates ------------------------------------------------------------------------------


def fmt_int(value: int, language: str) -> str:
    """1234567 -> ``1.234.567`` (vi) or ``1,234,567`` (en)."""
    text = f"{value:,}"
    return text.replace(",", ".") if language == "vi" else text


def fmt_share(value: float | None, language: str) -> str:
    """A fraction (0..1) as a percentage with one decimal; ``None`` (denominator 0) as n/a."""
    if value is None:
        return texts(language)["not_applicable"]
    text = f"{value * 100:.1f}"
    return (text.replace(".", ",") if language == "vi" else text) + " %"


def fmt_moment(iso: str, language: str) -> str:
    moment = datetime.fromisoformat(iso)
    offset = moment.strftime("%z")
    zone = f" (UTC{offset[:3]}:{offset[3:]})" if offset else ""
    shown = moment.strftime("%d/%m/%Y %H:%M") if language == "vi" else moment.strftime("%Y-%m-%d %H:%M")
    return shown + zone


def fmt_day(iso: str, language: str) -> str:
    day = date.fromisoformat(iso)
    return day.strftime("%d/%m/%Y") if language == "vi" else day.isoformat()


def period_title(period: Mapping[str, Any], language: str) -> str:
    """``Quý IV/2026``, ``Tháng 11/2026``, ``Ngày 20/11/2026`` -- how Vietnamese reports name periods."""
    t = texts(language)
    kind, label = period.get("kind", "range"), str(period.get("label", ""))
    first, last = period["first"], period["last"]
    if kind == "day":
        return f"{t['day']} {fmt_day(first, language)}"
    if kind == "month" and language == "vi":
        return f"{t['month']} {label[5:7]}/{label[:4]}"
    if kind == "quarter" and language == "vi":
        return f"{t['quarter']} {_ROMAN_QUARTERS.get(label[-1], label[-1])}/{label[:4]}"
    if kind in ("month", "quarter", "year"):
        return f"{t[kind]} {label}"
    return f"{t['range_from']} {fmt_day(first, language)} {t['range_to']} {fmt_day(last, language)}"


# --- the page's parts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    reconciled: bool
    headline: str
    lines: list[str]


@dataclass(frozen=True)
class ClassRow:
    kind: str
    name: str
    count: int
    shown_count: str
    meaning: str
    action: str


@dataclass(frozen=True)
class DifferenceGroup:
    kind: str
    name: str
    total: int
    rows: list[Mapping[str, Any]]
    more: str | None


@dataclass
class ReportView:
    """Everything the template prints; charts and file names are added by the writer."""

    language: str
    t: dict[str, str]
    period_title: str
    period_label: str
    generated_at: str
    verdict: Verdict
    identities: list[dict[str, Any]]
    portal_figure: list[str]
    sources: list[dict[str, str]]
    classes: list[ClassRow]
    absent_classes: list[str]
    kpis: list[dict[str, Any]]
    kpi_agencies: list[dict[str, Any]]
    kpi_agencies_note: str | None
    scoreboard: dict[str, Any] | None
    ministries: dict[str, Any] | None
    agency_classes: list[str]
    agencies: list[dict[str, Any]]
    agencies_note: str | None
    breakdown: list[dict[str, Any]]
    breakdown_note: str | None
    difference_groups: list[DifferenceGroup]
    differences_total: int
    differences_note: str
    data_docs: str | None
    charts: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


def ordered_classes(counts: Mapping[str, int]) -> list[str]:
    """The document's classes in the report's order; unknown ones after, by name (never dropped)."""
    return [k for k in CLASS_ORDER if k in counts] + sorted(k for k in counts if k not in CLASS_ORDER)


def build_view(document: Mapping[str, Any], language: str, *, data_docs_href: str | None) -> ReportView:
    check_document(document)
    t = texts(language)
    period = document["period"]
    on = date.fromisoformat(period["last"])
    counts: dict[str, int] = dict(document["counts"])
    kinds = ordered_classes(counts)
    differences = document["differences"]
    return ReportView(
        language=language,
        t=t,
        period_title=period_title(period, language),
        period_label=str(period.get("label") or f"{period['first']}..{period['last']}"),
        generated_at=fmt_moment(document["generated_at"], language),
        verdict=_verdict(document, language),
        identities=[_identity(i, language) for i in document["identities"]],
        portal_figure=portal_figure(document, language, fmt_int),
        sources=[
            {"name": source_name(s["source"], language), "dossiers": fmt_int(s["dossiers"], language)}
            for s in document["sources"]
        ],
        classes=[_class_row(k, counts[k], language) for k in kinds],
        absent_classes=[class_text(k, language).name for k in CLASS_ORDER if k not in counts],
        kpis=[_kpi(k, language) for k in document.get("kpis", [])],
        **_kpi_agencies(document.get("kpis", []), language, on),
        scoreboard=scoreboard_view(document, language, fmt_share),
        ministries=ministries_view(document, language, fmt_int),
        agency_classes=[class_text(k, language).name for k in kinds],
        **_agencies(document.get("by_agency", {}), kinds, language, on),
        **_breakdown(document.get("breakdown", []), language, on),
        difference_groups=_difference_groups(differences, kinds, language),
        differences_total=len(differences),
        differences_note=t["differences_shown"].format(
            limit=fmt_int(DIFFERENCES_PER_CLASS, language), total=fmt_int(len(differences), language)
        ),
        data_docs=data_docs_href,
    )


def _verdict(document: Mapping[str, Any], language: str) -> Verdict:
    t = texts(language)
    verdict = document["verdict"]
    differing = int(verdict["differing_dossiers"])
    lines = []
    if differing:
        lines.append(
            t["verdict_differing_one" if differing == 1 else "verdict_differing"].format(n=fmt_int(differing, language))
        )
        if verdict.get("largest_class"):
            name = class_text(verdict["largest_class"], language).name
            lines.append(f"{t['verdict_largest']}: {name} ({fmt_int(int(verdict['largest_class_count']), language)}).")
    else:
        lines.append(t["verdict_none"])
    failed = sum(1 for i in document["identities"] if not i["holds"])
    if failed:
        lines.append(
            t["verdict_identities_failed_one" if failed == 1 else "verdict_identities_failed"].format(n=failed)
        )
    else:
        lines.append(t["verdict_identities_ok"])
    headline = t["reconciled"] if verdict["reconciled"] else t["not_reconciled"]
    return Verdict(bool(verdict["reconciled"]), headline, lines)


def _identity(identity: Mapping[str, Any], language: str) -> dict[str, Any]:
    """The formula as written, its equation with figures, and each term named in words."""
    terms: Mapping[str, int] = identity.get("terms", {})
    formula = identity["formula"]
    # Figures go into the equation only, not into the definitions that may follow it
    # ("total = on_time + late + in_process, where total = received - closed_unresolved; ...").
    equation = re.split(r"[,;]", formula, maxsplit=1)[0]
    with_figures = _TERM.sub(lambda m: fmt_int(terms[m[0]], language) if m[0] in terms else m[0], equation)
    left, right = int(identity["left"]), int(identity["right"])
    return {
        "name": identity_name(identity["key"], language),
        "formula": formula,
        "with_figures": with_figures,
        "holds": bool(identity["holds"]),
        "gap": None if identity["holds"] else fmt_int(left - right, language),
        "terms": [{"key": k, "name": term_name(k, language), "value": fmt_int(v, language)} for k, v in terms.items()],
    }


def _class_row(kind: str, count: int, language: str) -> ClassRow:
    text = class_text(kind, language)
    return ClassRow(kind, text.name, count, fmt_int(count, language), text.meaning, text.action)


def _kpi(kpi: Mapping[str, Any], language: str) -> dict[str, Any]:
    return {
        "key": kpi["key"],
        "label": kpi.get(f"label_{language}") or kpi["key"],
        "formula": kpi["formula"],
        "value": fmt_share(kpi.get("value"), language),
        "numerator": fmt_int(kpi["numerator"], language),
        "denominator": fmt_int(kpi["denominator"], language),
    }


def agency_name(code: str, on: date) -> str:
    row = load_code_tables().agencies.get(code, on)
    return row.name if row else ""


def _first_rows(rows: list[Any], language: str, order: str) -> tuple[list[Any], str | None]:
    """At most :data:`PAGE_ROWS` rows, and the sentence that says so when some were left out."""
    if len(rows) <= PAGE_ROWS:
        return rows, None
    t = texts(language)
    note = t["rows_shown"].format(
        shown=fmt_int(PAGE_ROWS, language), total=fmt_int(len(rows), language), order=t[order]
    )
    return rows[:PAGE_ROWS], note


def _kpi_agencies(kpis: list[Mapping[str, Any]], language: str, on: date) -> dict[str, Any]:
    """One row per agency, one cell per KPI: ``value (numerator/denominator)``."""
    codes, note = _first_rows(sorted({a for k in kpis for a in k.get("by_agency", {})}), language, "order_codes")
    rows = []
    for code in codes:
        cells = []
        for kpi in kpis:
            part = kpi.get("by_agency", {}).get(code)
            cells.append(
                {
                    "value": fmt_share(part.get("value"), language),
                    "ratio": f"{fmt_int(part['numerator'], language)}/{fmt_int(part['denominator'], language)}",
                }
                if part
                else None
            )
        rows.append({"code": code, "name": agency_name(code, on), "cells": cells})
    return {"kpi_agencies": rows, "kpi_agencies_note": note}


def _agencies(by_agency: Mapping[str, Mapping[str, int]], kinds: list[str], language: str, on: date) -> dict[str, Any]:
    """Agencies with most differences first, so the page opens on where to look."""
    totals = sorted(
        ((sum(int(n) for n in c.values()), code) for code, c in by_agency.items()), key=lambda x: (-x[0], x[1])
    )
    shown, note = _first_rows(totals, language, "order_agencies")
    rows = [
        {
            "code": code,
            "name": agency_name(code, on),
            "cells": [fmt_int(int(by_agency[code].get(k, 0)), language) for k in kinds],
            "total": fmt_int(total, language),
        }
        for total, code in shown
    ]
    return {"agencies": rows, "agencies_note": note}


def _gap(row: Mapping[str, Any]) -> int:
    return abs(int(row.get("city", 0)) + int(row.get("ministry", 0)) - int(row.get("portal", 0)))


def _breakdown(rows: list[Mapping[str, Any]], language: str, on: date) -> dict[str, Any]:
    """Rows where the sources disagree most first; the code tables name agency, procedure and status."""
    ordered = sorted(
        rows,
        key=lambda r: (
            -_gap(r),
            -int(r.get("city", 0)),
            r["agency"],
            r["procedure"],
            r["status"] is None,
            r["status"] or 0,
        ),
    )
    shown, note = _first_rows(ordered, language, "order_gap")
    tables = load_code_tables()
    out = []
    for row in shown:
        status = row["status"]
        status_row = tables.statuses.get(str(status), on) if status is not None else None
        procedure = tables.procedures.get(row["procedure"], on)
        out.append(
            {
                "agency": row["agency"],
                "agency_name": agency_name(row["agency"], on),
                "procedure": row["procedure"],
                "procedure_name": procedure.name if procedure else "",
                "status": texts(language)["no_status"] if status is None else str(status),
                "status_name": getattr(status_row, f"name_{language}") if status_row else "",
                "city": fmt_int(int(row.get("city", 0)), language),
                "portal": fmt_int(int(row.get("portal", 0)), language),
                "ministry": fmt_int(int(row.get("ministry", 0)), language),
            }
        )
    return {"breakdown": out, "breakdown_note": note}


def _difference_groups(differences: list[Mapping[str, Any]], kinds: list[str], language: str) -> list[DifferenceGroup]:
    """The first :data:`DIFFERENCES_PER_CLASS` rows of each class, in the document's order."""
    by_kind: dict[str, list[Mapping[str, Any]]] = {}
    for row in differences:
        by_kind.setdefault(row["kind"], []).append(row)
    order = kinds + sorted(k for k in by_kind if k not in kinds)
    groups = []
    for kind in order:
        rows = by_kind.get(kind, [])
        if not rows:
            continue
        more = len(rows) - DIFFERENCES_PER_CLASS
        groups.append(
            DifferenceGroup(
                kind=kind,
                name=class_text(kind, language).name,
                total=len(rows),
                rows=[
                    {**r, "detail": r.get("detail") or "", "source_name": source_name(r["source"], language)}
                    for r in rows[:DIFFERENCES_PER_CLASS]
                ],
                more=texts(language)["differences_more"].format(more=fmt_int(more, language)) if more > 0 else None,
            )
        )
    return groups
