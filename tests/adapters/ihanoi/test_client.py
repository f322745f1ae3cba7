"""The iHaNoi client against its sandbox double over loopback, and the golden messages
(``golden/``: the assumed contract of docs/interfaces.md, "iHaNoi notifications", written by hand) held against the
hub's own requests, the double and the client alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

import adapters.errors
from adapters.errors import PermanentError
from adapters.ihanoi.client import PARTNER, IHaNoiClient, from_connection, probe
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from hub.pipeline.citizen_notifications import notification_key
from mappings.ihanoi import DossierEvent, EventCode, notification
from sandbox.ihanoi.app import create_app
from sandbox.server import RunningServer, serve_in_thread

API_KEY = "golden-ihanoi-api-key"
GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.json"))
FAST = {"backoff_initial": 0.01, "backoff_max": 0.02, "max_attempts": 2, "read_timeout": 5.0}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def ihanoi() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(API_KEY))
    yield server
    server.stop()


def client(server: RunningServer, api_key: str = API_KEY) -> IHaNoiClient:
    return IHaNoiClient(HttpTransport(PARTNER, TransportSettings(base_url=server.url, **FAST)), api_key)


def _post(server: RunningServer, golden: dict[str, Any]) -> requests.Response:
    request = golden["request"]
    headers = {"Idempotency-Key": request["idempotency_key"]}
    if golden.get("api_key", API_KEY):
        headers["X-Api-Key"] = API_KEY
    return requests.post(f"{server.url}/api/v1/notifications", json=request, headers=headers, timeout=5)


@pytest.mark.parametrize("path", [p for p in GOLDEN if "event" in load(p)], ids=lambda p: p.stem)
def test_the_hub_builds_the_golden_request_from_its_event(path: Path) -> None:
    golden = load(path)
    event, request = golden["event"], golden["request"]
    built = DossierEvent(event["dossier_no"], EventCode(event["code"]), datetime.fromisoformat(event["at"]))
    key = notification_key(built)
    assert notification(key, request["recipient_id"], built) == request


@pytest.mark.parametrize("path", [p for p in GOLDEN if load(p)["operation"] == "notify"], ids=lambda p: p.stem)
def test_the_double_answers_the_golden_request_as_the_golden_reply(ihanoi: RunningServer, path: Path) -> None:
    golden = load(path)
    if golden.get("send_first"):
        assert _post(ihanoi, golden).status_code == 202
    reply = _post(ihanoi, golden)
    assert reply.status_code == golden["status"]
    if golden["status"] >= 400:
        assert reply.json() == golden["reply"]
    else:
        assert set(reply.json()) == set(golden["reply"])
        assert {k: reply.json()[k] for k in ("status", "idempotency_key")} == {
            k: golden["reply"][k] for k in ("status", "idempotency_key")
        }


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_the_client_reads_the_golden_reply(ihanoi: RunningServer, path: Path) -> None:
    golden = load(path)
    hub = client(ihanoi, golden.get("api_key") or ("not-the-key" if "api_key" in golden else API_KEY))
    if golden["operation"] == "event_codes":
        assert hub.event_codes() == golden["reply"]["event_codes"]
        return
    if golden.get("send_first"):
        hub.notify(golden["request"])
    expected = golden["expect"]
    if expected in ("accepted", "duplicate"):
        reply = hub.notify(golden["request"])
        assert (reply.status, reply.idempotency_key) == (expected, golden["request"]["idempotency_key"])
        return
    with pytest.raises(getattr(adapters.errors, expected)) as caught:
        hub.notify(golden["request"])
    assert caught.value.status == golden["status"]
    assert golden["reply"]["error"] in str(caught.value) or expected == "AuthenticationError"


def test_what_the_app_holds_is_read_back_by_key_and_an_unknown_key_is_permanent(ihanoi: RunningServer) -> None:
    golden = load(GOLDEN[0])
    hub = client(ihanoi)
    accepted = hub.notify(golden["request"])
    held = hub.held(golden["request"]["idempotency_key"])
    assert (held.notification_id, held.event_code) == (accepted.notification_id, "DA_CO_KET_QUA")
    with pytest.raises(PermanentError) as caught:
        hub.held("no-such-key-0000000000")
    assert caught.value.status == 404


def test_a_key_reused_for_another_body_is_refused(ihanoi: RunningServer) -> None:
    request = load(GOLDEN[0])["request"]
    hub = client(ihanoi)
    hub.notify(request)
    with pytest.raises(PermanentError, match="IDEMPOTENCY_KEY_REUSED") as caught:
        hub.notify({**request, "message": "Hồ sơ đã có kết quả."})
    assert caught.value.status == 409


def test_the_connection_gives_the_key_and_the_probe_names_no_one(ihanoi: RunningServer) -> None:
    transport = HttpTransport(PARTNER, TransportSettings(base_url=ihanoi.url, **FAST))
    assert probe(from_connection(transport, "", API_KEY, {})) == "accepts 6 event codes"
    with pytest.raises(ValueError, match="API key"):
        from_connection(transport, "", "", {})


def test_the_api_key_never_appears_in_an_error(ihanoi: RunningServer) -> None:
    requests.post(f"{ihanoi.url}/sandbox/faults", json={"fail_next": 5}, timeout=5)
    with pytest.raises(adapters.errors.RetryableError) as caught:
        client(ihanoi).notify(load(GOLDEN[0])["request"])
    assert API_KEY not in str(caught.value)
