"""The month's open datasets, from a month's :class:`~quality.reconcile.model.Reconciliation`.

Nothing here counts dossiers: the figures are the reconciliation engine's (its breakdown by agency
and procedure, its Decision 766 KPIs per agency and city-wide), so the open data and the month's
report cannot disagree. This module only picks the figures that may be published, names them for
the public, and hides small cells (:mod:`quality.open_data.suppression`). What it publishes holds
no dossier number, no applicant and no officer: agency and procedure codes are public catalogue
codes, and every number is a count of dossiers or a share.

Four tables:

- ``ho-so-theo-co-quan-thu-tuc``: dossiers the city system received, by agency and procedure
  (the reconciliation's breakdown, city column), with each agency's and the city's total;
- ``ho-so-theo-kenh``: dossiers by agency and channel (online or not: the ``online`` KPI's counts);
- ``ty-le-dung-han``: resolved dossiers on time and late, and the on-time share, by agency (the
  ``on_time`` KPI's counts);
- ``chi-so-766``: every Decision 766 KPI city-wide and by agency (numerator, denominator, share).

A count published in two tables (an agency's dossiers: the channel table's total and several KPIs'
denominator) is one count for suppression: counts are keyed by the vector of values they take over
every agency, so equal quantities are hidden together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from mappings.code_tables import CodeTables
from quality.open_data.suppression import Suppression, suppress
from quality.reconcile.model import Kpi, Reconciliation, share

CITY_WIDE = "TOAN_THANH"  # the row of the whole city (every agency)
TOTAL = "TONG_CONG"  # an agency's total over its procedures
ONLINE_KPI, ON_TIME_KPI = "online", "on_time"


@dataclass(frozen=True)
class Table:
    """One published table: a machine name (its CSV file's stem), a title and its rows."""

    name: str
    title_vi: str
    title_en: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class MonthDatasets:
    """What the month publishes, and how many counts were hidden (by rule)."""

    month: str
    tables: tuple[Table, ...]
    suppression: Suppression
    counts: int


class _Counts:
    """Every publishable count under one key, and the lines (sums) they take part in."""

    def __init__(self) -> None:
        self.values: dict[Hashable, int] = {}
        self.lines: list[tuple[Hashable, ...]] = []
        self._families: dict[tuple[Any, ...], int] = {}

    def vector(self, by_agency: dict[str | None, int]) -> dict[str | None, Hashable]:
        """Keys for a quantity known city-wide (``None``) and per agency; equal vectors, equal keys."""
        signature = tuple(sorted(by_agency.items(), key=lambda item: (item[0] is not None, item[0] or "")))
        family = self._families.setdefault(signature, len(self._families))
        keys: dict[str | None, Hashable] = {}
        for agency, value in by_agency.items():
            keys[agency] = (family, agency)
            self.values[(family, agency)] = value
        agencies = [keys[a] for a in by_agency if a is not None]
        self.lines.append((*agencies, keys[None]))  # the agencies add up to the city
        return keys


def _kpi_vectors(kpi: Kpi) -> tuple[dict[str | None, int], dict[str | None, int], dict[str | None, int]]:
    """Numerator, the rest (denominator - numerator) and denominator, city-wide and by agency."""
    numerator: dict[str | None, int] = {None: kpi.numerator}
    denominator: dict[str | None, int] = {None: kpi.denominator}
    for agency, (n, d) in sorted(kpi.by_agency.items()):
        numerator[agency], denominator[agency] = n, d
    rest = {agency: denominator[agency] - numerator[agency] for agency in denominator}
    return numerator, rest, denominator


def build_month(result: Reconciliation, tables: CodeTables) -> MonthDatasets:
    """The month's tables from its reconciliation; ``tables`` names agencies and procedures."""
    if result.period.kind != "month":
        raise ValueError(f"open data is published by month, not for {result.period.label}")
    on = result.period.last

    def agency_name(code: str | None) -> str:
        row = tables.agencies.get(code, on) if code else None
        return row.name if row is not None else ("Toàn thành phố" if code is None else "")

    def procedure_name(code: str) -> str:
        row = tables.procedures.get(code, on)
        return row.name if row is not None else ""

    counts = _Counts()
    # Dossiers received by agency and procedure (the city's column of the breakdown, over statuses).
    received: dict[tuple[str, str], int] = defaultdict(int)
    for row in result.breakdown:
        if row.city:
            received[(row.agency, row.procedure)] += row.city
    by_agency: dict[str | None, int] = defaultdict(int)
    for (agency, _), n in received.items():
        by_agency[agency] += n
    by_agency[None] = sum(received.values())
    totals = counts.vector(dict(by_agency))
    cells: dict[tuple[str, str], Hashable] = {}
    for (agency, procedure), n in received.items():
        cells[(agency, procedure)] = ("city", agency, procedure)
        counts.values[cells[(agency, procedure)]] = n
    for agency in {a for a, _ in received}:
        counts.lines.append((*(k for (a, _), k in cells.items() if a == agency), totals[agency]))

    kpi_keys: dict[str, tuple[dict[str | None, Hashable], ...]] = {}
    for kpi in result.kpis:
        numerator, rest, denominator = (counts.vector(v) for v in _kpi_vectors(kpi))
        for agency in denominator:
            counts.lines.append((numerator[agency], rest[agency], denominator[agency]))
        kpi_keys[kpi.key] = (numerator, rest, denominator)
    hidden = suppress(counts.values, counts.lines)

    def shown(key: Hashable) -> int | str:
        return hidden.shown(key, counts.values[key])

    def agency_cells(agency: str | None) -> dict[str, str]:
        return {"ma_co_quan": agency or CITY_WIDE, "ten_co_quan": agency_name(agency)}

    procedures = Table(
        "ho-so-theo-co-quan-thu-tuc",
        "Hồ sơ tiếp nhận theo cơ quan và thủ tục hành chính",
        "Dossiers received by agency and administrative procedure",
        ("ma_co_quan", "ten_co_quan", "ma_thu_tuc", "ten_thu_tuc", "so_ho_so"),
    )
    for agency in sorted({a for a, _ in received}):
        for (a, procedure), key in sorted(cells.items()):
            if a == agency:
                procedures.rows.append(
                    agency_cells(agency)
                    | {"ma_thu_tuc": procedure, "ten_thu_tuc": procedure_name(procedure), "so_ho_so": shown(key)}
                )
        procedures.rows.append(
            agency_cells(agency) | {"ma_thu_tuc": TOTAL, "ten_thu_tuc": "Tổng cộng", "so_ho_so": shown(totals[agency])}
        )
    procedures.rows.append(
        agency_cells(None) | {"ma_thu_tuc": TOTAL, "ten_thu_tuc": "Tổng cộng", "so_ho_so": shown(totals[None])}
    )

    def by_agency_rows(kpi_key: str, columns: tuple[str, str, str], rate: str | None) -> list[dict[str, Any]]:
        numerator, rest, denominator = kpi_keys[kpi_key]
        kpi = result.kpi(kpi_key)
        rows = []
        for agency in [*sorted(a for a in denominator if a is not None), None]:
            value = kpi.value if agency is None else share(*kpi.by_agency[agency])
            row = agency_cells(agency) | {
                columns[0]: shown(numerator[agency]),
                columns[1]: shown(rest[agency]),
                columns[2]: shown(denominator[agency]),
            }
            if rate is not None:
                row[rate] = hidden.rate(numerator[agency], denominator[agency], value)
            rows.append(row)
        return rows

    channel_columns = ("truc_tuyen", "truc_tiep_va_buu_chinh", "tong_so_ho_so")
    channels = Table(
        "ho-so-theo-kenh",
        "Hồ sơ theo cơ quan và kênh tiếp nhận",
        "Dossiers by agency and channel",
        ("ma_co_quan", "ten_co_quan", *channel_columns),
        by_agency_rows(ONLINE_KPI, channel_columns, None),
    )
    on_time_columns = ("dung_han", "tre_han", "da_giai_quyet")
    on_time = Table(
        "ty-le-dung-han",
        "Tỷ lệ hồ sơ giải quyết đúng hạn theo cơ quan",
        "Share of dossiers resolved on time, by agency",
        ("ma_co_quan", "ten_co_quan", *on_time_columns, "ty_le_dung_han"),
        by_agency_rows(ON_TIME_KPI, on_time_columns, "ty_le_dung_han"),
    )
    indicators = Table(
        "chi-so-766",
        "Chỉ số đánh giá theo Quyết định 766/QĐ-TTg",
        "Decision 766 indicators",
        ("ma_chi_so", "ten_chi_so", "ma_co_quan", "ten_co_quan", "tu_so", "mau_so", "ty_le", "cong_thuc"),
    )
    for kpi in result.kpis:
        for row in by_agency_rows(kpi.key, ("tu_so", "_rest", "mau_so"), "ty_le"):
            del row["_rest"]
            indicators.rows.append({"ma_chi_so": kpi.key, "ten_chi_so": kpi.label_vi, **row, "cong_thuc": kpi.formula})
    return MonthDatasets(result.period.label, (procedures, channels, on_time, indicators), hidden, len(counts.values))
