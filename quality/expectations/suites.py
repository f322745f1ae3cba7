"""The expectation suites: every data-quality rule of the hub, each exactly once.

A :class:`Check` ties a rule name (what the quarantine shows, e.g. ``dates.due_after_received``)
to one GX expectation and to the Vietnamese reason an officer reads for a row that breaks it.
The reason is only rendered for failing rows and says what to fix with the row's own values;
personal numbers are masked before it leaves (``mappings/masking.py``). Rows GX flags are found
by ``unexpected_index_list`` (result format COMPLETE), so the rule name and the row travel
together whatever the expectation's type.

Imports GX: only :mod:`quality.expectations.runner` imports this module, inside tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.expectations.row_conditions import Column

from mappings.code_tables import CodeTables
from mappings.dossier_number import parse_dossier_number
from mappings.national_portal import ABSTRACT_MAX_CHARS
from quality.expectations import custom
from quality.expectations.datasets import (
    CITY_DOSSIERS,
    MINISTRY_PULLBACKS,
    PORTAL_DATE_KEYS,
    PORTAL_PAYLOADS,
    PORTAL_TEXT_KEYS,
    POSTAL_ORDERS,
    POSTAL_REPLIES,
)

Row = Mapping[str, Any]
CITIZEN = 1
FINISHED_STATUSES = [9, 10]
RETURNED_STATUS = 10
STATUSES = list(range(1, 11))
_PORTAL_DATE_OR_EMPTY = r"^(?:[0-9]{14})?$"


@dataclass(frozen=True)
class Check:
    rule: str
    expectation: Callable[[str], gxe.Expectation]  # tables key -> expectation
    reason: Callable[[Row, CodeTables], str]


def _at(value: Any) -> str:
    return "(trống)" if value is None or value is pd.NaT else f"{value:%d/%m/%Y %H:%M}"


def _day(value: Any) -> str:
    return "(trống)" if value is None or value is pd.NaT else f"{value:%d/%m/%Y}"


def _number_reason(row: Row, _: CodeTables, column: str = "dossier_no") -> str:
    try:
        parse_dossier_number(row[column])
    except (TypeError, ValueError, AttributeError) as exc:
        return f"Mã hồ sơ '{row[column]}' sai định dạng {{mã cơ quan}}-{{YYMMDD}}-{{NNNN}}: {exc}"
    return f"Mã hồ sơ '{row[column]}' sai định dạng"


def _number_day_reason(row: Row, _: CodeTables, column: str = "dossier_no") -> str:
    number_day = parse_dossier_number(row[column]).day
    return (
        f"Ngày trong mã hồ sơ ({number_day:%d/%m/%Y}) khác ngày nộp ({_day(row['submitted_at'])}): sửa mã hoặc ngày nộp"
    )


def _code_reason(what: str, column: str) -> Callable[[Row, CodeTables], str]:
    def reason(row: Row, _: CodeTables) -> str:
        if not isinstance(row[column], str):  # a ministry's code its contract does not map (None)
            return f"{what} trống: mã của Bộ không ánh xạ được theo hợp đồng kết nối (ngày {_day(row['submitted_at'])})"
        return f"{what} '{row[column]}' không có trong danh mục hiệu lực ngày {_day(row['submitted_at'])}"

    return reason


def _number_checks(column: str) -> list[Check]:
    return [
        Check(
            "dossier_no.format",
            lambda _: custom.ExpectColumnValuesToBeDossierNumbers(column=column),
            lambda row, t: _number_reason(row, t, column),
        ),
        Check(
            "dossier_no.date_is_submission_date",
            lambda _: custom.ExpectColumnPairValuesToBeNumberedOnIntakeDay(column_A=column, column_B="submitted_at"),
            lambda row, t: _number_day_reason(row, t, column),
        ),
    ]


def _code_checks(procedure: str, agency: str) -> list[Check]:
    return [
        Check(
            "procedure.known_on_date",
            lambda key: custom.ExpectColumnPairValuesToBeCodesValidOnDay(
                column_A=procedure, column_B="submitted_at", tables_key=key, code_table="procedures"
            ),
            _code_reason("Thủ tục", procedure),
        ),
        Check(
            "agency.known_on_date",
            lambda key: custom.ExpectColumnPairValuesToBeCodesValidOnDay(
                column_A=agency, column_B="submitted_at", tables_key=key, code_table="agencies"
            ),
            _code_reason("Đơn vị xử lý", agency),
        ),
    ]


def _not_before(rule: str, later: str, earlier: str, text: str) -> Check:
    """``later >= earlier`` where both are known (a missing date is another rule's business)."""
    later_vi, earlier_vi = text.split("|")
    return Check(
        rule,
        lambda _: gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=later, column_B=earlier, or_equal=True, ignore_row_if="either_value_is_missing"
        ),
        lambda row, _: f"{later_vi} ({_at(row[later])}) trước {earlier_vi} ({_at(row[earlier])})",
    )


def _citizen_id_reason(row: Row, tables: CodeTables) -> str:
    reasons = custom.citizen_id_reasons(tables, row["applicant_id_no"], row["applicant_birth_date"])
    return f"Số định danh {row['applicant_id_no']} không hợp lệ: " + "; ".join(reasons)


def _nfc(rule: str, column: str, what: str) -> Check:
    return Check(
        rule,
        lambda _: custom.ExpectColumnValuesToBeNfc(column=column),
        lambda row, _: f"{what} không ở dạng Unicode dựng sẵn (NFC): chuẩn hoá lại văn bản tiếng Việt",
    )


def _in_set(rule: str, column: str, values: list[int] | list[str], what: str) -> Check:
    return Check(
        rule,
        lambda _: gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values),
        lambda row, _: f"{what} '{row[column]}' ngoài miền giá trị {values}",
    )


def _required(rule: str, column: str, reason: Callable[[Row], str], when: Any = None) -> Check:
    """``column`` is not null (in the rows matching the GX row condition ``when``, if given)."""
    return Check(
        rule,
        lambda _: gxe.ExpectColumnValuesToNotBeNull(column=column, row_condition=when),
        lambda row, _: reason(row),
    )


def _pattern(rule: str, column: str, regex: str, reason: Callable[[Row], str]) -> Check:
    return Check(
        rule,
        lambda _: gxe.ExpectColumnValuesToMatchRegex(column=column, regex=regex),
        lambda row, _: reason(row),
    )


CITY_CHECKS: list[Check] = [
    _pattern("applicant.name_required", "applicant_name", r"\S", lambda row: "Thiếu tên chủ hồ sơ"),
    *_number_checks("dossier_no"),
    *_code_checks("procedure_code", "handling_agency"),
    _not_before("dates.received_after_submitted", "received_at", "submitted_at", "Ngày tiếp nhận|ngày nộp"),
    _not_before("dates.due_after_received", "due_at", "start_at", "Ngày hẹn trả|ngày tiếp nhận"),
    _not_before("dates.finished_after_received", "finished_at", "start_at", "Ngày kết thúc xử lý|ngày tiếp nhận"),
    _in_set("status.known", "status", STATUSES, "Trạng thái"),
    _required(
        "status.finished_needs_finish_date",
        "finished_at",
        lambda row: f"Trạng thái {row['status']} (đã xử lý) nhưng thiếu ngày kết thúc xử lý",
        when=Column("status").is_in(FINISHED_STATUSES),
    ),
    _required(
        "status.returned_needs_return_date",
        "returned_at",
        lambda row: "Trạng thái 10 (đã trả kết quả) nhưng thiếu ngày trả kết quả",
        when=Column("status") == RETURNED_STATUS,
    ),
    Check(
        "abstract.max_length",
        lambda _: gxe.ExpectColumnValueLengthsToBeBetween(column="abstract", max_value=ABSTRACT_MAX_CHARS),
        lambda row, _: f"Trích yếu dài {len(row['abstract'])} ký tự, tối đa {ABSTRACT_MAX_CHARS}",
    ),
    Check(
        "applicant.citizen_id_structure",
        lambda key: custom.ExpectColumnPairValuesToBeCitizenIdsOfHolder(
            column_A="applicant_id_no",
            column_B="applicant_birth_date",
            tables_key=key,
            row_condition=(Column("applicant_type") == CITIZEN) & Column("applicant_id_no").is_not_null(),
        ),
        _citizen_id_reason,
    ),
]

PORTAL_CHECKS: list[Check] = [
    Check(
        "portal.dossier_no_format",
        lambda _: custom.ExpectColumnValuesToBeDossierNumbers(column="MaHoSo"),
        lambda row, t: _number_reason(row, t, "MaHoSo"),
    ),
    *[
        _pattern(
            f"portal.date_format.{key}",
            key,
            _PORTAL_DATE_OR_EMPTY,
            lambda row, key=key: f"{key} = '{row[key]}' không có dạng yyyyMMddHHmmss",
        )
        for key in PORTAL_DATE_KEYS
    ],
    # The portal's codes travel as strings (docs/interfaces.md 2.5): an integer here is a mapping bug.
    _in_set("portal.status_known", "TrangThaiHoSo", [str(s) for s in STATUSES], "TrangThaiHoSo"),
    _in_set("portal.channel_known", "KenhThucHien", ["1", "2", "3"], "KenhThucHien"),
    _in_set("portal.applicant_type_known", "LoaiDoiTuong", ["1", "2", "3", "4"], "LoaiDoiTuong"),
    _in_set("portal.delivery_known", "HinhThuc", ["0", "1"], "HinhThuc"),
    *[_nfc(f"portal.nfc.{key}", key, key) for key in PORTAL_TEXT_KEYS],
]

# A pull-back record is the ministry's, mapped by its contract (``mappings.ministry_records``): its
# own number is whatever the ministry numbers with, so only its presence is checked; a one-stop
# number, when the ministry holds one, must be one; a procedure or unit the contract's value tables
# or look-ups could not map is None, which the code checks name (``_code_reason``).
PULLBACK_CHECKS: list[Check] = [
    _pattern("pullback.number_present", "MaHoSo", r"\S", lambda row: "Thiếu mã hồ sơ của Bộ (MaHoSo)"),
    _required(
        "pullback.submitted_at_readable",
        "submitted_at",
        lambda row: f"Ngày nộp '{row['NgayNopHoSo']}' không đọc được (cần ngày giờ có múi giờ)",
    ),
    _number_checks("MaHoSoMotCua")[0],
    *_code_checks("MaTTHC", "DonViXuLy"),
]

# Planned orders, before placing. The receiver's commune is also checked against the code table in
# force on the dispatch day (``mappings.postal.dispatch.receiver_of``); the patterns name the shape.
POSTAL_ORDER_CHECKS: list[Check] = [
    *_number_checks("dossier_no")[:1],
    _pattern(
        "postal.receiver_province_code",
        "receiver_province_code",
        r"^[0-9]{2}$",
        lambda row: f"Mã tỉnh người nhận '{row['receiver_province_code']}' phải gồm 2 chữ số",
    ),
    _pattern(
        "postal.receiver_commune_code",
        "receiver_commune_code",
        r"^[0-9]{5}$",
        lambda row: f"Mã xã người nhận '{row['receiver_commune_code']}' phải gồm 5 chữ số",
    ),
]

# The carriers' replies to one placing batch. Only what no adapter can see: each adapter reads one
# reply at a time and already refuses a bad S10 item code, an empty order id or a missing creation
# time (``adapters/postal``), so those rules live there alone; one order id given to two results
# is visible only across the batch (and would break the store's unique carrier order id).
POSTAL_REPLY_CHECKS: list[Check] = [
    Check(
        "postal.order_id_unique",
        lambda _: gxe.ExpectColumnValuesToBeUnique(column="order_id"),
        lambda row, _: f"Mã đơn '{row['order_id']}' của {row['carrier']} lặp lại trong lô: một bưu gửi bị tính hai lần",
    ),
]

SUITES: dict[str, list[Check]] = {
    CITY_DOSSIERS: CITY_CHECKS,
    PORTAL_PAYLOADS: PORTAL_CHECKS,
    MINISTRY_PULLBACKS: PULLBACK_CHECKS,
    POSTAL_ORDERS: POSTAL_ORDER_CHECKS,
    POSTAL_REPLIES: POSTAL_REPLY_CHECKS,
}
