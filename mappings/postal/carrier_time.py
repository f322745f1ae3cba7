"""Carrier timestamps: both carriers write local Hanoi time as ``dd/MM/yyyy HH:mm:ss`` with no zone.

One parser and one formatter, shared by the clients (which read them) and the sandbox carriers
(which write them), so a webhook's ``ORDER_STATUSDATE`` becomes the same aware datetime however it
reached the hub; the event key depends on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

from mappings.dossier import VN_TZ

CARRIER_TIME = "%d/%m/%Y %H:%M:%S"


def parse_carrier_time(text: str) -> datetime:
    """``"21/11/2026 09:05:00"`` -> an aware datetime in Asia/Ho_Chi_Minh (``ValueError`` otherwise)."""
    return datetime.strptime(text, CARRIER_TIME).replace(tzinfo=VN_TZ)


def format_carrier_time(moment: datetime) -> str:
    """An aware datetime as the carriers write it (converted to Hanoi time first)."""
    if moment.tzinfo is None:
        raise ValueError("carrier timestamps are written from aware datetimes only")
    return moment.astimezone(VN_TZ).strftime(CARRIER_TIME)


def _parsed(value: Any) -> Any:
    return parse_carrier_time(value) if isinstance(value, str) else value


CarrierTime = Annotated[datetime, BeforeValidator(_parsed)]
"""A pydantic field written ``dd/MM/yyyy HH:mm:ss`` on the wire; a bad one fails validation."""
