"""Which events a citizen is told about, to whom, and in which words (mappings.ihanoi)."""

from __future__ import annotations

from datetime import datetime

import pytest

from mappings.dossier import VN_TZ
from mappings.ihanoi import (
    DEEP_LINK,
    FIELDS,
    MAX_MESSAGE_CHARS,
    MESSAGES,
    DossierEvent,
    EventCode,
    dossier_events,
    notification,
    parcel_events,
    recipient_of,
)

NO = "000.00.12.H26-261120-0042"
T1 = datetime(2026, 11, 20, 8, 15, tzinfo=VN_TZ)
T2 = datetime(2026, 11, 24, 16, 0, tzinfo=VN_TZ)


def codes(events: list[DossierEvent]) -> list[str]:
    return [e.code.value for e in events]


@pytest.mark.parametrize(
    ("status", "finished", "expected"),
    [
        (1, None, []),  # newly submitted: not received yet
        (3, None, []),  # refused at intake
        (2, None, ["HO_SO_DA_TIEP_NHAN"]),
        (4, None, ["HO_SO_DA_TIEP_NHAN"]),
        (5, None, ["HO_SO_DA_TIEP_NHAN", "YEU_CAU_BO_SUNG"]),
        (9, T2, ["HO_SO_DA_TIEP_NHAN", "DA_CO_KET_QUA"]),
        (10, T2, ["HO_SO_DA_TIEP_NHAN", "DA_CO_KET_QUA"]),
        (9, None, ["HO_SO_DA_TIEP_NHAN"]),  # no end date: no result event rather than a guessed time
        (None, None, []),  # a status the producer could not map
    ],
)
def test_dossier_events_follow_the_status(status: int | None, finished: datetime | None, expected: list[str]) -> None:
    assert codes(dossier_events(NO, status, T1, finished, T2)) == expected


def test_each_event_carries_the_moment_it_happened() -> None:
    received, supplement = dossier_events(NO, 5, T1, None, T2)
    assert (received.occurred_at, supplement.occurred_at) == (T1, T2)
    (_, ready) = dossier_events(NO, 10, T1, T2, None)
    assert ready.occurred_at == T2


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("created", []),
        ("cancelled", []),
        ("picked_up", ["DA_GIAO_BUU_CHINH"]),
        ("failed_attempt", ["DA_GIAO_BUU_CHINH"]),
        ("delivered", ["DA_GIAO_BUU_CHINH", "DA_PHAT_KET_QUA"]),
        ("returned", ["DA_GIAO_BUU_CHINH", "DA_CHUYEN_HOAN"]),
    ],
)
def test_parcel_events_follow_the_delivery_state(state: str, expected: list[str]) -> None:
    assert codes(parcel_events(NO, state, T2, T1)) == expected


def test_recipient_is_a_citizens_twelve_digit_number_in_either_record_shape() -> None:
    assert recipient_of({"chu_ho_so": {"loai": "CONG_DAN", "so_giay_to": "001 090 012 345"}}) == "001090012345"
    assert recipient_of({"chu_ho_so": {"loai": "DOANH_NGHIEP", "so_giay_to": "0101234567"}}) is None
    assert recipient_of({"chu_ho_so": {"loai": "CONG_DAN", "so_giay_to": "B1234567"}}) is None  # a passport
    assert recipient_of({"LoaiDoiTuong": "1", "SoGiayToChuHoSo": "001090012345"}) == "001090012345"
    assert recipient_of({"LoaiDoiTuong": 2, "SoGiayToChuHoSo": "001090012345"}) is None
    assert recipient_of({}) is None


def test_the_body_carries_the_contract_fields_only() -> None:
    body = notification("k" * 64, "001090012345", DossierEvent(NO, EventCode.SUPPLEMENT_REQUESTED, T1))
    assert tuple(body) == FIELDS
    assert body["event_time"] == "2026-11-20T08:15:00+07:00"
    assert body["deep_link"] == DEEP_LINK.format(no=NO)
    assert body["message"].startswith(f"Hồ sơ {NO} cần bổ sung")


def test_every_message_fits_a_push_and_names_the_dossier_only() -> None:
    longest = "000.00.99.H26-" + "9" * 40
    for code, text in MESSAGES.items():
        message = text.format(no=longest)
        assert len(message) <= MAX_MESSAGE_CHARS, code
        assert longest in message and not any(ch.isdigit() for ch in message.replace(longest, "")), code
