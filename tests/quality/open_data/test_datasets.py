"""The month's open tables: the reconciliation's figures, small cells hidden, nothing personal."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from mappings.code_tables import load_code_tables
from quality.open_data.datasets import CITY_WIDE, TOTAL, build_month
from quality.open_data.publication import build_publication
from quality.open_data.suppression import SUPPRESSED
from quality.reconcile import Reconciliation
from tests.support.personal_data import leaks, personal_values

MODIFIED = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def _rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def test_the_tables_carry_the_reconciliations_figures(month: Reconciliation) -> None:
    datasets = build_month(month, load_code_tables())
    procedures, channels, on_time, indicators = datasets.tables
    city = sum(row.city for row in month.breakdown)
    (grand,) = [r for r in procedures.rows if r["ma_co_quan"] == CITY_WIDE]
    assert grand["ma_thu_tuc"] == TOTAL and grand["so_ho_so"] == city
    online = month.kpi("online")
    channel_city = channels.rows[-1]
    assert channel_city["ma_co_quan"] == CITY_WIDE
    assert (channel_city["truc_tuyen"], channel_city["tong_so_ho_so"]) == (online.numerator, online.denominator)
    resolved, city_row = month.kpi("on_time"), on_time.rows[-1]
    assert city_row["da_giai_quyet"] in (resolved.denominator, SUPPRESSED)
    if SUPPRESSED in (city_row["dung_han"], city_row["da_giai_quyet"]):  # the rate would give a hidden count back
        assert city_row["ty_le_dung_han"] == SUPPRESSED
    else:
        assert city_row["ty_le_dung_han"] == round(resolved.numerator / resolved.denominator, 4)
    assert {row["ma_chi_so"] for row in indicators.rows} == {k.key for k in month.kpis}
    # Every shown count of an agency is the engine's; a hidden one is 1 to 4 or protects one.
    for row in channels.rows[:-1]:
        numerator, denominator = online.by_agency[row["ma_co_quan"]]
        assert row["truc_tuyen"] in (numerator, SUPPRESSED) and row["tong_so_ho_so"] in (denominator, SUPPRESSED)


def test_small_cells_are_hidden_and_none_can_be_recovered_from_its_row(month: Reconciliation) -> None:
    datasets = build_month(month, load_code_tables())
    assert datasets.suppression.primary, "a month at this scale has agencies with 1 to 4 dossiers"
    procedures, channels, on_time, _ = datasets.tables
    for table, parts, total in (
        (channels, ("truc_tuyen", "truc_tiep_va_buu_chinh"), "tong_so_ho_so"),
        (on_time, ("dung_han", "tre_han"), "da_giai_quyet"),
    ):
        for row in table.rows:
            cells = [row[c] for c in (*parts, total)]
            assert cells.count(SUPPRESSED) != 1, f"{table.name} {row['ma_co_quan']}: one hidden count is recoverable"
            assert not any(isinstance(c, int) and 0 < c < 5 for c in cells)
            if SUPPRESSED in (row[parts[0]], row[total]) and "ty_le_dung_han" in row:
                assert row["ty_le_dung_han"] == SUPPRESSED
    agencies: dict[str, list[Any]] = {}
    for row in procedures.rows:
        agencies.setdefault(row["ma_co_quan"], []).append(row["so_ho_so"])
        assert not (isinstance(row["so_ho_so"], int) and 0 < row["so_ho_so"] < 5)
    assert all(cells.count(SUPPRESSED) != 1 for cells in agencies.values())


def test_no_published_file_holds_anything_personal(month: Reconciliation, city_records: list[dict[str, Any]]) -> None:
    publication = build_publication(
        build_month(month, load_code_tables()), owner_org="ubnd-thanh-pho-ha-noi", modified=MODIFIED
    )
    values = personal_values(city_records)
    assert len(values) > 100  # names, IDs, phones, e-mails, addresses, dossier numbers of the month
    assert [f.format for f in publication.files] == ["CSV"] * 4 + ["JSON", "JSON-LD"]
    for file in publication.files:
        assert leaks(file.content, values) == [], file.filename
    assert leaks(json.dumps(publication.package, ensure_ascii=False).encode(), values) == []


def test_the_dcat_description_names_what_the_portal_and_harvesters_read(month: Reconciliation) -> None:
    publication = build_publication(build_month(month, load_code_tables()), owner_org="org", modified=MODIFIED)
    package = publication.package
    assert package["name"] == "ho-so-tthc-ha-noi-2026-11"
    assert package["temporal_coverage"] == [{"start": "2026-11-01", "end": "2026-11-30"}]
    assert package["spatial_coverage"][0]["text"] == "Hà Nội"
    assert "<5" in package["notes"] and package["frequency"].endswith("/MONTHLY")
    dcat = json.loads(publication.files[-1].content)
    assert dcat["@type"] == "dcat:Dataset" and dcat["dct:identifier"] == package["name"]
    media = {d["dct:title"]: d["dcat:mediaType"].rsplit("/", 2)[-2:] for d in dcat["dcat:distribution"]}
    assert media["chi-so-766.csv"] == ["text", "csv"] and media["du-lieu.json"] == ["application", "json"]
    csv_rows = _rows(publication.files[0].content)
    shown_hidden = sum(f.content.count(b"<5") for f in publication.files[:4])
    assert publication.cells_suppressed == shown_hidden > 0
    assert csv_rows[-1]["ma_co_quan"] == CITY_WIDE and publication.rows == sum(
        len(_rows(f.content)) for f in publication.files[:4]
    )
