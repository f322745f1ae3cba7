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
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from mappings.masking import mask_citizen_id, mask_phone

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
    # The procedure's result-document code (the portal's MaGiayToKetQua, from its procedure
    # catalogue): Decision 766 counts an electronic result only with it. None where unknown.
    result_code: str | None = None


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


IdentifierKind = Literal["citizen_id", "id_card", "passport", "tax_code"]


class ApplicantIdentifier(_Frozen):
    """One identifier of the applicant (the portal's ``DinhDanhCHS`` lists them). Its repr masks the
    number, so a logged dossier leaks none."""

    kind: IdentifierKind
    number: str

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, mask_citizen_id(value) if name == "number" else value


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
    # What the national portal scores the city by under Decision 766 (docs/interfaces.md 2.5). All
    # optional with defaults: records staged before the city system carried them, and other
    # sources' dossiers, have none.
    submitted_via_portal: bool = False  # filed on the national portal, not the city's own system
    vneid_verified: bool = False  # the applicant's account was authenticated with VNeID
    # Where an online payment went: the national portal's payment platform or the city's own gateway.
    payment_gateway: Literal["national_portal", "city"] | None = None
    applicant_identifiers: list[ApplicantIdentifier] = []
    consulted_databases: list[str] = []  # national databases consulted (the portal's MaCSDL codes)
    rejected_at: VnDatetime | None = None  # refused (status 3) at intake or in processing
    portal_account_id: str | None = None  # the applicant's account on the national portal
    note: str | None = None
