"""The portal's figures from the file an official downloads: a good listing is reconciled like the
export, a bad one is refused whole with the row and the reason, and nothing of it is stored."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from typer.testing import CliRunner

from hub.cli.main import app
from hub.store import HubStore
from hub.store.schema import portal_snapshot
from quality.reconcile import DifferenceClass, Period, reconcile
from quality.reconcile.portal_file import PortalFileError, read_portal_file
from tests.quality.reconcile.test_engine import (
    BEHIND,
    CIVIL_STATUS,
    DAY,
    IN_STEP,
    MINISTRY_ONLY,
    _store_with_differences,
)
from tests.quality.reconcile.test_portal_side import PORTAL_ONLY

HEADER = ["MaHoSo", "TrangThaiHoSo", "NgayNopHoSo", "MaDonVi"]
UNIT = "000.00.00.H26"
GOOD = [
    [BEHIND, "4", "20261120081500", UNIT],
    [IN_STEP, "10", "2026-11-20", UNIT],
    [MINISTRY_ONLY, "9", "20/11/2026 14:05", UNIT],
    [PORTAL_ONLY, "2", "20261120230000", UNIT],
]


def _csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    path.write_text("\ufeff" + "\n".join(delimiter.join(row) for row in rows) + "\n", encoding="utf-8")
    return path


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def _held(store: HubStore) -> list[str]:
    with store.db.engine.connect() as conn:
        return sorted(conn.execute(sa.select(portal_snapshot.c.dossier_no)).scalars())


# ----------------------------------------------------------------------------- reading


def test_a_csv_listing_is_read_with_the_portals_date_formats(tmp_path: Path) -> None:
    rows = read_portal_file(_csv(tmp_path / "hanoi.csv", [HEADER, *GOOD, ["", "", "", ""]]), DAY)

    assert [(r.dossier_no, r.status) for r in rows] == [
        (BEHIND, 4),
        (IN_STEP, 10),
        (MINISTRY_ONLY, 9),
        (PORTAL_ONLY, 2),
    ]
    assert {r.submitted.isoformat() for r in rows} == {"2026-11-20"}


def test_a_spreadsheet_and_a_semicolon_csv_read_the_same(tmp_path: Path) -> None:
    book = [[" mahoso ", "TRANGTHAIHOSO", "NgayNopHoSo"]] + [
        [no, float(status), datetime(2026, 11, 20, 9)] for no, status, _, _ in GOOD
    ]
    from_xlsx = read_portal_file(_xlsx(tmp_path / "hanoi.xlsx", book), DAY)
    from_csv = read_portal_file(_csv(tmp_path / "hanoi.csv", [HEADER, *GOOD], ";"), DAY)

    assert from_xlsx == from_csv


@pytest.mark.parametrize(
    ("rows", "row", "reason"),
    [
        ([["MaHoSo", "TrangThaiHoSo"], GOOD[0][:2]], 1, "missing column NgayNopHoSo"),
        ([["DonViXuLy", "SoLuong"], [UNIT, "12"]], 1, "a file of counts cannot be reconciled dossier by dossier"),
        ([HEADER, GOOD[0], [IN_STEP, "11", "20261120", UNIT]], 3, "TrangThaiHoSo must be a status code 1-10"),
        ([HEADER, GOOD[0], [IN_STEP, "4", "hôm qua", UNIT]], 3, "NgayNopHoSo 'hôm qua' is not a date"),
        ([HEADER, GOOD[0], [IN_STEP, "4", "20261121000000", UNIT]], 3, "outside the period 2026-11-20"),
        ([HEADER, GOOD[0], GOOD[1], GOOD[0]], 4, f"MaHoSo {BEHIND} is listed twice (also in row 2)"),
        ([HEADER, GOOD[0], ["000.00.12 H26-1", "4", "20261120", UNIT]], 3, "without spaces"),
        ([HEADER, GOOD[0], [IN_STEP, "4", "20261120", "000.00.01.H26"]], 3, "a listing is per unit"),
    ],
)
def test_a_malformed_file_is_refused_with_the_row_and_the_reason(
    tmp_path: Path, rows: list[list[str]], row: int, reason: str
) -> None:
    with pytest.raises(PortalFileError) as refused:
        read_portal_file(_csv(tmp_path / "portal.csv", rows), DAY)

    assert refused.value.row == row and reason in refused.value.reason
    assert str(refused.value).startswith(f"portal.csv, row {row}: ")


def test_a_file_that_is_not_a_listing_is_refused(tmp_path: Path) -> None:
    not_a_workbook = tmp_path / "portal.xlsx"
    not_a_workbook.write_text("MaHoSo,TrangThaiHoSo\n")
    with pytest.raises(PortalFileError, match="cannot be read as XLSX"):
        read_portal_file(not_a_workbook, DAY)
    with pytest.raises(PortalFileError, match=r"\.csv or \.xlsx, not \.pdf"):
        read_portal_file(tmp_path / "portal.pdf", DAY)


# ----------------------------------------------------------------------------- hub reconcile --portal-file


@pytest.fixture
def hub(store: HubStore, monkeypatch: pytest.MonkeyPatch) -> HubStore:
    monkeypatch.setenv("HUB_STORE_URL", store.db.url)
    return store


def test_hub_reconcile_with_a_good_file_compares_the_portals_figures_dossier_by_dossier(
    hub: HubStore, tmp_path: Path
) -> None:
    _store_with_differences(hub)
    listing = _xlsx(tmp_path / "portal-2026-11-20.xlsx", [HEADER, *GOOD])

    done = CliRunner().invoke(app, ["reconcile", "--period", "2026-11-20", "--portal-file", str(listing)])

    assert done.exit_code == 0, done.output
    assert "portal file for 2026-11-20: 4 dossiers held (portal-2026-11-20.xlsx, sha256 " in done.output
    result = reconcile(hub.db, Period.parse("2026-11-20"))
    assert result.dossiers(DifferenceClass.EXTRA_AT_PORTAL) == [MINISTRY_ONLY, PORTAL_ONLY]
    explained = result.to_dict()["portal_side"]["explained"]
    assert {r["source"]: r["dossiers"] for r in explained["by_ministry"]}[CIVIL_STATUS] == 1
    assert explained["portal_only"] == 1 and explained["holds"] and result.identity("portal").holds
    report = Path(os.environ["HUB_VAR_DIR"]) / "reports" / "2026-11-20" / "reconciliation.html"
    assert "Cổng DVCQG đang có 4 hồ sơ của kỳ = của Thành phố 6 + " in report.read_text(encoding="utf-8")


def test_hub_reconcile_refuses_a_malformed_file_and_keeps_the_last_snapshot(hub: HubStore, tmp_path: Path) -> None:
    runner = CliRunner()
    good = _csv(tmp_path / "good.csv", [HEADER, *GOOD])
    assert runner.invoke(app, ["reconcile", "--period", "2026-11-20", "--portal-file", str(good)]).exit_code == 0
    bad = _csv(tmp_path / "bad.csv", [HEADER, GOOD[0], [IN_STEP, "4", "20261119", UNIT]])

    refused = runner.invoke(app, ["reconcile", "--period", "2026-11-20", "--portal-file", str(bad)])

    assert refused.exit_code == 2
    assert "the portal file was not stored: bad.csv, row 3: NgayNopHoSo 2026-11-19 is outside" in " ".join(
        refused.output.split()
    )
    assert _held(hub) == sorted(row[0] for row in GOOD)
    both = runner.invoke(app, ["reconcile", "--period", "2026-11-20", "--portal-file", str(good), "--fetch-portal"])
    assert both.exit_code == 2 and "not both" in both.output
