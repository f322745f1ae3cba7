"""VBDLIS callbacks folded into the land pull-back (``hub/pipeline/ministry_callbacks.py``): the
land double calls the hub's receiver back over loopback, the hub pulls the same day from it, and
each dossier is staged once whichever came first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import requests

from adapters.ministry.callbacks import land_callbacks
from adapters.ministry.client import MinistryClient
from adapters.ministry.contract import contract_of
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.transport import HttpTransport
from hub.pipeline import ministry_exchange as exchange
from hub.pipeline.ministry_callbacks import fold_callbacks
from hub.store import HubStore, MinistryCallbacks
from hub.webhooks.app import create_app
from hub.webhooks.ministry import VBDLIS_PATH, land_callback_routes
from mappings.code_tables import load_code_tables
from quality.gate import QualityGate
from sandbox.server import RunningServer, serve_in_thread
from tests.support.ministry_sandboxes import TOKENS, start

pytestmark = pytest.mark.timeout(300)

DAY = date(2026, 11, 20)
WINDOW = f"{DAY}..{DAY}"
PARTNER, CODE = "land_registration", "vbdlis-callback-code-6d2f"
LAND = exchange.MINISTRIES[PARTNER]
TABLES = load_code_tables()


@pytest.fixture(scope="module")
def land(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serve_in_thread(start(PARTNER, tmp_path_factory.mktemp(PARTNER), None, DAY, DAY, 0.02, 7)) as server:
        yield server


@pytest.fixture
def receiver(store: HubStore) -> Iterator[RunningServer]:
    with serve_in_thread(create_app(store, {}, land_callback_routes(store, land_callbacks(CODE)))) as server:
        yield server


def _client(url: str) -> MinistryClient:
    transport = HttpTransport(PARTNER, TransportSettings(base_url=url, max_attempts=1), signatures=MessageSignatures())
    return MinistryClient(transport, contract_of(PARTNER), TOKENS[PARTNER])


def _pull(store: HubStore, land: RunningServer) -> exchange.PullReport:
    report = exchange.pull_window(store, _client(land.url), LAND, WINDOW, QualityGate(TABLES))
    assert report.complete
    return report


def _call_back(land: RunningServer, receiver: RunningServer) -> dict[str, int]:
    ask = {"url": f"{receiver.url}{VBDLIS_PATH}", "security_code": CODE, "from": str(DAY), "to": str(DAY)}
    return requests.post(f"{land.url}/sandbox/callbacks", json=ask, timeout=60).json()["sent"]


def _fold(store: HubStore) -> Any:
    fold = fold_callbacks(store, LAND, QualityGate(TABLES), TABLES)
    assert fold.holds
    return fold


def _post(receiver: RunningServer, operation: str, body: dict[str, Any]) -> None:
    reply = requests.post(f"{receiver.url}{VBDLIS_PATH}/{operation}/{CODE}", json=body, timeout=10)
    assert reply.json() == {"Result": 1, "Message": ""}


def test_callbacks_after_the_listing_change_nothing_and_count_nothing_twice(store, land, receiver) -> None:
    pulled = _pull(store, land)
    staged = store.staging.count(LAND.source)
    assert staged == pulled.staged_new > 0
    sent = _call_back(land, receiver)
    fold = _fold(store)
    assert sent["TiepNhanHoSoChoMotCua"] <= fold.dossiers <= pulled.listed
    assert (fold.staged_new, fold.waiting) == (0, 0)  # the callbacks say what the listing said
    assert store.staging.count(LAND.source) == staged
    assert MinistryCallbacks(store).unfolded(PARTNER) == {}
    assert _fold(store).dossiers == 0  # folded once


def test_callbacks_before_the_listing_are_kept_and_the_listing_completes_them(store, land, receiver) -> None:
    sent = _call_back(land, receiver)
    fold = _fold(store)
    # The public callback has no one-stop unit code: each dossier waits in quarantine under that
    # rule; an end without a reception (refused at intake) waits unfolded for the listing.
    assert fold.quarantined == sent["TiepNhanHoSoChoMotCua"] and fold.staged_new == 0
    assert set(store.quarantine.counts_by_rule(LAND.source)) == {"agency.known_on_date"}
    pulled = _pull(store, land)
    assert store.staging.count(LAND.source) == pulled.staged_new == pulled.listed
    assert store.quarantine.counts_by_rule(LAND.source) == {}
    assert _fold(store).dossiers == fold.waiting  # the waiting ends now find their dossier


def test_an_end_reported_before_its_dossier_waits_then_changes_the_listed_one(store, land, receiver) -> None:
    """VBDLIS reports a resolved dossier returned after all (a later end): once listed, the dossier
    gets a new version with the callback's end and an unresolved status -- still one dossier."""
    listed = next(_client(land.url).iter_window(DAY, DAY))
    number = next(r["MaHoSo"] for r in listed if r["TrangThaiHoSo"] in ("9", "10"))
    _post(
        receiver,
        "KetThucHoSo",
        {"SoBienNhan": number, "NgayKetThuc": "2026-12-29T15:30:00", "MaCanBoXuLy": "vpdk.xuly",
         "TrangThaiKetThuc": 1, "GhiChu": None, "DanhSachGiayToKetQua": []},
    )  # fmt: skip
    assert _fold(store).waiting == 1
    _pull(store, land)
    staged = store.staging.count(LAND.source)
    fold = _fold(store)
    assert (fold.dossiers, fold.staged_new) == (1, 1)
    assert store.staging.count(LAND.source) == staged  # a new version of the same dossier
    ended = MinistryCallbacks(store).staged_payloads(LAND.source, [number])[number]
    assert (ended["NgayKetThucXuLy"], ended["TrangThaiHoSo"]) == ("20261229153000", "7")
