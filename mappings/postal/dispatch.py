"""From a dossier whose result is ready to the carrier order that takes it home. Pure: no I/O.

Which carrier and which sender are configuration, not code: ``dispatch_desks.csv`` beside this
file names, per handling agency (the local part of its code, as in ``agencies.csv``) and validity
period, the one-stop desk that hands results to the post and the carrier it has a contract with.
The ``*`` row is every other agency's default (the city's service centre, VNPost). Agencies
merge and carriers change with tenders, hence the effective dates.

A result is ready when the city says it is: status 9 (processed) or 10 (released for return)
with at least one result document. The receiver address is checked against the commune table in
force on the dispatch day (``commune_problem``): a pre-reform commune code, or a commune outside
the stated province, would be refused or misrouted by the carrier, so it is quarantined with the
rule instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from mappings.code_tables import CodeTables, commune_problem
from mappings.dossier import Dossier
from mappings.errors import MappingError
from mappings.masking import mask_phone
from mappings.postal.order import Address, OrderRequest
from mappings.versioned import Row, VersionedTable, read_rows

DESKS_PATH = Path(__file__).with_name("dispatch_desks.csv")
DEFAULT_DESK = "*"
# TrangThaiHoSo of a dossier whose result can go out: 9 processed, 10 result returned (for a
# postal return the city marks 10 when it releases the result for the post: this order). A result
# the carrier delivered belongs to a dossier in status 10; one still in 9 was never closed.
RESULT_RETURNED = 10
READY_STATUSES = (9, RESULT_RETURNED)
# One result envelope (decision + certified copies); carriers price by weight band, so one
# figure for all is accurate enough and keeps the city's bill predictable.
RESULT_WEIGHT_GRAMS = 200
# Vietnamese phone numbers as carriers accept them: 0 and 9-10 more digits (mobile or landline).
_PHONE = re.compile(r"0[0-9]{9,10}")


class Dispatch(StrEnum):
    """Where a ready result stands with its carrier order: the store keeps it per order, the
    reconciliation explains a result with no carrier order by it."""

    PENDING = "pending"
    SENT = "sent"
    ORDERED = "ordered"
    QUARANTINED = "quarantined"


def result_reference(dossier_no: str) -> str:
    """The idempotency key of a dossier's result delivery (the carrier's ``ORDER_REFERENCE``)."""
    return f"{dossier_no}/KQ"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskRow(Row):
    """A handling agency's postal desk; ``code`` is the agency's local code or ``*``."""

    carrier: str
    desk_name: str
    phone: str
    street: str
    commune_code: str
    province_code: str

    @property
    def sender(self) -> Address:
        return Address(self.desk_name, self.phone, self.street, self.commune_code, self.province_code)


@lru_cache(maxsize=4)
def load_desks(path: Path = DESKS_PATH) -> VersionedTable[DeskRow]:
    return VersionedTable("dispatch_desks", read_rows(path, DeskRow))


def desk_for(desks: VersionedTable[DeskRow], agency_code: str, on: date) -> DeskRow:
    """The agency's desk on ``on``, else the default desk; ``MappingError`` when neither is configured."""
    local_code = agency_code.rpartition(".")[0] if agency_code.count(".") > 2 else agency_code
    desk = desks.get(local_code, on) or desks.get(DEFAULT_DESK, on)
    if desk is None:
        raise MappingError(
            "postal.no_dispatch_desk",
            f"chưa cấu hình bộ phận gửi bưu chính cho cơ quan {agency_code} vào ngày {on:%d/%m/%Y}",
        )
    return desk


def result_ready(dossier: Dossier) -> bool:
    """The city processed the dossier and attached its result, and the applicant wants it by post."""
    return dossier.return_by_post and dossier.status in READY_STATUSES and bool(dossier.results)


def receiver_of(dossier: Dossier, tables: CodeTables, on: date) -> Address:
    """The receiver as the carrier needs it, or ``MappingError`` naming what is wrong."""
    given = dossier.delivery_address
    if given is None:
        raise MappingError("postal.address_missing", "hồ sơ trả kết quả qua bưu chính nhưng không có địa chỉ nhận")
    address = Address(given.name, given.phone, given.street, given.commune_code, given.province_code)
    if not address.name.strip() or not address.street.strip():
        raise MappingError("postal.address_incomplete", "địa chỉ nhận thiếu tên người nhận hoặc số nhà, đường")
    if not _PHONE.fullmatch(address.phone):
        # Masked: the reason is stored in the quarantine and shown in reports and logs.
        masked = mask_phone(address.phone)
        raise MappingError("postal.phone_invalid", f"số điện thoại người nhận không hợp lệ: {masked}")
    problem = commune_problem(tables, address.commune_code, address.province_code, on)
    if problem is not None:
        raise MappingError("postal.commune_invalid", problem)
    return address


def order_request(dossier: Dossier, desk: DeskRow, receiver: Address) -> OrderRequest:
    """The order for one dossier's result: its reference is the idempotency key at the carrier."""
    return OrderRequest(
        reference=result_reference(dossier.dossier_no),
        dossier_no=dossier.dossier_no,
        sender=desk.sender,
        receiver=receiver,
        weight_grams=RESULT_WEIGHT_GRAMS,
        cod_amount=0,  # the city pays: results by post are subsidised
        content=f"Kết quả giải quyết TTHC {dossier.dossier_no}",
    )


__all__ = [
    "DEFAULT_DESK",
    "READY_STATUSES",
    "RESULT_RETURNED",
    "RESULT_WEIGHT_GRAMS",
    "DeskRow",
    "desk_for",
    "load_desks",
    "order_request",
    "receiver_of",
    "result_ready",
    "result_reference",
]
