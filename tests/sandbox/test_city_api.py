"""The city dossier system simulator over real sockets (docs/interfaces.md section 1)."""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.city_system.app import create_app
from sandbox.city_system.generator import generate
from sandbox.server import RunningServer, serve_in_thread

pytestmark = pytest.mark.timeout(180)

TOKEN = "test-token-3b9f"
VN = timezone(timedelta(hours=7))
DAY = date(2026, 11, 20)
FROM = "2026-11-20T00:00:00+07:00"
TO = "2026-11-21T00:00:00+07:00"
SCALE = 0.05
SEED = 11


@pytest.fixture
def city(tmp_path: Path) -> Iterator[RunningServer]:
    app = create_app(tmp_path / "city.sqlite", TOKEN)
    app.state.store.load_day(DAY, SCALE, SEED)
    with serve_in_thread(app) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        yield session


def list_all(http: requests.Session, url: str, limit: int, **window: str) -> tuple[list[dict[str, Any]], int]:
    params: dict[str, Any] = {"limit": limit, **window}
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        reply = http.get(f"{url}/api/v1/dossiers/changes", params=params, timeout=10)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert set(body) == {"items", "next_cursor"}
        items += body["items"]
        pages += 1
        if body["next_cursor"] is None:
            return items, pages
        params["cursor"] = body["next_cursor"]


def test_health_and_pagination_cover_every_record_exactly_once(city: RunningServer, http: requests.Session) -> None:
    assert http.get(f"{city.url}/api/v1/health", timeout=5).json() == {"status": "ok"}
    expected = generate(DAY, SCALE, SEED).records
    items, pages = list_all(http, city.url, 37, updated_from=FROM, updated_to=TO)
    assert len(items) == len(expected) and pages == -(-len(expected) // 37)
    assert Counter(r["id"] for r in items) == Counter(r["id"] for r in expected)
    keys = [(datetime.fromisoformat(r["cap_nhat_luc"]), r["id"]) for r in items]
    assert keys == sorted(keys)  # ordered by (cap_nhat_luc, id)
    assert {r["id"]: r for r in items} == {r["id"]: r for r in expected}  # served exactly as generated


def test_windows_are_half_open(city: RunningServer, http: requests.Session) -> None:
    everything, _ = list_all(http, city.url, 2000, updated_from=FROM, updated_to=TO)
    cut = sorted(r["cap_nhat_luc"] for r in everything)[len(everything) // 2]  # a value some record has
    before, _ = list_all(http, city.url, 500, updated_from=FROM, updated_to=cut)
    after, _ = list_all(http, city.url, 500, updated_from=cut, updated_to=TO)
    assert len(before) + len(after) == len(everything)
    assert all(r["cap_nhat_luc"] < cut for r in before) and any(r["cap_nhat_luc"] == cut for r in after)
    nothing, _ = list_all(http, city.url, 10, updated_from=TO, updated_to="2026-11-22T00:00:00+07:00")
    assert nothing == []


def test_a_listing_is_a_snapshot_even_when_records_change_while_paging(
    city: RunningServer, http: requests.Session
) -> None:
    params: dict[str, Any] = {"limit": 50, "updated_from": FROM, "updated_to": TO}
    first = http.get(f"{city.url}/api/v1/dossiers/changes", params=params, timeout=10).json()
    moved = http.post(f"{city.url}/sandbox/advance", json={"count": 10, "at": "2026-11-20T23:59:59+07:00"}, timeout=10)
    assert moved.json()["count"] == len(moved.json()["items"]) > 0
    seen = [r["id"] for r in first["items"]]
    params["cursor"] = first["next_cursor"]
    while params["cursor"]:
        page = http.get(f"{city.url}/api/v1/dossiers/changes", params=params, timeout=10).json()
        seen += [r["id"] for r in page["items"]]
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) == len(generate(DAY, SCALE, SEED).records)
    fresh, _ = list_all(http, city.url, 500, updated_from=FROM, updated_to=TO)  # a new listing sees the change
    changed = {r["ma_ho_so"]: r for r in fresh if r["ma_ho_so"] in set(moved.json()["items"])}
    assert len(changed) == moved.json()["count"]
    assert all(r["cap_nhat_luc"] == "2026-11-20T23:59:59+07:00" for r in changed.values())


def test_advance_appends_one_consistent_step(city: RunningServer, http: requests.Session) -> None:
    at = "2026-11-23T09:30:00+07:00"
    before = {r["ma_ho_so"]: r for r in list_all(http, city.url, 2000, updated_from=FROM, updated_to=TO)[0]}
    moved = http.post(f"{city.url}/sandbox/advance", json={"count": 1000, "at": at}, timeout=10).json()
    assert moved["count"] > 0
    later, _ = list_all(http, city.url, 2000, updated_from="2026-11-23T00:00:00+07:00")
    assert {r["ma_ho_so"] for r in later} == set(moved["items"])
    for record in later:
        old = before[record["ma_ho_so"]]
        assert len(record["qua_trinh_xu_ly"]) == len(old["qua_trinh_xu_ly"]) + 1
        step = record["qua_trinh_xu_ly"][-1]
        assert step["thoi_diem"] == at and record["trang_thai"] == step["trang_thai"]
        assert record["cap_nhat_luc"] == at
        if old["trang_thai"] == "MOI_NOP":
            assert record["ngay_tiep_nhan"] == at and record["ngay_hen_tra"] is not None
        if step["trang_thai"] == "DA_CO_KET_QUA":
            assert record["ngay_ket_thuc_xu_ly"] == at and record["ket_qua"]
    again = http.post(f"{city.url}/sandbox/advance", json={"count": 5, "at": "2026-11-20T00:00:01+07:00"}, timeout=10)
    assert again.json() == {"count": 0, "items": []}  # nothing was last changed before that moment


def test_defects_endpoint_lists_the_generated_defects(city: RunningServer, http: requests.Session) -> None:
    generated = generate(DAY, SCALE, SEED)
    by_id = {r["id"]: r for r in generated.records}
    expected = sorted((by_id[i]["ma_ho_so"], name) for i, name in generated.defects.items())
    items = http.get(f"{city.url}/sandbox/defects", timeout=5).json()["items"]
    assert sorted((item["ma_ho_so"], item["defect"]) for item in items) == expected
    assert all(set(item) == {"ma_ho_so", "defect"} for item in items)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}],
)
@pytest.mark.parametrize("path", ["/api/v1/dossiers/changes", "/api/v1/health", "/sandbox/defects"])
def test_missing_or_wrong_token_is_401(city: RunningServer, headers: dict[str, str], path: str) -> None:
    reply = requests.get(f"{city.url}{path}", headers=headers, timeout=5)
    assert reply.status_code == 401
    assert reply.json()["error"] == "unauthorized" and reply.json()["message"]
    assert TOKEN not in reply.text


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 2001},
        {"limit": 0},
        {"limit": "ten"},
        {"updated_from": "yesterday"},
        {"updated_to": "2026-13-01T00:00:00+07:00"},
        {"updated_from": TO, "updated_to": FROM},
        {"cursor": "not-a-cursor"},
        {"cursor": base64.urlsafe_b64encode(b'{"t": 1}').decode()},
    ],
)
def test_malformed_parameters_are_400(city: RunningServer, http: requests.Session, params: dict[str, Any]) -> None:
    reply = http.get(f"{city.url}/api/v1/dossiers/changes", params=params, timeout=5)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "bad_request" and reply.json()["message"]


def test_a_cursor_cannot_be_reused_with_another_window(city: RunningServer, http: requests.Session) -> None:
    page = http.get(
        f"{city.url}/api/v1/dossiers/changes", params={"limit": 5, "updated_from": FROM, "updated_to": TO}, timeout=5
    ).json()
    reply = http.get(
        f"{city.url}/api/v1/dossiers/changes",
        params={"limit": 5, "updated_from": FROM, "cursor": page["next_cursor"]},
        timeout=5,
    )
    assert reply.status_code == 400


def test_default_limit_is_500_and_naive_times_are_hanoi_time(city: RunningServer, http: requests.Session) -> None:
    page = http.get(f"{city.url}/api/v1/dossiers/changes", params={"updated_from": FROM}, timeout=5).json()
    assert len(page["items"]) == 500 and page["next_cursor"]
    naive = http.get(
        f"{city.url}/api/v1/dossiers/changes",
        params={"updated_from": "2026-11-20T00:00:00", "updated_to": "2026-11-21T00:00:00", "limit": 2000},
        timeout=5,
    ).json()
    aware, _ = list_all(http, city.url, 2000, updated_from=FROM, updated_to=TO)
    assert len(naive["items"]) == len(aware)


def test_advance_rejects_bad_bodies(city: RunningServer, http: requests.Session) -> None:
    for body in ({"count": -1, "at": FROM}, {"count": 1}, {"count": "2", "at": FROM}, {"count": 1, "at": "x"}):
        assert http.post(f"{city.url}/sandbox/advance", json=body, timeout=5).status_code == 400


def test_a_full_day_loads_in_bulk_quickly_and_only_once(tmp_path: Path) -> None:
    generated = generate(DAY, 1.0, 3)
    app = create_app(tmp_path / "big.sqlite", TOKEN)
    started = time.perf_counter()
    loaded = app.state.store.load(generated.records, generated.defects)
    elapsed = time.perf_counter() - started
    assert loaded == len(generated.records) > 10_000
    assert elapsed < 6.0, f"loading {loaded} records took {elapsed:.2f}s"  # ~1-2 s; slack for busy CI
    assert app.state.store.load(generated.records, generated.defects) == 0  # idempotent
    assert app.state.store.count() == loaded


def test_loading_more_days_and_refusing_a_colliding_generation(city: RunningServer, http: requests.Session) -> None:
    before = http.get(f"{city.url}/sandbox/summary", timeout=5).json()
    assert before["days"] == [{"day": DAY.isoformat(), "scale": SCALE, "seed": SEED, "records": before["records"]}]
    added = http.post(f"{city.url}/sandbox/load", json={"day": "2026-11-23", "scale": 0.01, "seed": 1}, timeout=30)
    assert added.status_code == 200 and added.json()["loaded"] > 0
    assert added.json()["total"] == before["records"] + added.json()["loaded"]
    same = http.post(f"{city.url}/sandbox/load", json={"day": "2026-11-23", "scale": 0.01, "seed": 1}, timeout=30)
    assert same.json()["loaded"] == 0  # idempotent
    clash = http.post(f"{city.url}/sandbox/load", json={"day": DAY.isoformat(), "scale": SCALE, "seed": 99}, timeout=30)
    assert clash.status_code == 409 and "fresh" in clash.json()["message"]
