"""What a citizen hears on iHaNoi about their dossier: the events, their words, the notification body.

Pure functions over facts the hub already keeps (a dossier version's status and dates, a postal
order's derived delivery state); no I/O. The notification contract is an assumption
(docs/interfaces.md, "iHaNoi notifications"): no public iHaNoi API is known, so every field here says what the
hub would send and the operator's API documentation would confirm or correct it.

What the body carries, and why no more: the app already knows its user, so a notification names
the dossier (its number, which the citizen was given on the receipt), the event, when it happened,
a short message and a link into the app -- and, to reach the right account, the applicant's
personal identification number, the one reference every VNeID-linked iHaNoi account holds. No
name, phone, address, e-mail or birth date ever goes, and an applicant without a valid 12-digit
personal number (a business, an agency, a foreigner's passport) gets no notification at all: the
hub has nothing the app could route it by.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from mappings.dossier import VN_TZ


class EventCode(StrEnum):
    """The events a citizen is told about (codes of the assumed contract)."""

    RECEIVED = "HO_SO_DA_TIEP_NHAN"
    SUPPLEMENT_REQUESTED = "YEU_CAU_BO_SUNG"
    RESULT_READY = "DA_CO_KET_QUA"
    PARCEL_HANDED_OVER = "DA_GIAO_BUU_CHINH"
    PARCEL_DELIVERED = "DA_PHAT_KET_QUA"
    PARCEL_RETURNED = "DA_CHUYEN_HOAN"


MESSAGES: dict[EventCode, str] = {
    EventCode.RECEIVED: "Hồ sơ {no} đã được tiếp nhận.",
    EventCode.SUPPLEMENT_REQUESTED: "Hồ sơ {no} cần bổ sung giấy tờ. Mở ứng dụng để xem nội dung cần bổ sung.",
    EventCode.RESULT_READY: "Hồ sơ {no} đã có kết quả giải quyết.",
    EventCode.PARCEL_HANDED_OVER: "Kết quả hồ sơ {no} đã được giao cho bưu chính để chuyển đến bạn.",
    EventCode.PARCEL_DELIVERED: "Kết quả hồ sơ {no} đã được phát đến bạn.",
    EventCode.PARCEL_RETURNED: "Kết quả hồ sơ {no} đã bị chuyển hoàn. Vui lòng liên hệ Bộ phận Một cửa.",
}
MAX_MESSAGE_CHARS = 200  # a push notification's body; every message fits with the longest dossier number
DEEP_LINK = "ihanoi://dich-vu-cong/ho-so/{no}"  # ASSUMPTION: the app's own scheme, per dossier
FIELDS = ("idempotency_key", "recipient_id", "dossier_no", "event_code", "event_time", "message", "deep_link")

# Portal status codes (TrangThaiHoSo, DOMAIN.md): what each event is read from.
_NOT_RECEIVED = frozenset({1, 3})  # newly submitted, refused at intake
_SUPPLEMENT = 5
_RESULT = frozenset({9, 10})  # processed, result returned
# Postal delivery states (mappings.postal.states) that mean the carrier holds or held the parcel.
HANDED_OVER_STATES = frozenset({"picked_up", "in_transit", "delivering", "failed_attempt", "delivered", "returned"})
_PERSONAL_NUMBER = re.compile(r"[0-9]{12}")


# Events a dossier can have more than once: a new request for documents after the first was
# answered is news to the citizen, so its occurrence (the time of the version that shows it) is
# part of what identifies it. The others happen once per dossier (per result parcel).
REPEATABLE = frozenset({EventCode.SUPPLEMENT_REQUESTED})


@dataclass(frozen=True)
class DossierEvent:
    dossier_no: str
    code: EventCode
    occurred_at: datetime

    @property
    def identity(self) -> tuple[str, ...]:
        """What makes this event one notification: (dossier, event), and for a repeatable event its
        moment too (in UTC, so the same moment read in two offsets is one occurrence)."""
        if self.code in REPEATABLE:
            return self.dossier_no, self.code.value, self.occurred_at.astimezone(UTC).isoformat()
        return self.dossier_no, self.code.value


def dossier_events(
    dossier_no: str,
    status: int | None,
    received_at: datetime | None,
    finished_at: datetime | None,
    updated_at: datetime | None,
) -> list[DossierEvent]:
    """A dossier version's events: received (has a reception date and was not refused at intake),
    additional documents requested (status 5, as of the version's update) and result ready
    (status 9 or 10 with an end date). A fact the version lacks yields no event rather than a guess."""
    events = []
    if status is not None and received_at is not None and status not in _NOT_RECEIVED:
        events.append(DossierEvent(dossier_no, EventCode.RECEIVED, received_at))
    if status == _SUPPLEMENT and updated_at is not None:
        events.append(DossierEvent(dossier_no, EventCode.SUPPLEMENT_REQUESTED, updated_at))
    if status in _RESULT and finished_at is not None:
        events.append(DossierEvent(dossier_no, EventCode.RESULT_READY, finished_at))
    return events


def parcel_events(
    dossier_no: str, state: str | None, state_at: datetime | None, handed_over_at: datetime | None
) -> list[DossierEvent]:
    """A result parcel's events from its derived delivery state: handed to the carrier (its first
    event past "created"), then delivered or returned to the sender (the final state's time)."""
    events = []
    if state in HANDED_OVER_STATES and handed_over_at is not None:
        events.append(DossierEvent(dossier_no, EventCode.PARCEL_HANDED_OVER, handed_over_at))
    if state == "delivered" and state_at is not None:
        events.append(DossierEvent(dossier_no, EventCode.PARCEL_DELIVERED, state_at))
    if state == "returned" and state_at is not None:
        events.append(DossierEvent(dossier_no, EventCode.PARCEL_RETURNED, state_at))
    return events


def recipient_of(record: Mapping[str, Any]) -> str | None:
    """The applicant's personal identification number when the applicant is a citizen who has one,
    from a staged record in either shape: the city's (``chu_ho_so``) or the portal's field names a
    ministry pull-back carries (``LoaiDoiTuong`` 1, ``SoGiayToChuHoSo``). None otherwise."""
    applicant = record.get("chu_ho_so")
    if isinstance(applicant, Mapping):
        citizen, number = applicant.get("loai") == "CONG_DAN", applicant.get("so_giay_to")
    else:
        citizen, number = str(record.get("LoaiDoiTuong")) == "1", record.get("SoGiayToChuHoSo")
    if not citizen or not isinstance(number, str):
        return None
    number = "".join(number.split())
    return number if _PERSONAL_NUMBER.fullmatch(number) else None


def notification(idempotency_key: str, recipient_id: str, event: DossierEvent) -> dict[str, Any]:
    """The body of ``POST /api/v1/notifications`` for one event (docs/interfaces.md, "iHaNoi notifications")."""
    return {
        "idempotency_key": idempotency_key,
        "recipient_id": recipient_id,
        "dossier_no": event.dossier_no,
        "event_code": event.code.value,
        "event_time": event.occurred_at.astimezone(VN_TZ).isoformat(timespec="seconds"),
        "message": MESSAGES[event.code].format(no=event.dossier_no),
        "deep_link": DEEP_LINK.format(no=event.dossier_no),
    }
