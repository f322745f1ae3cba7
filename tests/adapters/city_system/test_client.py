"""CitySystemClient against the live city simulator (sandbox/city_system) over loopback.

Requests are counted by a pass-through ASGI wrapper around the simulator, i.e. on the server side.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator

import adapters.city_system
from adapters.city_system.client import CitySystemClient
from adapters.errors import AuthenticationError, ContractViolation
from adapters.exchange import Exchange
from adapters.hooks import PartnerHook
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from sandbox.city_system.app import create_app
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning
from tests.adapters.test_transport import ScriptedServer, Step

pytestmark = pytest.mark.timeout(120)

TOKEN = "city-token-5d41402abc4b2a76"
VN = timezone(timedelta(hours=7))
DAY = date(2026, 11, 20)
DAY_START = datetime(2026, 11, 20, tzinfo=VN)
DAY_END = DAY_START + timedelta(days=1)
SCALE = 0.05  # about 550 dossiers: several pages, still quick
SPEC = yaml.safe_load((Path(adapters.city_system.__file__).parent / "openapi.yaml").read_text(encoding="utf-8"))


class CountingApp:
    """Pass-through ASGI wrapper that records (method, path) of every HTTP request the server got."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)

    def count(self, path: str) -> int:
        return sum(1 for _, p in self.requests if p == path)


@pytest.fixture
def city(
    tmp_path: Path, partner_signing: Callable[[str], PartnerSigning]
) -> Iterator[tuple[RunningServer, CountingApp]]:
    app = create_app(tmp_path / "city.db", TOKEN, signing=partner_signing("city_system"))
    app.state.store.load_day(DAY, SCALE, 7)
    counting = CountingApp(app)
    server = serve_in_thread(counting)
    yield server, counting
    server.stop()


def make_client(url: str, token: str = TOKEN, exchanges: list[Exchange] | None = None) -> CitySystemClient:
    settings = TransportSettings(base_url=url, backoff_initial=0.01, backoff_max=0.05, read_timeout=10)
    transport = HttpTransport("city_system", settings, on_exchange=exchanges.append if exchanges is not None else None)
    return CitySystemClient(transport, token)


def held_ids(server: RunningServer) -> int:
    reply = requests.get(f"{server.url}/sandbox/summary", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    return reply.json()["records"]


def test_paging_returns_every_record_exactly_once(city: tuple[RunningServer, CountingApp]) -> None:
    server, counting = city
    pages = list(make_client(server.url).iter_changes(DAY_START, DAY_END, page_size=100))
    ids = Counter(record["id"] for page in pages for record in page)
    total = held_ids(server)
    assert total > 300
    assert len(ids) == total and set(ids.values()) == {1}
    assert all(len(page) <= 100 for page in pages) and len(pages) == -(-total // 100)
    assert counting.count("/api/v1/dossiers/changes") == len(pages)  # no page fetched twice


def test_records_changing_while_paging_still_appear_once(city: tuple[RunningServer, CountingApp]) -> None:
    server, _ = city
    client = make_client(server.url)
    seen: Counter[int] = Counter()
    moved = 0
    for page in client.iter_changes(DAY_START, DAY_END, page_size=50):
        seen.update(record["id"] for record in page)
        if not moved:  # after the first page, move dossiers to a later position inside the window
            reply = requests.post(
                f"{server.url}/sandbox/advance",
                json={"count": 20, "at": "2026-11-20T23:59:00+07:00"},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            )
            moved = reply.json()["count"]
    assert moved > 0
    assert set(seen.values()) == {1} and len(seen) == held_ids(server)


def test_windows_are_half_open_so_adjacent_windows_neither_overlap_nor_miss(
    city: tuple[RunningServer, CountingApp],
) -> None:
    server, _ = city
    client = make_client(server.url)
    noon = DAY_START + timedelta(hours=12, minutes=7, seconds=13)
    morning = [r["id"] for page in client.iter_changes(DAY_START, noon) for r in page]
    afternoon = [r["id"] for page in client.iter_changes(noon, DAY_END) for r in page]
    assert morning and afternoon and not set(morning) & set(afternoon)
    assert len(morning) + len(afternoon) == held_ids(server)
    assert all(
        datetime.fromisoformat(r["cap_nhat_luc"]) < noon for page in client.iter_changes(DAY_START, noon) for r in page
    )


def test_records_are_handed_over_unmodified_and_match_the_contract(city: tuple[RunningServer, CountingApp]) -> None:
    server, _ = city
    exchanges: list[Exchange] = []
    records = [
        r for page in make_client(server.url, exchanges=exchanges).iter_changes(DAY_START, DAY_END) for r in page
    ]
    stored = {r["id"]: r for page in exchanges for r in json.loads(page.response_body or b"{}")["items"]}
    assert records == [stored[r["id"]] for r in records]  # exactly what came over the wire

    components = {"components": SPEC["components"]}
    page_schema = Draft202012Validator({"$ref": "#/components/schemas/ChangesPage", **components})
    record_schema = Draft202012Validator({"$ref": "#/components/schemas/CityRecord", **components})
    for exchange in exchanges:
        page_schema.validate({**json.loads(exchange.response_body or b"{}"), "items": []})
    defects = requests.get(
        f"{server.url}/sandbox/defects", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    ).json()["items"]
    defective = {item["ma_ho_so"] for item in defects}
    clean = [r for r in records if r["ma_ho_so"] not in defective]
    assert clean
    for record in clean:
        record_schema.validate(record)


def test_wrong_token_is_a_clear_permanent_error_without_the_token(
    city: tuple[RunningServer, CountingApp], caplog: pytest.LogCaptureFixture
) -> None:
    server, counting = city
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-token-0123456789"
    with pytest.raises(AuthenticationError) as caught:
        next(make_client(server.url, token=wrong).iter_changes(DAY_START, DAY_END))
    message = str(caught.value)
    assert message.startswith("city_system list_changes: HTTP 401 Unauthorized: ")
    assert "check the Airflow Connection" in message and caught.value.status == 401
    assert counting.count("/api/v1/dossiers/changes") == 1  # not retried
    for text in (message, caplog.text):
        assert wrong not in text and TOKEN not in text


def test_health_and_argument_checks(city: tuple[RunningServer, CountingApp]) -> None:
    server, counting = city
    client = make_client(server.url)
    client.health()
    assert counting.count("/api/v1/health") == 1
    with pytest.raises(ValueError, match="timezone-aware"):
        client.iter_changes(datetime(2026, 11, 20), DAY_END)
    with pytest.raises(ValueError, match="page_size"):
        client.iter_changes(DAY_START, DAY_END, page_size=2001)
    with pytest.raises(ValueError, match="after"):
        client.iter_changes(DAY_END, DAY_START)


def test_city_hook_builds_a_working_client_from_an_env_connection(
    city: tuple[RunningServer, CountingApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = city
    host = server.url.removeprefix("http://")
    monkeypatch.setenv("AIRFLOW_CONN_CITY_SYSTEM", f"http://hub:{TOKEN}@{host}?read_timeout=7&max_attempts=2")
    client = PartnerHook("city_system").get_client()
    assert client.transport.settings.read_timeout == 7.0 and client.transport.settings.max_attempts == 2
    assert sum(len(page) for page in client.iter_changes(DAY_START, DAY_END, page_size=2000)) == held_ids(server)
    assert PartnerHook("city_system").get_client() is client


@pytest.mark.parametrize(
    ("pages", "text"),
    [
        ([{"items": [{"id": 1}]}], "next_cursor: Field required"),
        ([{"items": {"id": 1}, "next_cursor": None}], "items: Input should be a valid list"),
        ([{"items": [1], "next_cursor": None}], "items.0: Input should be a valid dictionary"),
        ([{"items": [{"id": 1}], "next_cursor": "c1"}] * 2, "next_cursor repeated on page 2"),
    ],
)
def test_a_broken_envelope_is_a_contract_violation(pages: list[dict[str, Any]], text: str) -> None:
    server = ScriptedServer([Step(body=page) for page in pages])
    try:
        with pytest.raises(ContractViolation, match=text):
            list(make_client(server.url).iter_changes(DAY_START, DAY_END))
        assert server.count == len(pages)
    finally:
        server.stop()
