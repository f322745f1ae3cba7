"""Business rules a dossier must pass before any partner sees it.

Each rule is a small named function returning a reason (or ``None``), so a quarantined record
always says which rule it broke and why, in words an officer can act on. Reasons never carry a
full ID or phone number. Rules that need a whole batch at once (Great Expectations suites) plug
into the gate as ``BatchCheck`` objects instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mappings.citizen_id import check_citizen_id
from mappings.code_tables import CodeTables
from mappings.dossier import Dossier
from mappings.dossier_number import parse_dossier_number
from mappings.masking import mask_personal_data
from mappings.national_portal import ABSTRACT_MAX_CHARS

CITIZEN = 1
FINISHED_STATUSES = {9, 10}
RETURNED_STATUS = 10
_AT = "%d/%m/%Y %H:%M"


@dataclass(frozen=True)
class Rule:
    name: str
    check: Callable[[Dossier, CodeTables], str | None]


def _dossier_number(d: Dossier, _: CodeTables) -> str | None:
    try:
        number = parse_dossier_number(d.dossier_no)
    except ValueError as exc:
        return f"Mã hồ sơ '{d.dossier_no}' sai định dạng {{cơ quan}}-{{YYMMDD}}-{{NNNN}}: {exc}"
    submitted = d.submitted_at.date()
    if number.day != submitted:
        return f"Ngày trong mã hồ sơ ({number.day:%d/%m/%Y}) khác ngày nộp ({submitted:%d/%m/%Y})"
    return None


def _procedure_known(d: Dossier, tables: CodeTables) -> str | None:
    on = d.submitted_at.date()
    if tables.procedures.get(d.procedure_code, on) is None:
        return f"Thủ tục '{d.procedure_code}' không có trong danh mục hiệu lực ngày {on:%d/%m/%Y}"
    return None


def _agency_known(d: Dossier, tables: CodeTables) -> str | None:
    on = d.submitted_at.date()
    if tables.agencies.get(d.handling_agency, on) is None:
        return f"Đơn vị xử lý '{d.handling_agency}' không có trong danh mục hiệu lực ngày {on:%d/%m/%Y}"
    return None


def _received_after_submitted(d: Dossier, _: CodeTables) -> str | None:
    if d.received_at is not None and d.received_at < d.submitted_at:
        return f"Ngày tiếp nhận ({d.received_at:{_AT}}) trước ngày nộp ({d.submitted_at:{_AT}})"
    return None


def _due_after_received(d: Dossier, _: CodeTables) -> str | None:
    start = d.received_at or d.submitted_at
    if d.due_at is not None and d.due_at < start:
        return f"Ngày hẹn trả ({d.due_at:{_AT}}) trước ngày tiếp nhận ({start:{_AT}})"
    return None


def _finished_after_received(d: Dossier, _: CodeTables) -> str | None:
    start = d.received_at or d.submitted_at
    if d.finished_at is not None and d.finished_at < start:
        return f"Ngày kết thúc xử lý ({d.finished_at:{_AT}}) trước ngày tiếp nhận ({start:{_AT}})"
    return None


def _finished_needs_date(d: Dossier, _: CodeTables) -> str | None:
    if d.status in FINISHED_STATUSES and d.finished_at is None:
        return f"Trạng thái {d.status} (đã xử lý) nhưng thiếu ngày kết thúc xử lý"
    return None


def _returned_needs_date(d: Dossier, _: CodeTables) -> str | None:
    if d.status == RETURNED_STATUS and d.returned_at is None:
        return "Trạng thái 10 (đã trả kết quả) nhưng thiếu ngày trả kết quả"
    return None


def _abstract_length(d: Dossier, _: CodeTables) -> str | None:
    if len(d.abstract) > ABSTRACT_MAX_CHARS:
        return f"Trích yếu dài {len(d.abstract)} ký tự, tối đa {ABSTRACT_MAX_CHARS}"
    return None


def _applicant_named(d: Dossier, _: CodeTables) -> str | None:
    return None if d.applicant_name.strip() else "Thiếu tên chủ hồ sơ"


def _citizen_id(d: Dossier, tables: CodeTables) -> str | None:
    if d.applicant_type != CITIZEN or not d.applicant_id_no:
        return None
    reasons = check_citizen_id(d.applicant_id_no, tables)
    if not reasons:
        return None
    return mask_personal_data(f"Số định danh {d.applicant_id_no} không hợp lệ: " + "; ".join(reasons))


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("applicant.name_required", _applicant_named),
    Rule("dossier_no.format", _dossier_number),
    Rule("procedure.known_on_date", _procedure_known),
    Rule("agency.known_on_date", _agency_known),
    Rule("dates.received_after_submitted", _received_after_submitted),
    Rule("dates.due_after_received", _due_after_received),
    Rule("dates.finished_after_received", _finished_after_received),
    Rule("status.finished_needs_finish_date", _finished_needs_date),
    Rule("status.returned_needs_return_date", _returned_needs_date),
    Rule("abstract.max_length", _abstract_length),
    Rule("applicant.citizen_id_structure", _citizen_id),
)
