"""`hub analytics` as an analyst types it: export a reconciled day, count it back by agency and status
with DuckDB against the hub's own count, query it in SQL, and clear errors before anything is written."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.store import HubStore
from tests.hub.analytics.conftest import DAY, city_records, ministry_records, stage_day  # noqa: F401


def hub(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture
def day_in_store(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    city_records: list[dict[str, Any]],  # noqa: F811
    ministry_records: list[dict[str, Any]],  # noqa: F811
) -> Path:
    """A store holding DAY, reconciled, and the warehouse configured under the test's folder."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = HubStore(url)
    store.create_schema()
    stage_day(store, city_records, ministry_records)
    store.db.engine.dispose()
    root = tmp_path / "warehouse"
    monkeypatch.setenv("HUB_STORE_URL", url)
    monkeypatch.delenv("HUB_WAREHOUSE_REFRESH_DAYS", raising=False)
    monkeypatch.setenv("PYICEBERG_CATALOG__HUB__TYPE", "sql")
    monkeypatch.setenv("PYICEBERG_CATALOG__HUB__URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    monkeypatch.setenv("PYICEBERG_CATALOG__HUB__WAREHOUSE", root.as_uri())
    assert hub("reconcile", "--period", DAY.isoformat()).exit_code == 0
    return root


def test_export_then_counts_agree_with_the_hub(day_in_store: Path, city_records: list[dict[str, Any]]) -> None:  # noqa: F811
    total = len(city_records) + 3
    exported = hub("analytics", "export", "--day", DAY.isoformat())
    assert exported.exit_code == 0, exported.output
    assert f"2026-10-21..{DAY}: {total:,} facts written to sql catalog 'hub'" in exported.output  # 30 days refreshed
    assert f"warehouse: {total:,} facts = hub {total:,}" in exported.output
    again = hub("analytics", "export", "--day", DAY.isoformat(), "--refresh-days", "0")  # replaced, not doubled
    assert f"{DAY}: {total:,} facts written" in again.output

    counted = hub("analytics", "counts", "--day", DAY.isoformat())
    assert counted.exit_code == 0, counted.output
    assert f"{total:,} dossiers in the warehouse for {DAY}" in counted.output
    assert f"warehouse: {total:,} facts = hub {total:,}" in counted.output
    agency, n = Counter(r["don_vi_xu_ly"] for r in city_records).most_common(1)[0]
    assert agency in counted.output
    month = hub("analytics", "counts", "--month", f"{DAY:%Y-%m}")
    assert f"{total:,} dossiers in the warehouse for {DAY:%Y-%m}" in month.output

    queried = hub("analytics", "query", f"SELECT count(*) AS n FROM dossier_facts WHERE agency = '{agency}'")
    assert queried.exit_code == 0, queried.output
    assert f"│ {n} " in queried.output or f"│ {n:,} " in queried.output


def test_bad_input_is_refused_with_a_reason(day_in_store: Path) -> None:
    never_written = hub("analytics", "counts", "--day", DAY.isoformat())
    assert never_written.exit_code == 1 and "hub analytics export --day" in never_written.output
    assert hub("analytics", "export", "--day", "20-11-2026").exit_code == 2
    assert hub("analytics", "export", "--day", DAY.isoformat(), "--refresh-days", "-1").exit_code == 2
    assert hub("analytics", "counts").exit_code == 2
    assert hub("analytics", "counts", "--month", "November").exit_code == 2
    assert hub("analytics", "export", "--day", DAY.isoformat()).exit_code == 0
    wrong = hub("analytics", "query", "SELECT nothing FROM dossier_facts")
    assert wrong.exit_code == 2 and "nothing" in wrong.output
