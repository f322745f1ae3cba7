"""Named defects the generator puts into ~1% of records on purpose, so the quality gate has work.

Each defect breaks exactly one rule, the kind of error real city data shows; the city simulator
lists them at ``GET /sandbox/defects`` so a test can check that the hub quarantined exactly these
records and for the right reason.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sandbox.city_system import calibration as cal

__all__ = ["DEFECTS", "apply_defects"]

Record = dict[str, Any]


def _due_before_received(rec: Record, rng: random.Random, ctx: _Ctx) -> bool:
    if rec["ngay_tiep_nhan"] is None:
        return False
    received = datetime.fromisoformat(rec["ngay_tiep_nhan"])
    rec["ngay_hen_tra"] = (received - timedelta(days=rng.randint(1, 5))).isoformat()
    return True


def _unknown_procedure(rec: Record, rng: random.Random, ctx: _Ctx) -> bool:
    for _ in range(100):
        code = f"{rng.choice((1, 2))}.{rng.randint(900_000, 999_999):06d}"
        if ctx.tables.procedures.get(code, ctx.day) is None and code not in ctx.all_procedures:
            rec["ma_tthc"] = code
            return True
    return False


def _bad_dossier_number(rec: Record, rng: random.Random, ctx: _Ctx) -> bool:
    number: str = rec["ma_ho_so"]
    agency, yymmdd, seq = number.rsplit("-", 2)
    variants = (
        f"{agency}/{yymmdd}/{seq}",  # wrong separators
        f"{agency}-{yymmdd}-{int(seq)}",  # sequence not zero-padded
        f"{agency.rsplit('.', 1)[0]}-{yymmdd}-{seq}",  # agency code without the province suffix
        f"{agency}-20{yymmdd}-{seq}",  # YYYYMMDD instead of YYMMDD
    )
    candidate = rng.choice(variants)
    if candidate == number:
        candidate = variants[0]
    rec["ma_ho_so"] = candidate
    return True


def _bad_citizen_id(rec: Record, rng: random.Random, ctx: _Ctx) -> bool:
    applicant = rec["chu_ho_so"]
    if applicant["loai"] not in ("CONG_DAN", "KHAC") or not applicant["so_giay_to"]:
        return False
    good: str = applicant["so_giay_to"]
    kind = rng.randrange(3)
    if kind == 0:  # province code that does not exist (codes are not contiguous)
        missing = [f"{n:03d}" for n in range(1, 97) if f"{n:03d}" not in ctx.provinces]
        applicant["so_giay_to"] = rng.choice(missing) + good[3:]
    elif kind == 1:  # a digit lost on the way: 11 digits
        applicant["so_giay_to"] = good[:-1]
    else:  # birth year in the future: century digit 2 (2000s) with year 99
        applicant["so_giay_to"] = good[:3] + str(2 + int(good[3]) % 2) + "99" + good[6:]
    for identifier in applicant.get("dinh_danh", []):  # the same number, listed as the applicant's identifier
        if identifier["so"] == good:
            identifier["so"] = applicant["so_giay_to"]
    return True


def _abstract_too_long(rec: Record, rng: random.Random, ctx: _Ctx) -> bool:
    filler = " Kèm theo hồ sơ gồm các thành phần theo quy định, người nộp cam kết thông tin kê khai là đúng sự thật."
    text = rec["trich_yeu"]
    while len(text) <= 1000 + rng.randint(0, 400):
        text += filler
    rec["trich_yeu"] = text
    return True


def _missing_applicant_name(rec: Record, rng: random.Random, ctx: _Ctx) -> bool:
    rec["chu_ho_so"]["ho_ten"] = rng.choice(("", "   "))
    return True


def _unknown_local_state(rec: Record, rng: random.Random, ctx: _Ctx) -> bool:
    for candidate in ("CHO_PHE_DUYET_CU", "DA_CHUYEN_MOT_CUA_CU", "TAM_DUNG_KHAC"):
        if ctx.tables.local_states.get(candidate, ctx.day) is None:
            rec["trang_thai"] = candidate
            return True
    return False


def _date_malformed(rec: Record, rng: random.Random, ctx: _Ctx) -> bool:
    keys = [k for k in ("ngay_tiep_nhan", "ngay_hen_tra", "ngay_nop") if rec[k] is not None]
    key = rng.choice(keys)
    value = datetime.fromisoformat(rec[key])
    # The city's legacy screens print dd/MM/yyyy HH:mm:ss; some exports leak that format.
    rec[key] = value.strftime("%d/%m/%Y %H:%M:%S")
    return True


DEFECTS: dict[str, Callable[[Record, random.Random, _Ctx], bool]] = {
    "due_before_received": _due_before_received,
    "unknown_procedure": _unknown_procedure,
    "bad_dossier_number": _bad_dossier_number,
    "bad_citizen_id": _bad_citizen_id,
    "abstract_too_long": _abstract_too_long,
    "missing_applicant_name": _missing_applicant_name,
    "unknown_local_state": _unknown_local_state,
    "date_malformed": _date_malformed,
}


class _Ctx:
    def __init__(self, code_tables: Any, day: date) -> None:
        self.tables = code_tables
        self.day = day
        self.provinces = code_tables.provinces.valid_codes(day)
        self.all_procedures = {row.code for row in code_tables.procedures.all_rows()}


def apply_defects(records: list[Record], rng: random.Random, code_tables: Any, day: date) -> dict[int, str]:
    """Break ~1% of ``records`` in place, one named defect each; return ``{record id: defect}``."""
    ctx = _Ctx(code_tables, day)
    names = list(DEFECTS)
    defects: dict[int, str] = {}
    for record in records:
        if rng.random() >= cal.DEFECT_SHARE:
            continue
        first = rng.randrange(len(names))
        for offset in range(len(names)):  # the drawn defect, or the next one that applies
            name = names[(first + offset) % len(names)]
            if DEFECTS[name](record, rng, ctx):
                defects[record["id"]] = name
                break
    return defects
