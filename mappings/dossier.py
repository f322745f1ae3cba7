"""The canonical dossier every partner format maps to and from (docs/interfaces.md section 3).

The model checks types and shapes only; business rules live in ``quality/`` so a violation
becomes a named quarantine entry instead of a parse error. It does normalise what has one right
form: datetimes to Asia/Ho_Chi_Minh (the portal's zone) and text to Unicode NFC, because
Vietnamese arrives both precomposed and decomposed and the two must compare equal.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from mappings.masking import mask_phone

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def _to_vn(value: datetime) -> datetime:
    # The city mapping hands over Hanoi times already; converting again costs a zone lookup each.
    return value if value.tzinfo is VN_TZ else value.astimezone(VN_TZ)


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


VnDatetime = Annotated[AwareDatetime, AfterValidator(_to_vn)]
Text = Annotated[str, AfterValidator(_nfc)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SubmittedDocument(_Frozen):
    code: Text
    name: Text
    url: str
    digitised: bool
    reused: bool


class Fee(_Frozen):
    code: Text
    name: Text
    amount: int


class ResultDocument(_Frozen):
    code: Text
    name: Text
    url: str


class ProcessingStep(_Frozen):
    seq: int
    handler_name: Text
    handler_title: Text
    department: Text
    handled_at: VnDatetime
    content: Text
    local_state: str
    status: int = Field(ge=1, le=10)
    started_at: VnDatetime | None
    due_at: VnDatetime | None


class DeliveryAddress(_Frozen):
    """Where the applicant wants the result delivered (``return_by_post``); codes are the versioned
    commune and two-digit province codes. Its repr masks the phone, so a logged dossier leaks none."""

    name: Text
    phone: str
    street: Text
    commune_code: str
    province_code: str

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, mask_phone(value) if name == "phone" else value


class Dossier(_Frozen):
    dossier_no: str
    procedure_code: str
    procedure_name: Text
    field_code: str
    channel: int = Field(ge=1, le=3)
    applicant_name: Text
    applicant_type: int = Field(ge=1, le=4)
    applicant_id_no: str | None
    # Optional with a default: what the population database verifies, but absent from records
    # staged before the city system carried it (and from other sources' dossiers).
    applicant_birth_date: date | None = None
    phone: str | None
    email: str | None
    submitted_at: VnDatetime
    received_at: VnDatetime | None
    due_at: VnDatetime | None
    finished_at: VnDatetime | None
    returned_at: VnDatetime | None
    local_state: str
    status: int = Field(ge=1, le=10)
    abstract: Text
    handling_agency: str
    return_by_post: bool
    # Optional with a default, like the birth date: only postal returns carry one.
    delivery_address: DeliveryAddress | None = None
    paid_online: bool
    documents: list[SubmittedDocument]
    fees: list[Fee]
    results: list[ResultDocument]
    history: list[ProcessingStep]
    updated_at: VnDatetime
