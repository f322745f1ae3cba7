"""Figures the generator is calibrated to, each with its source, and how a record is classified.

Table 01 of the Hanoi decision 5390/QĐ-UBND (DOMAIN.md, seed L764-831): dossiers resolved on or
before the due date, resolved late, and still in process. Tests and benchmarks compare generated
data with these shares using :func:`classify`, the same rule the KPI uses (finished on or before
the due date = on time).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "CHANNEL_SHARES",
    "DEPARTMENT_SHARE",
    "DOSSIERS_PER_WORKING_DAY",
    "ONLINE_PAYMENT_SHARE",
    "RESULT_CODED_SHARE",
    "TABLE_01",
    "Outcome",
    "classify",
    "outcome_shares",
    "table_01_shares",
]

Outcome = Literal["on_time", "late", "in_process"]

# year -> (total, resolved on/before time, resolved late, still in process); DOMAIN.md Table 01.
TABLE_01: dict[str, tuple[int, int, int, int]] = {
    "2021": (3_510_363, 3_469_205, 10_686, 30_472),
    "2022": (3_749_210, 3_711_227, 7_419, 30_564),
    "2023": (4_055_230, 3_990_477, 10_052, 54_701),
    "2024H1": (1_935_480, 1_842_799, 9_189, 83_492),
}

# 4,055,230 dossiers in 2023 / 365 days = 11,110 a day: the brief's "~11,000 per working day".
# Spread over ~250 working days it would be ~16,000 per working day; we keep the brief's figure
# so benchmarks stay comparable, and note that a year of generated days totals less than Table 01.
DOSSIERS_PER_WORKING_DAY = 11_000
# Weekends and holidays: ASSUMPTION (brief: "much fewer, ~5%"); mostly online submissions.
NON_WORKING_DAY_FACTOR = 0.05
# "~80% of dossiers handled at departments" (DOMAIN.md; seed L1155 "chiếm 80%/tổng số hồ sơ").
DEPARTMENT_SHARE = 0.80
# City-level agency (UBND Thành phố) share: ASSUMPTION, small (few city-level procedures).
CITY_SHARE = 0.01
# Channel mix: ASSUMPTION from the project brief (~60% online, ~35% in person, ~5% postal);
# DOMAIN.md gives no split, and Hanoi's low online-services score (3.2/12, July 2024) suggests
# the real online share may be lower.
CHANNEL_SHARES = {"TRUC_TUYEN": 0.60, "TRUC_TIEP": 0.35, "BUU_CHINH": 0.05}
# Applicant types follow the procedure's field (ASSUMPTION, table in the generator): about 80%
# citizens, 14% businesses, 4% agencies/organisations, 2% other on a generated working day.
# Share of names delivered in decomposed (NFD) Unicode: ASSUMPTION.
NFD_NAME_SHARE = 0.02
# Share of records given a named defect on purpose (brief: "~1%").
DEFECT_SHARE = 0.01

# Decision 766 scores, July 2024 (DOMAIN.md; seed 002 L1034-1043): online payment 4.9/10 points,
# digitisation of dossiers and results 8.4/22. The portal's formula notes (F766, docs/interfaces.md
# 2.1) give an indicator full points at 80% and ``rate x max / 80%`` below; ASSUMED here for these
# two too, so a score s of m points reads back as a rate of s / m x 80%.
FULL_POINTS_AT = 0.80
# 4.9/10 -> 39.2% of dossiers with a fee above 0 paid online (F766 3.6), against the city's own
# goal of 100% cashless fees (seed 002 L906-908): far below the target.
ONLINE_PAYMENT_SHARE = 4.9 / 10 * FULL_POINTS_AT
# 8.4/22 -> 30.5% of results issued electronically with the procedure's result-document code and a
# link (F766 4.1; 4.2 also needs it), the rest of the group's indicators taken as alike.
RESULT_CODED_SHARE = 8.4 / 22 * FULL_POINTS_AT


def table_01_shares(year: str = "2023") -> dict[Outcome, float]:
    """Shares of on-time, late and in-process dossiers in a Table 01 row."""
    total, on_time, late, in_process = TABLE_01[year]
    return {"on_time": on_time / total, "late": late / total, "in_process": in_process / total}


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def classify(record: Mapping[str, Any]) -> Outcome:
    """Table 01 class of a city record: unfinished -> in process; finished after the due date -> late."""
    finished = _parse(record.get("ngay_ket_thuc_xu_ly"))
    if finished is None:
        return "in_process"
    due = _parse(record.get("ngay_hen_tra"))
    return "late" if due is not None and finished > due else "on_time"


def outcome_shares(records: Iterable[Mapping[str, Any]]) -> dict[Outcome, float]:
    counts: Counter[Outcome] = Counter(classify(r) for r in records)
    total = sum(counts.values()) or 1
    return {k: counts[k] / total for k in ("on_time", "late", "in_process")}
