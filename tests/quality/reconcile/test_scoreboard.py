"""The portal's scoreboard stored per period by the reconcile job (SQLite and PostgreSQL), not
refetched once stored, never failing the run when it is down, and set beside the hub's KPIs in
the report."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from adapters.portal_scoreboard.client import HANOI_ROOT, ScoreboardClient
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from hub.jobs import reconcile as jobs_reconcile
from hub.store import HubStore
from quality.reconcile.model import Period
from quality.reconcile.scoreboard import compare
from quality.report.scoreboard import scoreboard_view
from quality.report.view import fmt_share
from sandbox.portal_scoreboard.app import create_app
from sandbox.server import RunningServer, serve_in_thread

UNITS = [("000.00.01.H26", "Văn phòng"), ("000.00.02.H26", "Sở Nội vụ")]


@pytest.fixture(scope="module")
def board() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(UNITS, seed=3))
    yield server
    server.stop()


@pytest.fixture
def client(board: RunningServer) -> ScoreboardClient:
    requests.post(f"{board.url}/sandbox/faults", json={"fail_next": 0}, timeout=5)
    settings = TransportSettings(base_url=board.url, backoff_initial=0.01, backoff_max=0.02, max_attempts=2)
    return ScoreboardClient(HttpTransport("portal_scoreboard", settings), HANOI_ROOT, pause_s=0.0)


@pytest.fixture
def hub(store: HubStore, monkeypatch: pytest.MonkeyPatch) -> HubStore:
    monkeypatch.setenv("HUB_STORE_URL", store.db.url)
    return store


def test_a_day_is_read_against_its_month_a_quarter_against_itself() -> None:
    assert jobs_reconcile.scoreboard_period(Period.parse("2026-11-20")).label == "2026-11"
    assert jobs_reconcile.scoreboard_period(Period.parse("2026-Q4")).label == "2026-Q4"
    assert jobs_reconcile.scoreboard_period(Period.parse("2026")).body() == {"timeType": "year", "year": 2026}


def test_the_job_stores_the_period_once_and_refetches_only_when_asked(hub: HubStore, client: ScoreboardClient) -> None:
    fetched = jobs_reconcile.fetch_portal_scoreboard(client, "2026-Q4")
    assert fetched["available"] and not fetched["cached"]
    scores = {(s.department_code, s.indicator): s for s in hub.portal_scores.of_period("2026-Q4")}
    assert scores[("H26", "total")].score == 58.86
    assert scores[("H26", "TTTT")].score == 4.9 and scores[("H26", "TTTT")].max_score == 10
    assert {code for code, indicator in scores if indicator == "MDSH"} >= {"000.00.01.H26", "000.00.02.H26"}
    assert jobs_reconcile.fetch_portal_scoreboard(client, "2026-Q4")["cached"]
    again = jobs_reconcile.fetch_portal_scoreboard(client, "2026-Q4", refresh=True)
    assert not again["cached"] and again["figures"] == fetched["figures"]
    assert hub.portal_scores.of_period("2026-Q3") == []


def test_a_scoreboard_that_is_down_is_logged_and_the_run_goes_on(
    hub: HubStore, client: ScoreboardClient, board: RunningServer
) -> None:
    requests.post(f"{board.url}/sandbox/faults", json={"fail_next": 100}, timeout=5)
    result = jobs_reconcile.fetch_portal_scoreboard(client, "2026-11-20")
    assert result == {"period": "2026-11", "available": False, "reason": result["reason"]}
    assert "503" in result["reason"]
    part = jobs_reconcile.scoreboard_part(Period.parse("2026-11-20"), [])
    assert part["available"] is False
    view = scoreboard_view({"portal_scoreboard": part}, "en", fmt_share)
    assert view is not None and "the portal's scoreboard was not available" in view["lines"][0].lower()


KPIS = [
    {
        "key": "paid_online",
        "label_vi": "Tỷ lệ hồ sơ thanh toán trực tuyến",
        "label_en": "Share paid online",
        "value": 0.12,
    },
    {"key": "digitised", "label_vi": "Số hóa", "label_en": "Share digitised", "value": 0.40},
]


def test_the_report_sets_the_hubs_figures_beside_the_portals_and_flags_differences(
    hub: HubStore, client: ScoreboardClient
) -> None:
    jobs_reconcile.fetch_portal_scoreboard(client, "2026-Q4")
    part = jobs_reconcile.scoreboard_part(Period.parse("2026-Q4"), KPIS)
    rows = {row["kpi"]: row for row in part["indicators"]}
    assert part["available"] and part["total_score"] == 58.86
    assert rows["paid_online"]["portal"] == pytest.approx(0.49)
    assert rows["paid_online"]["status"] == "flagged" and "counter" in rows["paid_online"]["why_en"]
    assert rows["digitised"]["portal"] == pytest.approx(8.4 / 22)
    assert rows["digitised"]["status"] == "consistent"
    assert rows["on_time"]["status"] == "no_figure"
    vi = scoreboard_view({"portal_scoreboard": part}, "vi", fmt_share)
    en = scoreboard_view({"portal_scoreboard": part}, "en", fmt_share)
    assert vi and en
    paid_vi = next(r for r in vi["rows"] if r["group"] == "TTTT")
    paid_en = next(r for r in en["rows"] if r["group"] == "TTTT")
    assert paid_vi["label"] == "Tỷ lệ hồ sơ thanh toán trực tuyến" and paid_vi["status"] == "Lệch"
    assert paid_en["portal"].startswith("4.9/10") and paid_en["difference"] == "-37.0" and paid_en["flagged"]


def test_another_provinces_rows_are_not_taken_for_hanois() -> None:
    rows = [{"department_code": "H24", "department_name": "HP", "indicator": "TTTT", "score": 9.0, "max_score": 10.0}]
    assert not compare(KPIS, rows, scoreboard_period="2026-Q4", province_code="H26", fetched_at=None)["available"]
