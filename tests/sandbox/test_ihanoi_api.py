"""The iHaNoi double refuses, in the contract's error shape, every body a client of the assumed
contract never sends, counts what it holds and refused, and leaves some citizens without an account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.ihanoi.app import create_app
from sandbox.server import RunningServer, serve_in_thread

KEY = "sandbox-ihanoi-key"
GOOD = {
    "idempotency_key": "sandbox-test-key-000001",
    "recipient_id": "001203004005",
    "dossier_no": "000.00.05.H26-261120-0009",
    "event_code": "DA_PHAT_KET_QUA",
    "event_time": "2026-11-22T11:00:00+07:00",
    "message": "Kết quả hồ sơ 000.00.05.H26-261120-0009 đã được phát đến bạn.",
    "deep_link": "ihanoi://dich-vu-cong/ho-so/000.00.05.H26-261120-0009",
}


@pytest.fixture
def ihanoi() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(KEY))
    yield server
    server.stop()


def push(server: RunningServer, body: Any, *, key: str | None = None, headers: dict[str, str] | None = None) -> Any:
    sent = {
        "X-Api-Key": KEY,
        "Idempotency-Key": key or (body.get("idempotency_key", "") if isinstance(body, dict) else ""),
    }
    return requests.post(f"{server.url}/api/v1/notifications", json=body, headers=sent | (headers or {}), timeout=5)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"recipient_id": None}, "MISSING_FIELD"),
        ({"ho_ten": "Nguyễn Văn A"}, "UNKNOWN_FIELD"),
        ({"recipient_id": "0912345678"}, "INVALID_RECIPIENT"),  # a phone number is no account reference
        ({"event_time": "2026-11-22T11:00:00"}, "INVALID_EVENT_TIME"),  # no offset
        ({"message": "x" * 201}, "MESSAGE_TOO_LONG"),
        ({"deep_link": "https://example.invalid/ho-so"}, "INVALID_DEEP_LINK"),
        ({"event_code": "DA_THANH_TOAN"}, "UNKNOWN_EVENT_CODE"),
    ],
)
def test_bodies_outside_the_contract_are_refused_with_their_rule(
    ihanoi: RunningServer, change: dict[str, Any], code: str
) -> None:
    body = {k: v for k, v in (GOOD | change).items() if v is not None}
    reply = push(ihanoi, body)
    assert (reply.status_code, reply.json()["error"]) == (400, code)
    assert requests.get(f"{ihanoi.url}/sandbox/stats", timeout=5).json()["held"]["notifications"] == 0


def test_the_idempotency_header_must_be_the_bodys_key(ihanoi: RunningServer) -> None:
    reply = push(ihanoi, GOOD, key="another-key-0000000001")
    assert (reply.status_code, reply.json()["error"]) == (400, "IDEMPOTENCY_KEY_MISMATCH")


def test_a_wrong_key_is_401_and_a_resend_is_held_once(ihanoi: RunningServer) -> None:
    assert push(ihanoi, GOOD, headers={"X-Api-Key": "nope"}).status_code == 401
    assert [push(ihanoi, GOOD).status_code for _ in range(3)] == [202, 200, 200]
    stats = requests.get(f"{ihanoi.url}/sandbox/stats", timeout=5).json()
    assert stats == {"held": {"notifications": 1}, "by_event": {"DA_PHAT_KET_QUA": 1}, "refused": 0, "duplicates": 2}
    assert requests.get(f"{ihanoi.url}/sandbox/notifications", timeout=5).json() == [GOOD]


def test_some_citizens_have_no_account_the_same_ones_every_run() -> None:
    numbers = [f"0012030{n:05d}" for n in range(200)]

    def refused() -> set[str]:
        with serve_in_thread(create_app(KEY, unregistered_share=0.1, seed=3)) as server:
            return {
                n
                for i, n in enumerate(numbers)
                if push(server, GOOD | {"recipient_id": n, "idempotency_key": f"sandbox-share-{i:06d}"}).status_code
                == 404
            }

    first = refused()
    assert 5 < len(first) < 40 and refused() == first
