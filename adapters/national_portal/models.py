"""Typed replies of the national portal's LGSP-style JSON API (docs/interfaces.md section 2).

Request records (DongBoHoSoMC records, progress entries) stay plain dicts: they are produced by
``mappings.national_portal`` and sent as they are. Replies are validated strictly, because a
reply the hub misreads is how records get silently dropped.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_REPLY = ConfigDict(strict=True, extra="allow", frozen=True, populate_by_name=True)


class Envelope(BaseModel):
    """What every ``/auth`` and ``/service`` reply carries.

    ``message`` is optional although the contract says "always": its own examples omit it on
    success, and a missing explanation must not turn a good reply into a failure.
    """

    model_config = _REPLY

    error_code: int
    message: str = ""


class AuthReply(Envelope):
    session: str = Field(min_length=1)


class RecordReply(BaseModel):
    model_config = _REPLY

    dossier_no: str = Field(alias="MaHoSo")
    code: int = Field(alias="error_code")
    message: str = ""


class RecordsReply(Envelope):
    result: list[RecordReply]


class LookupReply(Envelope):
    result: dict[str, Any]


class Procedure(BaseModel):
    """A procedure of the portal's catalogue (``LayDanhSachTTHC``)."""

    model_config = _REPLY

    code: str = Field(alias="MaTTHC")
    name: str = Field(alias="TenTTHC")
    field_code: str = Field(alias="MaLinhVuc")


class Agency(BaseModel):
    """An agency of the portal's catalogue (``LayDanhMucCoQuan``)."""

    model_config = _REPLY

    code: str = Field(alias="MaCoQuan")
    name: str = Field(alias="TenCoQuan")


class ProceduresReply(Envelope):
    result: list[Procedure]


class AgenciesReply(Envelope):
    result: list[Agency]


class HeldDossier(BaseModel):
    """One dossier of the portal's per-unit export: what the portal holds, as it holds it."""

    model_config = _REPLY

    dossier_no: str = Field(alias="MaHoSo", min_length=1)
    status: int = Field(alias="TrangThaiHoSo")
    updated_at: str = Field(min_length=1)


class ExportPage(BaseModel):
    """A page of the export; ``next`` is the cursor of the following page, None on the last."""

    model_config = _REPLY

    items: list[HeldDossier]
    next: str | None = None


class Classification(StrEnum):
    """What happened to one record, in the terms the outbox acts on."""

    STORED = "stored"  # 0: the portal now holds it (identical progress entries also answer 0)
    ALREADY_EXISTS = "already_exists"  # 2 / "đã tồn tại": a create of a known dossier -> resend as update
    REJECTED = "rejected"  # 3 invalid data, 4 unknown procedure: permanent, message says why
    NOT_FOUND = "not_found"  # 201: update of (or progress for) a dossier the portal does not have


RECORD_CODES = {
    0: Classification.STORED,
    2: Classification.ALREADY_EXISTS,
    3: Classification.REJECTED,
    4: Classification.REJECTED,
    201: Classification.NOT_FOUND,
}
ALREADY_EXISTS_TEXT = "đã tồn tại"


def classify(code: int, message: str) -> Classification | None:
    """Map a record-level code to a classification; None when it is not in the contract.

    Provincial portals are known to answer "Hồ sơ đã tồn tại" under codes of their own, so an
    out-of-contract code with that text still means "already exists". A contract code keeps its
    meaning whatever the text: a code 3 saying some value "đã tồn tại" is a rejection.
    """
    if code in RECORD_CODES:
        return RECORD_CODES[code]
    if ALREADY_EXISTS_TEXT in unicodedata.normalize("NFC", message).lower():
        return Classification.ALREADY_EXISTS
    return None


class RecordResult(BaseModel):
    """The portal's answer for one record sent, in the order the records were sent."""

    model_config = ConfigDict(frozen=True)

    dossier_no: str
    code: int
    message: str
    classification: Classification
