"""The scoreboard client against its sandbox double over loopback: 201 replies, politeness
(403/429 backed off and retried), paging and the per-period cache."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from adapters.errors import RetryableError
from adapters.portal_scoreboard.client import HANOI_ROOT, ScoreboardClient, ScorePeriod, from_connection
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from sandbox.portal_scoreboard.app import create_app
from sandbox.server import RunningServer, serve_in_thread

UNITS = [(f"000.00.{n:02d}.H26", f"Sở {n}") for n in range(1, 8)]
Q4 = ScorePeriod("quarter", 2026, 4)
FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "max_attempts": 4, "read_timeout": 5.0}


@pytest.fixture(scope="module")
def board() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(UNITS, seed=7))
    yield server
    server.stop()


@pytest.fixture
def scoreboard(board: RunningServer) -> Iterator[RunningServer]:
    requests.post(f"{board.url}/sandbox/rate-limit", json={"min_interval_s": 0.0, "status": 429}, timeout=5)
    requests.post(f"{board.url}/sandbox/faults", json={"fail_next": 0}, timeout=5)
    yield board


def client(server: RunningServer, settings: dict[str, float] | None = None, **options: object) -> ScoreboardClient:
    transport = HttpTransport(
        "portal_scoreboard", TransportSettings(base_url=server.url, **{**FAST, **(settings or {})})
    )
    return ScoreboardClient(transport, HANOI_ROOT, pause_s=0.0, **options)  # type: ignore[arg-type]


def calls(server: RunningServer) -> dict[str, int]:
    return requests.get(f"{server.url}/sandbox/stats", timeout=5).json()["calls"]


def test_service_results_answers_201_with_hanoi_as_the_seeds_score_it(scoreboard: RunningServer) -> None:
    rows = client(scoreboard).service_results(Q4)
    hanoi = next(r for r in rows if r.department_code == "H26")
    assert hanoi.department_id == HANOI_ROOT and hanoi.total_score == 58.86
    assert hanoi.group_scores["TTTT"] == 4.9 and hanoi.group_scores["MDSH"] == 8.4


def test_pages_are_walked_until_a_short_one(scoreboard: RunningServer) -> None:
    before = calls(scoreboard).get("formality-online-payment-tree", 0)
    nodes = client(scoreboard, page_size=3).tree("formality-online-payment-tree", Q4)
    assert [n.department_code for n in nodes] == [code for code, _ in UNITS]
    assert calls(scoreboard)["formality-online-payment-tree"] - before == 3  # 3 + 3 + 1
    assert all(n.max_score == 10 and 0 <= (n.score or 0) <= 10 for n in nodes)


def test_a_period_is_fetched_once_unless_asked_again(scoreboard: RunningServer) -> None:
    reader = client(scoreboard)
    before = calls(scoreboard).get("service-results", 0)
    first = reader.service_results(Q4)
    assert reader.service_results(Q4) == first
    assert calls(scoreboard)["service-results"] - before == 1
    reader.service_results(Q4, refresh=True)
    reader.service_results(ScorePeriod("month", 2026, 11))
    assert calls(scoreboard)["service-results"] - before == 3


@pytest.mark.parametrize("status", [429, 403])
def test_rate_limiting_is_backed_off_and_retried(scoreboard: RunningServer, status: int) -> None:
    requests.post(f"{scoreboard.url}/sandbox/rate-limit", json={"min_interval_s": 0.2, "status": status}, timeout=5)
    reader = client(scoreboard, {"backoff_initial": 0.1, "backoff_max": 0.4, "max_attempts": 8})
    reader.tree("dossier-digitized", Q4)
    before = calls(scoreboard).get("rate_limited", 0)
    nodes = reader.tree("dossier-digitized", Q4, refresh=True)  # too soon: refused, then served
    assert len(nodes) == len(UNITS)
    assert calls(scoreboard)["rate_limited"] > before


def test_a_scoreboard_that_stays_down_is_a_retryable_error(scoreboard: RunningServer) -> None:
    requests.post(f"{scoreboard.url}/sandbox/faults", json={"fail_next": 100}, timeout=5)
    with pytest.raises(RetryableError, match="503"):
        client(scoreboard).service_results(ScorePeriod("year", 2026))


def test_the_polite_pause_separates_calls(scoreboard: RunningServer) -> None:
    requests.post(f"{scoreboard.url}/sandbox/rate-limit", json={"min_interval_s": 0.15}, timeout=5)
    reader = client(scoreboard, page_size=2)
    reader.pause_s = 0.2
    time.sleep(0.2)
    before = calls(scoreboard).get("rate_limited", 0)
    reader.tree("formality-online-payment-tree", ScorePeriod("year", 2026))
    assert calls(scoreboard).get("rate_limited", 0) == before


def test_a_connection_without_credentials_builds_it() -> None:
    transport = HttpTransport("portal_scoreboard", TransportSettings(base_url="http://127.0.0.1:9"))
    built = from_connection(transport, "", "", {"pause_s": "0.5"})
    assert built.root_department_id == HANOI_ROOT and built.pause_s == 0.5
