"""``hub open-data publish``: a month published on demand says what it published; bad input a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from hub.cli.main import app
from hub.pipeline.extract import staged_record
from hub.store import HubStore
from mappings.sources import CITY_SOURCE
from sandbox.city_data_portal.app import create_app
from sandbox.city_system.generator import generate
from sandbox.server import RunningServer, serve_in_thread
from signing.pki import DevPki
from tests.quality.open_data.conftest import DAY, SCALE, SEED

TOKEN = "cli-token-90"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.fixture
def portal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dev_pki: DevPki) -> Iterator[RunningServer]:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = HubStore(url)
    store.create_schema()
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in generate(DAY, SCALE, SEED).records], "b1")
    # One SQLite engine per process, as in a task: the reconciliation's ADBC reader must be the only
    # other copy of SQLite with the file open (quality/reconcile/load.py).
    store.db.engine.dispose()
    monkeypatch.setenv("HUB_STORE_URL", url)
    with serve_in_thread(create_app(TOKEN, "ubnd-thanh-pho-ha-noi")) as server:
        monkeypatch.setenv("AIRFLOW_CONN_CITY_DATA_PORTAL", f"http://:{TOKEN}@127.0.0.1:{server.port}")
        yield server


def test_a_month_is_published_then_patched_and_the_output_says_so(portal: RunningServer) -> None:
    code, first = run("open-data", "publish", "--month", "2026-11")
    assert code == 0, first
    assert "package ho-so-tthc-ha-noi-2026-11 created" in first and "chi-so-766.csv: created" in first
    code, second = run("open-data", "publish", "--month", "2026-11")
    assert code == 0, second
    assert "package ho-so-tthc-ha-noi-2026-11 patched" in second and "dcat.jsonld: patched" in second
    assert requests.get(f"{portal.url}/sandbox/stats", timeout=5).json()["held"]["resources"] == 6


@pytest.mark.parametrize("month", ["2026-Q4", "2026-11-20", "november"])
def test_anything_but_a_month_is_refused_before_any_call(portal: RunningServer, month: str) -> None:
    code, output = run("open-data", "publish", "--month", month)
    assert code == 2 and "--month" in output
    assert requests.get(f"{portal.url}/sandbox/stats", timeout=5).json()["calls"] == {}


def test_a_refused_token_is_a_clear_error(portal: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CITY_DATA_PORTAL", f"http://:wrong-token@127.0.0.1:{portal.port}")
    code, output = run("open-data", "publish", "--month", "2026-11")
    assert code == 1 and "error: the city data portal refused or did not answer" in output
    assert "credentials refused" in output and "wrong-token" not in output
