"""VBDLIS callbacks on the hub's receiver over loopback: the golden callbacks, the land double
calling back, repeats stored once, and refusals that store nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests

from adapters.ministry.callbacks import land_callbacks
from hub.store import HubStore, MinistryCallbacks
from hub.webhooks.app import create_app
from hub.webhooks.ministry import VBDLIS_PATH, land_callback_routes
from sandbox.server import RunningServer, serve_in_thread
from tests.support.ministry_sandboxes import start

GOLDEN = Path(__file__).parents[2] / "adapters" / "land_registration" / "golden" / "callbacks"
CODE = "vbdlis-callback-code-6d2f"
DAY = date(2026, 11, 20)
PARTNER = "land_registration"


@pytest.fixture
def receiver(store: HubStore) -> Iterator[RunningServer]:
    with serve_in_thread(create_app(store, {}, land_callback_routes(store, land_callbacks(CODE)))) as server:
        yield server


@pytest.fixture(scope="module")
def land(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serve_in_thread(start(PARTNER, tmp_path_factory.mktemp(PARTNER), None, DAY, DAY, 0.02, 7)) as server:
        yield server


def _post(server: RunningServer, operation: str, body: bytes, code: str = CODE) -> requests.Response:
    url = f"{server.url}{VBDLIS_PATH}/{operation}/{code}"
    return requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)


def test_golden_callbacks_get_the_golden_replies_and_a_repeat_is_stored_once(receiver, store) -> None:
    kept = MinistryCallbacks(store)
    accepted = 0
    for path in sorted(GOLDEN.glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        body = json.dumps(case["request"], ensure_ascii=False).encode()
        for _ in range(2):  # VBDLIS retries what it did not see answered
            reply = _post(receiver, case["operation"], body, case.get("security_code", CODE))
            assert (reply.status_code, reply.json()) == (case.get("status", 200), case["reply"]), path.name
        accepted += "status" not in case
    assert kept.count(PARTNER) == accepted == 2
    assert set(kept.unfolded(PARTNER)) == {"426112000003", "426112100007"}


def test_refused_callbacks_store_nothing_and_never_answer_500(receiver, store) -> None:
    ended = json.loads((GOLDEN / "02-ketthuchoso.json").read_text(encoding="utf-8"))["request"]
    replies = [
        _post(receiver, "KetThucHoSo", json.dumps(ended).encode(), code="guessed"),
        _post(receiver, "GuiKetQuaThue", json.dumps(ended).encode()),
        _post(receiver, "KetThucHoSo", b"\xff\xfe not json"),
        _post(receiver, "KetThucHoSo", json.dumps({**ended, "NgayKetThuc": None}).encode()),
        _post(receiver, "KetThucHoSo", b"[" * 100_000),
        _post(receiver, "KetThucHoSo", b" " * (300 * 1024)),
    ]
    assert [r.status_code for r in replies] == [401, 404, 400, 400, 400, 413]
    assert all(r.json()["Result"] == 0 and r.json()["Message"] for r in replies)
    assert MinistryCallbacks(store).count(PARTNER) == 0


def test_the_land_double_calls_back_every_dossier_and_its_end_and_a_resend_adds_nothing(receiver, land, store) -> None:
    ask = {"url": f"{receiver.url}{VBDLIS_PATH}", "security_code": CODE, "from": str(DAY), "to": str(DAY)}
    sent = requests.post(f"{land.url}/sandbox/callbacks", json=ask, timeout=60).json()["sent"]
    held = requests.get(f"{land.url}/sandbox/export/dossiers", params={"from": DAY, "to": DAY}, timeout=10).json()
    assert 0 < sent["TiepNhanHoSoChoMotCua"] <= len(held["items"])
    assert 0 < sent["KetThucHoSo"] <= len(held["items"])
    assert sent["accepted"] == sent["TiepNhanHoSoChoMotCua"] + sent["KetThucHoSo"]
    kept = MinistryCallbacks(store)
    assert kept.count(PARTNER) == sent["accepted"]
    again = requests.post(f"{land.url}/sandbox/callbacks", json=ask, timeout=60).json()["sent"]
    assert again["accepted"] == sent["accepted"] and kept.count(PARTNER) == sent["accepted"]
    wrong = requests.post(f"{land.url}/sandbox/callbacks", json={**ask, "security_code": "x"}, timeout=60).json()
    assert wrong["sent"]["refused_401"] == sent["accepted"]
