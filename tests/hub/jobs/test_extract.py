"""Extract's memory does not grow with its window: pages go to the store, exchanges to the log, as
they come (issue 17: the message log's recorder used to hold every city page body to the end)."""

from __future__ import annotations

import tracemalloc
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.city_system.client import CitySystemClient
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from hub.jobs.common import recorded
from hub.pipeline.extract import extract_city_dossiers
from hub.store import hub_store
from sandbox.city_system.app import create_app as city_app
from sandbox.server import serve_in_thread

FIRST = date(2026, 11, 16)  # a Monday: three working days follow
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
TOKEN = "memory-city-token"
PAGE = 100


def _peak_while_extracting(
    client: CitySystemClient, days: int, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, int]:
    """(records, peak bytes Python allocated) of one extraction of ``days`` days into a fresh store,
    inside the job's ``recorded`` block as the DAG task runs it."""
    monkeypatch.setenv("HUB_STORE_URL", f"sqlite:///{folder / f'hub-{days}.db'}")
    store = hub_store()
    start = datetime.combine(FIRST, datetime.min.time(), tzinfo=HANOI)
    tracemalloc.start()
    try:
        with recorded(client, None):
            result = extract_city_dossiers(client, store, start, start + timedelta(days=days), page_size=PAGE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result.records, peak


def test_extract_memory_stays_flat_when_the_window_triples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = city_app(tmp_path / "city.sqlite", TOKEN)
    for offset in range(3):
        app.state.store.load_day(FIRST + timedelta(days=offset), 0.04, 3)
    with serve_in_thread(app) as server:
        client = CitySystemClient(HttpTransport("city_system", TransportSettings(base_url=server.url)), TOKEN)
        (tmp_path / "warm").mkdir()
        _peak_while_extracting(client, 1, tmp_path / "warm", monkeypatch)  # one-off costs (code tables, imports)
        one_day, one_day_peak = _peak_while_extracting(client, 1, tmp_path, monkeypatch)
        three_days, three_days_peak = _peak_while_extracting(client, 3, tmp_path, monkeypatch)
    assert one_day > 3 * PAGE and three_days > 2.5 * one_day  # several pages, then three times as many
    # Flat: what a page costs, not what the window holds (the old recorder kept every page's body).
    assert three_days_peak < 1.3 * one_day_peak, (one_day_peak, three_days_peak)
