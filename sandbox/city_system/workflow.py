"""The city's workflow as the simulator plays it: which local state each step leaves a dossier in.

Local state codes come from ``mappings/code_tables/local_states.csv`` (versioned). A step names
the state it prefers (``DANG_XU_LY``); if that code is not valid on the day, the first valid code
with the same portal status is used, so a table change never makes the generator emit a code the
table does not know on that date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

__all__ = ["IN_PROCESS_STATUSES", "NEXT_STEP", "STEPS", "LocalStates", "StepKind"]

IN_PROCESS_STATUSES = frozenset({1, 2, 4, 5, 6})


@dataclass(frozen=True, slots=True)
class StepKind:
    """One kind of history step: preferred local state, portal status, wording, who does it."""

    preferred_state: str
    status: int
    content: str
    role: str  # "system" | "desk" | "officer" | "leader"


STEPS: dict[str, StepKind] = {
    "submit": StepKind("MOI_NOP", 1, "Nộp hồ sơ trực tuyến", "system"),
    "await_vneid": StepKind("CHO_XAC_THUC_VNEID", 1, "Chờ xác thực tài khoản định danh điện tử VNeID", "system"),
    "receive": StepKind("DA_TIEP_NHAN", 2, "Tiếp nhận hồ sơ, hẹn ngày trả kết quả", "desk"),
    "reject": StepKind("TU_CHOI_TIEP_NHAN", 3, "Từ chối tiếp nhận: hồ sơ không đủ thành phần theo quy định", "desk"),
    "transfer": StepKind("CHUYEN_PHONG_BAN", 4, "Chuyển hồ sơ đến phòng chuyên môn thụ lý", "desk"),
    "process": StepKind("DANG_XU_LY", 4, "Thẩm định hồ sơ", "officer"),
    "sign": StepKind("TRINH_KY", 4, "Trình lãnh đạo ký duyệt kết quả", "officer"),
    "supplement": StepKind("CHO_BO_SUNG", 5, "Đề nghị bổ sung, hoàn thiện hồ sơ", "officer"),
    "payment": StepKind("CHO_THANH_TOAN", 6, "Thông báo thực hiện nghĩa vụ tài chính", "officer"),
    "withdraw": StepKind("CONG_DAN_RUT", 7, "Người nộp đề nghị rút hồ sơ", "desk"),
    "stop": StepKind("DUNG_XU_LY", 8, "Dừng xử lý hồ sơ theo quy định", "leader"),
    "finish": StepKind("DA_CO_KET_QUA", 9, "Phê duyệt, ký kết quả giải quyết", "leader"),
    "return": StepKind("DA_TRA_KET_QUA", 10, "Trả kết quả cho tổ chức, cá nhân", "desk"),
    "resume": StepKind("DANG_XU_LY", 4, "Tiếp tục thụ lý hồ sơ", "officer"),
}

# One step forward for ``/sandbox/advance``: portal status now -> step kind to append.
NEXT_STEP: dict[int, str] = {1: "receive", 2: "transfer", 4: "finish", 5: "resume", 6: "resume"}


class LocalStates:
    """Local-state lookups on the versioned table, cached per (code, day)."""

    def __init__(self, code_tables: Any) -> None:
        self._table = code_tables.local_states
        self.status_of = lru_cache(maxsize=4096)(self._status_of)
        self.state_for = lru_cache(maxsize=4096)(self._state_for)

    def _status_of(self, code: str, on: date) -> int | None:
        row = self._table.get(code, on)
        return None if row is None else int(row.status_code)

    def _state_for(self, kind: str, on: date) -> str:
        step = STEPS[kind]
        if self._status_of(step.preferred_state, on) == step.status:
            return step.preferred_state
        for row in self._table.rows(on):
            if int(row.status_code) == step.status:
                return str(row.code)
        raise LookupError(f"no local state maps to portal status {step.status} on {on}")

    def is_valid(self, code: str, on: date) -> bool:
        return self._status_of(code, on) is not None
