"""Deterministic generator of one day of the city dossier system's records (interfaces.md section 1).

A generated day is the cohort of dossiers *submitted that day*, as the city system shows them at
the end of the day: every ``cap_nhat_luc`` falls within the day, after ``ngay_nop``. Their
outcomes follow Table 01 (2023 row) of DOMAIN.md: 98.40% resolved on or before the due date,
0.25% resolved late, 1.35% still in process. Resolving a day's cohort within that day is a
simplification (in reality late dossiers finish days later); it keeps every record of a day in
one extraction window, and ``POST /sandbox/advance`` moves the in-process ones on later.

Everything is drawn from ``random.Random(f"{seed}:{day}")``, so the same (day, scale, seed)
always gives identical records. Codes come from the project's versioned code tables, looked up on
the day, so a day before the July 2025 reform has districts and a day after has merged communes.
"""

from __future__ import annotations

import bisect
import itertools
import random
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any

from mappings.dossier_number import DossierNumberAllocator, SequenceExhaustedError
from mappings.working_days import add_working_days, is_working_day
from sandbox.city_system import calibration as cal
from sandbox.city_system.defects import apply_defects
from sandbox.city_system.people import (
    birth_date_for,
    company_name,
    email_for,
    make_person,
    officer_name,
    organisation_name,
    phone_number,
    tax_code,
)
from sandbox.city_system.workflow import STEPS, LocalStates
from sandbox.tables import tables

__all__ = ["GeneratedDay", "generate", "generate_day"]

# Vietnam has kept UTC+7 without daylight saving since 1975, so a fixed offset is exact and fast.
VN = timezone(timedelta(hours=7))
DAY_END = 86_399
FILE_BASE = "https://tailieu.dichvucong.hanoi.test/ho-so"  # .test never resolves (RFC 2606)
RESULT_BASE = "https://ketqua.dichvucong.hanoi.test/ho-so"

# Sub-shares inside Table 01's classes: ASSUMPTIONS (DOMAIN.md gives no breakdown).
IN_PROCESS_STATUS_SHARES = ((1, 0.25), (2, 0.20), (4, 0.40), (5, 0.10), (6, 0.05))
ON_TIME_TERMINAL_SHARES = ((3, 0.003), (7, 0.001), (8, 0.0005), (9, 0.15))  # rest: 10
LATE_RETURNED_SHARE = 0.8  # late ones already handed back (10) vs. awaiting pick-up (9)
DIGITISED_OFFLINE_SHARE = 0.8  # paper submissions scanned at the desk (target is 100%)
REUSED_SHARE = 0.1  # components taken from national databases instead of resubmitted
RETURN_BY_POST_SHARE = 0.08  # non-postal dossiers whose result goes home by post
# Of dossiers with fees, by channel: chosen so that the day's share paid online is
# ``calibration.ONLINE_PAYMENT_SHARE`` (4.9/10 points; tests/sandbox/test_generator.py checks it).
PAID_ONLINE_SHARE = {"TRUC_TUYEN": 0.62, "TRUC_TIEP": 0.06, "BUU_CHINH": 0.12}
# The Decision 766 fields (``_kpi_fields``). ASSUMPTIONS where no seed gives a figure: the city
# connected VNeID authentication and the population database (seed 002 L873-875) and the business
# register of the Ministry of Planning and Investment (L900-903), and integrated 892 of its 1,191
# online services on the national portal (L895-899) -- yet most online filings go through the
# city's own portal.
VNEID_VERIFIED_ONLINE_SHARE = 0.85  # online dossiers from a VNeID-authenticated account
PORTAL_SUBMISSION_SHARE = 0.15  # online dossiers filed on the national portal (they pay there too)
POPULATION_DB_SHARE = 0.9  # citizens' dossiers whose data were looked up in the population database
BUSINESS_DB_SHARE = 0.5  # companies' dossiers checked against the business register
# The portal's MaCSDL codes: ASSUMPTION (docs/interfaces.md 2.5 DSKetNoiCSDL: the list is unpublished).
POPULATION_DB_CODE = "1"
BUSINESS_DB_CODE = "2"
# ``noi_nop`` and ``cong_thanh_toan`` values (docs/interfaces.md section 1).
NATIONAL_PORTAL = "CONG_DVCQG"
_IDENTIFIER_KINDS = {"CONG_DAN": "CAN_CUOC", "KHAC": "CAN_CUOC", "DOANH_NGHIEP": "MA_SO_THUE"}
_NOTES = {5: "Đề nghị bổ sung thành phần hồ sơ theo phiếu yêu cầu bổ sung", 7: "Người nộp rút hồ sơ"}
SAME_DAY_PROMISE_SHARE = 0.5  # quick procedures (<= 1 day) promised back the same afternoon
HPASC_OPENED = date(2024, 10, 15)  # Decision 5390/QĐ-UBND creates the centre; 12 branches by 2025

# Which department handles a field: name keywords, in order of preference (the first keyword
# that matches a department valid on the day wins, so renamed or merged departments are found).
_FIELD_DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "HT": ("Tư pháp",), "CT": ("Tư pháp",), "LLTP": ("Tư pháp",), "CC": ("Tư pháp",), "LS": ("Tư pháp",),
    "XD": ("Xây dựng",), "QHKT": ("Quy hoạch",),
    "DD": ("Tài nguyên và Môi trường", "Nông nghiệp và Môi trường"),
    "MT": ("Tài nguyên và Môi trường", "Nông nghiệp và Môi trường"),
    "TNN": ("Tài nguyên và Môi trường", "Nông nghiệp và Môi trường"),
    "DKKD": ("Kế hoạch và Đầu tư", "Tài chính"), "DT": ("Kế hoạch và Đầu tư", "Tài chính"),
    "HKD": ("Kế hoạch và Đầu tư", "Tài chính"),
    "LD": ("Lao động", "Nội vụ"), "VL": ("Lao động", "Nội vụ"), "NCC": ("Lao động", "Nội vụ"),
    "BTXH": ("Lao động", "Y tế"),
    "GT": ("Giao thông", "Xây dựng"),
    "YT": ("Y tế",), "DUOC": ("Y tế",), "ATTP": ("Y tế",), "GD": ("Giáo dục",), "CTH": ("Công Thương",),
    "DL": ("Du lịch", "Văn hóa"), "VH": ("Văn hóa",), "TC": ("Tài chính",), "KHCN": ("Khoa học",),
    "BC": ("Thông tin và Truyền thông", "Khoa học"), "TY": ("Nông nghiệp",), "NN": ("Nông nghiệp",),
    "NV": ("Nội vụ",), "TDKT": ("Nội vụ",), "TG": ("Dân tộc và Tôn giáo", "Nội vụ"),
}  # fmt: skip
# Applicant mix by field: (business, agency/organisation, other) shares; citizens take the rest.
# ASSUMPTION: business registration, trade, transport licences are mostly companies.
_APPLICANT_MIX: dict[str, tuple[float, float, float]] = {
    "DKKD": (0.95, 0.0, 0.02), "DT": (0.9, 0.02, 0.0), "CTH": (0.85, 0.0, 0.05), "DL": (0.7, 0.0, 0.05),
    "GT": (0.3, 0.02, 0.02), "MT": (0.8, 0.1, 0.0), "TNN": (0.9, 0.05, 0.0), "XD": (0.3, 0.05, 0.0),
    "YT": (0.4, 0.05, 0.0), "DUOC": (0.6, 0.0, 0.0), "ATTP": (0.8, 0.0, 0.1), "LD": (0.85, 0.05, 0.0),
    "KHCN": (0.7, 0.2, 0.0), "BC": (0.6, 0.3, 0.0), "TC": (0.2, 0.7, 0.0), "LS": (0.8, 0.0, 0.0),
    "CC": (0.2, 0.0, 0.0), "QHKT": (0.4, 0.05, 0.0), "TY": (0.5, 0.0, 0.1), "NN": (0.4, 0.1, 0.3),
    "TDKT": (0.2, 0.6, 0.1), "NV": (0.0, 0.2, 0.6), "TG": (0.0, 0.2, 0.7), "GD": (0.1, 0.3, 0.0),
    "DD": (0.08, 0.02, 0.0),
}  # fmt: skip
_DEFAULT_MIX = (0.02, 0.005, 0.015)
_FIELD_UNITS = {
    "HT": "Phòng Hành chính tư pháp", "CT": "Phòng Hành chính tư pháp", "LLTP": "Phòng Lý lịch tư pháp",
    "XD": "Phòng Cấp phép xây dựng", "DD": "Văn phòng Đăng ký đất đai", "DKKD": "Phòng Đăng ký kinh doanh",
    "DT": "Phòng Đăng ký đầu tư", "GT": "Phòng Quản lý phương tiện và người lái", "LD": "Phòng Việc làm",
    "VL": "Trung tâm Dịch vụ việc làm", "YT": "Phòng Nghiệp vụ Y", "GD": "Phòng Khảo thí",
}  # fmt: skip
_FEE_AMOUNTS = (8_000, 10_000, 20_000, 30_000, 50_000, 100_000, 200_000, 500_000)
_DOCS_COMMON = (
    "Bản sao Căn cước công dân của người nộp",
    "Giấy ủy quyền (trường hợp nộp thay)",
    "Giấy tờ chứng minh nơi cư trú",
    "Ảnh chân dung 4x6",
)
_DOCS_BUSINESS = (
    "Bản sao Giấy chứng nhận đăng ký doanh nghiệp",
    "Điều lệ công ty",
    "Danh sách thành viên, cổ đông sáng lập",
    "Văn bản cử người đại diện theo pháp luật",
)
_DOCS_FIELD = {
    "XD": ("Bản vẽ thiết kế xây dựng", "Bản sao giấy tờ về quyền sử dụng đất"),
    "DD": ("Bản gốc Giấy chứng nhận quyền sử dụng đất", "Hợp đồng chuyển nhượng đã công chứng"),
    "HT": ("Giấy chứng sinh", "Bản sao giấy tờ hộ tịch liên quan"),
    "GT": ("Giấy khám sức khỏe người lái xe", "Bản sao giấy phép lái xe"),
    "LD": ("Giấy khám sức khỏe", "Phiếu lý lịch tư pháp"),
}
HANOI_PROVINCE = "01"  # two-digit administrative code of receiver addresses
_STREETS = ("Trần Hưng Đạo", "Nguyễn Trãi", "Láng Hạ", "Kim Mã", "Giải Phóng", "Xuân Thủy", "Nguyễn Văn Cừ")


@dataclass
class GeneratedDay:
    """A generated day: the records (city format) and the defects put in on purpose (id -> name)."""

    day: date
    scale: float
    seed: int
    records: list[dict[str, Any]]
    defects: dict[int, str] = field(default_factory=dict)


def generate_day(day: date, scale: float = 1.0, seed: int = 0) -> list[dict[str, Any]]:
    """The city records of ``day`` (about 11,000 x ``scale`` on a working day), deterministic."""
    return generate(day, scale, seed).records


def generate(
    day: date,
    scale: float = 1.0,
    seed: int = 0,
    *,
    code_tables: Any | None = None,
    include_ministry: bool = False,
) -> GeneratedDay:
    """Like :func:`generate_day`, also telling which records carry which named defect.

    ``include_ministry=True`` also generates dossiers of procedures processed on ministry software
    (which the real city system does not see), e.g. to feed a ministry simulator.
    """
    if scale < 0:
        raise ValueError("scale must not be negative")
    ctx = _DayContext(day, seed, code_tables if code_tables is not None else tables(), include_ministry)
    rng = random.Random(f"{seed}:{day.isoformat()}")
    factor = 1.0 if is_working_day(day) else cal.NON_WORKING_DAY_FACTOR
    count = round(cal.DOSSIERS_PER_WORKING_DAY * scale * factor * rng.uniform(0.97, 1.03))
    drafts = [_Draft.draw(rng, ctx, i) for i in range(count)]
    records = _number_and_build(drafts, ctx)
    defects = apply_defects(records, random.Random(f"{seed}:{day.isoformat()}:defects"), ctx.tables, day)
    return GeneratedDay(day, scale, seed, records, defects)


class _Chooser:
    """Weighted choice by bisecting cumulative weights (``random.choices`` rebuilds them each call)."""

    def __init__(self, items: list[Any], weights: list[float]) -> None:
        self.items = items
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1] if self.cum else 0.0

    def pick(self, rng: random.Random) -> Any:
        return self.items[min(bisect.bisect_right(self.cum, rng.random() * self.total), len(self.items) - 1)]


@lru_cache(maxsize=1)
def _clock() -> tuple[str, ...]:
    """``"HH:MM:SS+07:00"`` for every second of a day, built once per process."""
    return tuple(f"{h:02d}:{m:02d}:{s:02d}+07:00" for h in range(24) for m in range(60) for s in range(60))


@dataclass(frozen=True, slots=True)
class _ProcedureText:
    lower_name: str
    application: str
    fees: tuple[tuple[str, str, int], ...]
    result: str

    @classmethod
    def of(cls, procedure: Any) -> _ProcedureText:
        name: str = procedure.name
        lower = _lower_first(name)
        result = name[4:5].upper() + name[5:] if name.startswith("Cấp ") else f"Văn bản kết quả {lower}"
        return cls(lower, f"Đơn đề nghị {lower}", tuple(_fees(procedure.code, lower)), result)


class _DayContext:
    """Everything about the day that does not change per record: tables, agencies, choosers."""

    def __init__(self, day: date, seed: int, code_tables: Any, include_ministry: bool = False) -> None:
        self.day = day
        self.seed = seed
        self.tables = code_tables
        self.states = LocalStates(code_tables)
        self.working = is_working_day(day)
        self.midnight = datetime.combine(day, time(0), VN)
        self.day_iso = day.isoformat() + "T"
        shares = cal.table_01_shares("2023")
        self.on_time_below = shares["on_time"]
        self.late_below = shares["on_time"] + shares["late"]
        self._due: dict[int, datetime] = {}
        self._deadlines: dict[int, str] = {}
        self._texts: dict[str, _ProcedureText] = {}
        agencies = code_tables.agencies.rows(day)
        by_level: dict[str, list[Any]] = {}
        for row in agencies:
            by_level.setdefault(row.level, []).append(row)
        # The service centre receives but never decides dossiers (DOMAIN.md): not a handler.
        self.departments = [a for a in by_level.get("department", []) if "Phục vụ hành chính" not in a.name]
        self.city_agencies = by_level.get("city", []) or self.departments
        self.local_agencies = by_level.get("district") or by_level.get("commune") or self.departments
        # Procedures processed on ministry software never reach the city system (DOMAIN.md: the
        # cause of the count gap); their dossiers come back through the ministry adapters.
        procedures = [
            p
            for p in code_tables.procedures.rows(day)
            if p.weight > 0 and (include_ministry or not p.processed_on_ministry_software)
        ]
        groups = {
            "department": [p for p in procedures if p.authority_level == "department"],
            "city": [p for p in procedures if p.authority_level == "city"],
            "local": [p for p in procedures if p.authority_level in ("district", "commune")],
        }
        shares = {"department": cal.DEPARTMENT_SHARE, "city": cal.CITY_SHARE}
        shares["local"] = 1.0 - shares["department"] - shares["city"]
        self.levels = _Chooser([lvl for lvl in shares if groups[lvl]], [shares[lvl] for lvl in shares if groups[lvl]])
        self.procedures = {
            lvl: _Chooser(group, [float(p.weight) for p in group]) for lvl, group in groups.items() if group
        }
        # P(online | procedure offers online) chosen so that the overall online share is ~60%.
        capable = 0.0
        for lvl, chooser in self.procedures.items():
            share = shares[lvl] / self.levels.total
            weight_online = sum(float(p.weight) for p in chooser.items if p.online_level != "none")
            capable += share * weight_online / chooser.total
        self.p_online = min(0.97, cal.CHANNEL_SHARES["TRUC_TUYEN"] / capable) if capable else 0.0
        self.provinces = sorted(code_tables.provinces.valid_codes(day))
        # Where postal results go: the city's communes in force that day (126 after the 2025 reform).
        self.communes = [r.code for r in code_tables.communes.rows(day) if r.province_code == HANOI_PROVINCE]
        self._department_for: dict[str, Any] = {}
        self._officers: dict[str, dict[str, list[tuple[str, str]]]] = {}

    def department_for(self, field_code: str) -> Any:
        if field_code not in self._department_for:
            found = None
            for keyword in _FIELD_DEPARTMENTS.get(field_code, ()):
                found = next((a for a in self.departments if keyword in a.name), None)
                if found is not None:
                    break
            if found is None:  # unknown field: a stable department chosen by hash
                found = self.departments[zlib.crc32(field_code.encode()) % len(self.departments)]
            self._department_for[field_code] = found
        return self._department_for[field_code]

    def officers(self, agency: Any) -> dict[str, list[tuple[str, str]]]:
        """A small stable staff per agency (seeded by the agency code, not by record order)."""
        code = agency.code
        if code not in self._officers:
            rng = random.Random(f"{self.seed}:{code}:staff")
            level = agency.level
            leader = {
                "department": "Phó Giám đốc Sở",
                "city": "Phó Chủ tịch UBND Thành phố",
                "district": "Phó Chủ tịch UBND quận, huyện",
                "commune": "Phó Chủ tịch UBND xã, phường",
            }[level]
            self._officers[code] = {
                "desk": [(officer_name(rng), "Công chức tiếp nhận và trả kết quả") for _ in range(4)],
                "officer": [(officer_name(rng), rng.choice(("Chuyên viên", "Chuyên viên chính"))) for _ in range(5)],
                "leader": [(officer_name(rng), leader) for _ in range(2)],
                "system": [("Hệ thống dịch vụ công", "")],
            }
        return self._officers[code]

    def at(self, seconds: int) -> str:
        """ISO 8601 with ``+07:00`` for a second of the day (table lookup: ~200k calls a day)."""
        return self.day_iso + _clock()[seconds]

    def due(self, max_days: int) -> datetime:
        """17:00 on the working day ``max_days`` working days after the day (cached)."""
        if max_days not in self._due:
            self._due[max_days] = datetime.combine(add_working_days(self.day, max_days), time(17), VN)
        return self._due[max_days]

    def step_deadline(self, seconds: int) -> str:
        """A step deadline: a moment today, or 17:00 on a later working day (offices close at 17:00)."""
        if seconds <= DAY_END:
            return self.at(seconds)
        offset = seconds // 86_400
        if offset not in self._deadlines:
            later = add_working_days(self.day + timedelta(days=offset), 0)
            self._deadlines[offset] = datetime.combine(later, time(17), VN).isoformat()
        return self._deadlines[offset]

    def procedure_text(self, procedure: Any) -> _ProcedureText:
        """Wording and fees derived from a procedure, computed once per procedure."""
        code = procedure.code
        if code not in self._texts:
            self._texts[code] = _ProcedureText.of(procedure)
        return self._texts[code]


def _pick_share(rng: random.Random, shares: tuple[tuple[int, float], ...], default: int) -> int:
    u = rng.random()
    for value, share in shares:
        if u < share:
            return value
        u -= share
    return default


def _uniform_s(rng: random.Random, lo: float, hi: float) -> int:
    return int(lo + (hi - lo) * rng.random()) if hi > lo else int(lo)


H = 3600
M = 60


@dataclass
class _Draft:
    """A record's random choices before numbering (numbers follow submission order per agency)."""

    index: int
    outcome: str
    status: int
    procedure: Any
    agency: Any
    channel: str
    applicant: dict[str, Any]
    applicant_nfc: str
    steps: list[tuple[str, int]]  # (step kind, seconds after midnight)
    submitted: int
    received: int | None
    due: datetime | None
    finished: int | None
    returned: int | None
    updated: int
    return_by_post: bool
    paid_online: bool
    doc_names: list[str]
    digitised: list[bool]
    reused: list[bool]
    abstract: str
    branch: int

    @classmethod
    def draw(cls, rng: random.Random, ctx: _DayContext, index: int) -> _Draft:
        u = rng.random()
        outcome = "on_time" if u < ctx.on_time_below else "late" if u < ctx.late_below else "in_process"
        level = ctx.levels.pick(rng)
        procedure = ctx.procedures[level].pick(rng)
        if level == "department":
            agency = ctx.department_for(procedure.field_code)
        elif level == "city":
            agency = rng.choice(ctx.city_agencies)
        else:
            agency = rng.choice(ctx.local_agencies)
        online_ok = procedure.online_level != "none"
        postal = cal.CHANNEL_SHARES["BUU_CHINH"]
        if not ctx.working:  # weekends: online, plus the centre's duty desk (seed L1247)
            channel = "TRUC_TUYEN" if online_ok and rng.random() < 0.9 else "TRUC_TIEP"
        elif rng.random() < postal:
            channel = "BUU_CHINH"
        elif online_ok and rng.random() < ctx.p_online / (1 - postal):
            channel = "TRUC_TUYEN"
        else:
            channel = "TRUC_TIEP"
        if outcome == "in_process":
            status = _pick_share(rng, IN_PROCESS_STATUS_SHARES, 4)
            if status == 1 and channel != "TRUC_TUYEN":
                status = 2  # only online dossiers wait for intake; a desk receives on the spot
        elif outcome == "on_time":
            status = _pick_share(rng, ON_TIME_TERMINAL_SHARES, 10)
        else:
            status = 10 if rng.random() < LATE_RETURNED_SHARE else 9
        applicant, name_nfc = _applicant(rng, ctx, procedure.field_code)
        timeline = _timeline(rng, ctx, outcome, status, channel, procedure)
        n_docs = rng.randint(1, 3)
        pool = list(_DOCS_BUSINESS if applicant["loai"] == "DOANH_NGHIEP" else _DOCS_COMMON)
        pool += _DOCS_FIELD.get(procedure.field_code, ())
        text = ctx.procedure_text(procedure)
        doc_names = [text.application, *rng.sample(pool, n_docs)]
        digitised = [channel == "TRUC_TUYEN" or rng.random() < DIGITISED_OFFLINE_SHARE for _ in doc_names]
        reused = [rng.random() < REUSED_SHARE for _ in doc_names]
        has_fees = bool(text.fees)
        return cls(
            index=index,
            outcome=outcome,
            status=status,
            procedure=procedure,
            agency=agency,
            channel=channel,
            applicant=applicant,
            applicant_nfc=name_nfc,
            return_by_post=channel == "BUU_CHINH" or rng.random() < RETURN_BY_POST_SHARE,
            paid_online=has_fees and rng.random() < PAID_ONLINE_SHARE[channel],
            doc_names=doc_names,
            digitised=digitised,
            reused=reused,
            abstract=_abstract(rng, procedure, text, name_nfc),
            branch=rng.randint(1, 12),
            **timeline,
        )


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _abstract(rng: random.Random, procedure: Any, text: _ProcedureText, name: str) -> str:
    abstract = f"V/v {text.lower_name} cho {name}"
    if procedure.field_code in ("XD", "DD"):
        abstract += f"; địa chỉ: số {rng.randint(1, 200)} phố {rng.choice(_STREETS)}, Hà Nội"
    return abstract


def _applicant(rng: random.Random, ctx: _DayContext, field_code: str) -> tuple[dict[str, Any], str]:
    business, organisation, other = _APPLICANT_MIX.get(field_code, _DEFAULT_MIX)
    u = rng.random()
    if u < business:
        name = company_name(rng)
        return {
            "ho_ten": name,
            "loai": "DOANH_NGHIEP",
            "so_giay_to": tax_code(rng),
            "dien_thoai": phone_number(rng) if rng.random() < 0.9 else None,
            "email": f"lienhe{rng.randint(1, 9999)}@congty.vn" if rng.random() < 0.7 else None,
            "ngay_sinh": None,
        }, name
    if u < business + organisation:
        name = organisation_name(rng)
        return {
            "ho_ten": name,
            "loai": "CO_QUAN",
            "so_giay_to": None,
            "dien_thoai": phone_number(rng) if rng.random() < 0.8 else None,
            "email": None,
            "ngay_sinh": None,
        }, name
    person = make_person(rng, ctx.day, ctx.provinces, nfd_share=cal.NFD_NAME_SHARE)
    kind = "KHAC" if u < business + organisation + other else "CONG_DAN"
    return {
        "ho_ten": person.display_name,
        "loai": kind,
        "so_giay_to": person.citizen_id,
        "dien_thoai": phone_number(rng) if rng.random() < 0.95 else None,
        "email": email_for(rng, person.name) if rng.random() < 0.35 else None,
        # From the ID by hash, not from ``rng``: the rest of the day's records stay as they were.
        # A later ``bad_citizen_id`` defect garbles the ID but keeps the person's true birth date.
        "ngay_sinh": birth_date_for(person.citizen_id).isoformat(),
    }, person.name


def _office_time(rng: random.Random, latest: int = 17 * H) -> int:
    """A moment in office hours (8:00-12:00, 13:00-17:00), no later than ``latest``."""
    for _ in range(8):
        t = _uniform_s(rng, 8 * H, 12 * H) if rng.random() < 0.55 else _uniform_s(rng, 13 * H, 17 * H)
        if t <= latest:
            return t
    return min(latest, 8 * H + _uniform_s(rng, 0, 30 * M))


def _submit_time(rng: random.Random, channel: str, latest: int) -> int:
    if channel != "TRUC_TUYEN":
        return _office_time(rng, latest)
    # Online: 24/7 with a daytime peak.
    if rng.random() < 0.8:
        return _uniform_s(rng, 7 * H, min(latest, 22 * H))
    return _uniform_s(rng, 0, min(latest, 7 * H))


def _receipt_time(rng: random.Random, channel: str, submitted: int) -> int:
    if channel == "TRUC_TIEP":
        return submitted + _uniform_s(rng, 3 * M, 15 * M)  # target: wait <= 15 minutes
    if channel == "BUU_CHINH":
        return submitted + _uniform_s(rng, 10 * M, 60 * M)
    return max(submitted, int(7.5 * H)) + _uniform_s(rng, 5 * M, 90 * M)


def _timeline(
    rng: random.Random, ctx: _DayContext, outcome: str, status: int, channel: str, procedure: Any
) -> dict[str, Any]:
    """Submission, receipt, due, finish, return times and the history steps, all within the day."""
    quick = int(procedure.max_days) <= 1
    online = channel == "TRUC_TUYEN"
    if status == 1:
        submitted = _submit_time(rng, channel, DAY_END - 10 * M)
        kinds = ["submit"]
        if rng.random() < 0.2:
            kinds.append("await_vneid")
        steps = [(k, submitted + i * _uniform_s(rng, 5, 120)) for i, k in enumerate(kinds)]
        return _finish_timeline(rng, submitted, None, None, None, None, steps)

    # Submitted by 16:30 so that intake (and, for resolved ones, the decision) fits in the day.
    submitted = _submit_time(rng, channel, int(16.5 * H))
    received = _receipt_time(rng, channel, submitted)
    steps: list[tuple[str, int]] = [("submit", submitted)] if online else []

    if status == 3:  # refused at the desk: no receipt, no due date
        steps.append(("reject", received))
        return _finish_timeline(rng, submitted, None, None, received, None, steps)

    # Late ones were promised back the same day (the cohort is resolved within the day).
    same_day = outcome == "late" or (quick and outcome == "on_time" and rng.random() < SAME_DAY_PROMISE_SHARE)
    if same_day:
        due = ctx.midnight + timedelta(seconds=min(received + _uniform_s(rng, 1 * H, 3 * H), DAY_END - 4 * H))
    else:
        due = ctx.due(int(procedure.max_days))
    due_s = int((due - ctx.midnight).total_seconds())
    steps.append(("receive", received))

    if outcome == "in_process":
        t = received
        plan = {2: [], 4: ["transfer"] + (["process"] if rng.random() < 0.5 else []), 5: ["transfer", "supplement"]}
        for kind in plan.get(status, ["transfer", "payment"]):
            t = min(t + _uniform_s(rng, 10 * M, 3 * H), DAY_END - 5 * M)
            steps.append((kind, t))
        return _finish_timeline(rng, submitted, received, due, None, None, steps)

    if outcome == "late":
        finished = min(due_s + _uniform_s(rng, 15 * M, 3 * H), DAY_END - 30 * M)
        finished = max(finished, due_s + 60)
    else:
        upper = min(due_s, int(17.75 * H))
        finished = (
            _uniform_s(rng, received + 5 * M, upper)
            if upper > received + 5 * M
            else received + _uniform_s(rng, M, 5 * M)
        )
    span = finished - received
    middle = {7: ["transfer", "withdraw"], 8: ["transfer", "process", "stop"]}.get(status)
    if middle is None:
        middle = ["transfer", "process", "sign", "finish"] if span >= 20 * M else ["transfer", "finish"]
    fractions = [(i + 1) / len(middle) for i in range(len(middle))]
    for kind, frac in zip(middle, fractions, strict=True):
        steps.append((kind, received + int(span * frac)))
    returned = None
    if status == 10:
        returned = min(finished + _uniform_s(rng, 5 * M, 2 * H), DAY_END - 2 * M)
        steps.append(("return", returned))
    return _finish_timeline(rng, submitted, received, due, finished, returned, steps)


def _finish_timeline(
    rng: random.Random,
    submitted: int,
    received: int | None,
    due: datetime | None,
    finished: int | None,
    returned: int | None,
    steps: list[tuple[str, int]],
) -> dict[str, Any]:
    last = max(t for _, t in steps)
    updated = min(last + _uniform_s(rng, 0, 90), DAY_END)
    return {
        "submitted": submitted,
        "received": received,
        "due": due,
        "finished": finished,
        "returned": returned,
        "steps": steps,
        "updated": updated,
    }


def _fees(code: str, name: str) -> list[tuple[str, str, int]]:
    """Fees are a property of the procedure (same code, same fees), chosen by a stable hash."""
    h = zlib.crc32(code.encode())
    if h % 100 < 35:
        return []
    fees = [("LP1", f"Lệ phí {name}", _FEE_AMOUNTS[h % len(_FEE_AMOUNTS)])]
    if h % 7 == 0:
        fees.append(("LP2", "Phí thẩm định hồ sơ", _FEE_AMOUNTS[(h // 7) % len(_FEE_AMOUNTS)] * 2))
    return fees


def _result_name(status: int, text: _ProcedureText) -> str | None:
    if status == 3:
        return "Phiếu từ chối tiếp nhận giải quyết hồ sơ"
    if status == 8:
        return "Thông báo dừng xử lý hồ sơ"
    return text.result if status in (9, 10) else None


def _number_and_build(drafts: list[_Draft], ctx: _DayContext) -> list[dict[str, Any]]:
    """Give numbers in submission order (per-agency daily sequence) and build the city records."""
    order = sorted(drafts, key=lambda d: (d.submitted, d.index))
    allocators: dict[str, DossierNumberAllocator] = {}
    base_id = int(ctx.day.strftime("%Y%m%d")) * 1_000_000
    records = []
    for rank, draft in enumerate(order):
        number = _allocate(allocators, draft, ctx)
        records.append(_build(draft, ctx, base_id + rank + 1, number))
    return records


def _allocate(allocators: dict[str, DossierNumberAllocator], draft: _Draft, ctx: _DayContext) -> str:
    """Next number of the draft's agency; a full agency (9999 a day) hands over to a department."""
    candidates = [draft.agency, *ctx.departments]
    for agency in candidates:
        allocator = allocators.setdefault(agency.code, DossierNumberAllocator(agency.code, ctx.day))
        try:
            number = allocator.next()
        except SequenceExhaustedError:
            continue
        draft.agency = agency
        return number.format()
    raise SequenceExhaustedError(f"every agency has issued 9999 numbers on {ctx.day}")


def _delivery_address(d: _Draft, ctx: _DayContext, number: str) -> dict[str, Any]:
    """Where a postal result goes: the applicant, at a Hanoi address in a commune valid that day.

    Drawn from its own RNG keyed by the dossier number, so adding it left every other field of
    every record as it was; an applicant who gave no phone gives one for the courier.
    """
    rng = random.Random(f"{ctx.seed}:{number}:delivery")
    house, lane, name = rng.randint(1, 300), rng.randint(2, 180), rng.choice(_STREETS)
    street = f"Số {house} ngõ {lane} phố {name}" if rng.random() < 0.3 else f"Số {house} phố {name}"
    return {
        "ho_ten": d.applicant["ho_ten"],
        "dien_thoai": d.applicant.get("dien_thoai") or phone_number(rng),
        "dia_chi": street,
        "ma_xa": rng.choice(ctx.communes),
        "ma_tinh": HANOI_PROVINCE,
    }


def _build(d: _Draft, ctx: _DayContext, record_id: int, number: str) -> dict[str, Any]:
    proc = d.procedure
    at = ctx.at
    day = ctx.day
    staff = ctx.officers(d.agency)
    level = d.agency.level
    field_code = proc.field_code
    desk_unit = (
        f"Trung tâm Phục vụ hành chính công Thành phố - Chi nhánh số {d.branch}"
        if level == "department" and day >= HPASC_OPENED
        else "Bộ phận Một cửa"
    )
    units = {
        "system": "Cổng Dịch vụ công Thành phố",
        "desk": desk_unit,
        "officer": _FIELD_UNITS.get(field_code, "Phòng Chuyên môn") if level == "department" else "Bộ phận chuyên môn",
        "leader": "Ban Giám đốc" if level == "department" else "Lãnh đạo Ủy ban nhân dân",
    }
    received = d.received
    due_s = int((d.due - ctx.midnight).total_seconds()) if d.due is not None else None
    history = []
    previous = d.submitted
    fractions = {"receive": 0.05, "transfer": 0.1, "process": 0.6, "sign": 0.8, "supplement": 0.6, "payment": 0.6}
    for i, (kind, t) in enumerate(d.steps):
        step = STEPS[kind]
        who, title = staff[step.role][(record_id + i) % len(staff[step.role])]
        deadline = None
        if due_s is not None and received is not None and kind not in ("submit", "await_vneid"):
            target = received + int((due_s - received) * fractions.get(kind, 1.0))
            deadline = ctx.step_deadline(max(previous, target))
        history.append(
            {
                "stt": i + 1,
                "nguoi_xu_ly": who,
                "chuc_danh": title,
                "phong_ban": units[step.role],
                "thoi_diem": at(t),
                "noi_dung": step.content,
                "trang_thai": ctx.states.state_for(kind, day),
                "ngay_bat_dau": at(previous),
                "han_xu_ly": deadline,
            }
        )
        previous = t
    docs = [
        {
            "ma": f"TL{i + 1}",
            "ten": name,
            "url": f"{FILE_BASE}/{record_id}/TL{i + 1}.pdf",
            "da_so_hoa": d.digitised[i],
            "tai_su_dung": d.reused[i],
        }
        for i, name in enumerate(d.doc_names)
    ]
    text = ctx.procedure_text(proc)
    kpi_rng = random.Random(f"{ctx.seed}:{number}:kpi")  # its own stream: every other field stays as it was
    result_name = _result_name(d.status, text)
    results = []
    if result_name:
        coded = d.status in RESOLVED and kpi_rng.random() < cal.RESULT_CODED_SHARE
        results.append(
            {
                "ma": "KQ1",
                "ten": result_name,
                "url": f"{RESULT_BASE}/{record_id}/KQ1.pdf",
                # The procedure's result-document code from the portal's catalogue (KETQUATHUCHIEN.MAKETQUA).
                "ma_giay_to_ket_qua": f"KQ.{proc.code}" if coded else None,
            }
        )
    return {
        "id": record_id,
        "ma_ho_so": number,
        "ma_tthc": proc.code,
        "ten_tthc": proc.name,
        "ma_linh_vuc": field_code,
        "kenh_nop": d.channel,
        "chu_ho_so": d.applicant,
        "ngay_nop": at(d.submitted),
        "ngay_tiep_nhan": at(received) if received is not None else None,
        "ngay_hen_tra": d.due.isoformat() if d.due is not None else None,
        "ngay_ket_thuc_xu_ly": at(d.finished) if d.finished is not None else None,
        "ngay_tra": at(d.returned) if d.returned is not None else None,
        "trang_thai": history[-1]["trang_thai"],
        "trich_yeu": d.abstract,
        "don_vi_xu_ly": d.agency.code,
        "tra_ket_qua_qua_buu_chinh": d.return_by_post,
        "dia_chi_nhan_ket_qua": _delivery_address(d, ctx, number) if d.return_by_post else None,
        "thanh_toan_truc_tuyen": d.paid_online,
        "tai_lieu": docs,
        "le_phi": [{"ma": code, "ten": name, "so_tien": amount} for code, name, amount in text.fees],
        "ket_qua": results,
        "qua_trinh_xu_ly": history,
        **_kpi_fields(d, ctx, kpi_rng),
        "cap_nhat_luc": at(d.updated),
    }


RESOLVED = (9, 10)


def _kpi_fields(d: _Draft, ctx: _DayContext, rng: random.Random) -> dict[str, Any]:
    """What the portal scores the city by (Decision 766), at the rates named above.

    The applicant's identifier is the ID or tax code the record already carries, under ``chu_ho_so``
    like the rest of the applicant; the refusal time is the intake refusal's.
    """
    online = d.channel == "TRUC_TUYEN"
    on_portal = online and rng.random() < PORTAL_SUBMISSION_SHARE
    applicant = d.applicant
    kind = _IDENTIFIER_KINDS.get(applicant["loai"])
    if kind and applicant["so_giay_to"]:
        applicant["dinh_danh"] = [{"loai": kind, "so": applicant["so_giay_to"]}]
    else:
        applicant["dinh_danh"] = []
    databases = []
    if kind == "CAN_CUOC" and rng.random() < POPULATION_DB_SHARE:
        databases.append(POPULATION_DB_CODE)
    elif kind == "MA_SO_THUE" and rng.random() < BUSINESS_DB_SHARE:
        databases.append(BUSINESS_DB_CODE)
    return {
        "noi_nop": NATIONAL_PORTAL if on_portal else "CONG_DVC_THANH_PHO" if online else "BO_PHAN_MOT_CUA",
        "tai_khoan_xac_thuc_vneid": online and rng.random() < VNEID_VERIFIED_ONLINE_SHARE,
        "cong_thanh_toan": (NATIONAL_PORTAL if on_portal else "CONG_THANH_PHO") if d.paid_online else None,
        "csdl_khai_thac": databases,
        "ma_tai_khoan_dvcqg": str(rng.randint(10_000_000, 99_999_999)) if on_portal else None,
        "ngay_tu_choi": ctx.at(d.finished) if d.status == 3 and d.finished is not None else None,
        "ghi_chu": _NOTES.get(d.status),
    }
