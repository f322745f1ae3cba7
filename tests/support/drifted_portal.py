"""A sandbox portal whose catalogue has drifted from the city's code tables the way a real portal's
does: a procedure withdrawn from integration, an agency renamed."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mappings.code_tables import DEFAULT_DIR, load_code_tables
from sandbox.national_portal.app import create_app
from sandbox.server import RunningServer, serve_in_thread

AGENCY = "000.00.00.H26"
USERNAME = "hub"
PASSWORD = "pw-catalogue-3d1f"
WITHDRAWN = "1.001193"  # Đăng ký khai sinh: integrated per the city's tables, no longer per the portal's
RENAMED = "000.00.01"


def _rewrite(path: Path, change: Callable[[dict[str, str]], None]) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        change(row)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _withdraw(row: dict[str, str]) -> None:
    if row["code"] == WITHDRAWN:
        row["integrated_on_portal"] = "false"


def _rename(row: dict[str, str]) -> None:
    if row["code"] == RENAMED:
        row["name"] = "Văn phòng UBND Thành phố Hà Nội"


@pytest.fixture
def drifted_portal(tmp_path: Path) -> Iterator[RunningServer]:
    tables = tmp_path / "portal_tables"
    shutil.copytree(DEFAULT_DIR, tables)
    _rewrite(tables / "procedures.csv", _withdraw)
    _rewrite(tables / "agencies.csv", _rename)
    app = create_app(tmp_path / "portal.db", USERNAME, PASSWORD, [AGENCY], code_tables=load_code_tables(tables))
    server = serve_in_thread(app)
    yield server
    server.stop()
