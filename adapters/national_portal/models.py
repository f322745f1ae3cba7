"""Typed replies of the national portal's LGSP-style JSON API (docs/interfaces.md section 2).

Request records (DongBoHoSoMC records, progress entries) stay plain dicts: they are produced by
``mappings.national_portal`` and sent as they are. Replies are read as public clients read them
(ledger 2.3): ``{error_code, message}``, ``error_code`` a string or an integer, no per-record
results; what is read is validated strictly, because a misread reply is how records get dropped.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_REPLY = ConfigDict(strict=True, extra="allow", frozen=True, populate_by_name=True)


ErrorCode = int | str
"""The portal's ``error_code``: a string in T-R (``"0"``), an integer or numeric string in O-I."""

SUCCESS_CODES = frozenset({"0", "00"})  # "00" is O-T's constant; the same success as "0" and 0


def is_success(code: ErrorCode) -> bool:
    """``0``, ``"0"`` and ``"00"`` all mean success; ``True`` (a JSON boolean) does not."""
    return not isinstance(code, bool) and str(code).strip() in SUCCESS_CODES


def same_code(code: ErrorCode, expected: str) -> bool:
    """Compare a code as the portal may write it (``100`` or ``"100"``) with one the hub names."""
    return not isinstance(code, bool) and str(code).strip() == expected


class Envelope(BaseModel):
    """What every reply carries: ``{error_code, message}`` and nothing else is read after a sync.

    ``message`` is optional: a missing explanation must not turn a good reply into a failure.
    """

    model_config = _REPLY

    error_code: ErrorCode
    message: str = ""


class AuthReply(Envelope):
    """Only ``session`` is read: no public client reads an expiry (O-A gives a session its own
    fixed life), so the client renews by age instead."""

    session: str = Field(min_length=1)


class LookupReply(Envelope):
    """``TraCuuHoSo``: ``result`` is an array, empty when the portal does not hold the dossier."""

    result: list[dict[str, Any]] = []


class ProcedureField(BaseModel):
    model_config = _REPLY

    code: str = Field(alias="MALINHVUC")
    name: str = Field(default="", alias="TENLINHVUC")


class Procedure(BaseModel):
    """A procedure of the portal's catalogue (``LayDanhSachTTHC``; ``LayThuTuc`` adds its fields)."""

    model_config = _REPLY

    code: str = Field(alias="MATTHC")
    name: str = Field(alias="TENTTHC")
    fields: list[ProcedureField] = Field(default=[], alias="LINHVUCTHUCHIEN")


class Agency(BaseModel):
    """An agency of the portal's catalogue (``LayDanhMucCoQuan``). ``CAPDONVI``'s type is not
    known from public code, so a number or a string is taken."""

    model_config = _REPLY

    code: str = Field(alias="MADONVI")
    name: str = Field(alias="TENDONVI")
    level: int | str | None = Field(default=None, alias="CAPDONVI")


class ProceduresReply(Envelope):
    result: list[Procedure] = []


class AgenciesReply(Envelope):
    result: list[Agency] = []


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

    STORED = "stored"  # success: the portal now holds it
    ALREADY_EXISTS = "already_exists"  # "đã tồn tại" under any code: a create of a known dossier -> update
    NOT_FOUND = "not_found"  # "không tìm thấy" (sandbox wording, an assumption): update of an unknown dossier
    REJECTED = "rejected"  # a refusal whose message names this record: a person must look
    PENDING = "pending"  # any other answer: kept with its message, tried again later


ALREADY_EXISTS_TEXT = "đã tồn tại"
NOT_FOUND_TEXT = "không tìm thấy"


def classify(code: ErrorCode, message: str) -> Classification | None:
    """What a whole call's reply says about the records it carried; None for a refusal.

    "đã tồn tại" means "already exists" whatever the code (public clients have met it under
    ``"0"``, ``"3"`` and ``"-3"``), so it is read before success. A refusal cannot be pinned on a
    record from the code alone: :func:`refusal_of` decides for a call of one record.
    """
    text = unicodedata.normalize("NFC", message).lower()
    if ALREADY_EXISTS_TEXT in text:
        return Classification.ALREADY_EXISTS
    if is_success(code):
        return Classification.STORED
    if NOT_FOUND_TEXT in text:
        return Classification.NOT_FOUND
    return None


def refusal_of(dossier_no: str, message: str) -> Classification:
    """A refused call of one record: rejected only when the portal's message names the record;
    otherwise (an unknown code, a generic text) pending, never quarantined on the code alone."""
    return Classification.REJECTED if dossier_no in message else Classification.PENDING


class RecordResult(BaseModel):
    """The portal's answer for one record sent, in the order the records were sent."""

    model_config = ConfigDict(frozen=True)

    dossier_no: str
    code: str
    message: str
    classification: Classification
