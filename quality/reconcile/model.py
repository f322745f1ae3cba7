"""The reconciliation document: differences by dossier, counts, identities, KPIs (``hub.reconciliation/3``).

The report renderer draws only from :meth:`Reconciliation.to_dict`, never from the store, so a
report can be re-rendered from a saved JSON. Only dossier numbers, agency and procedure codes,
status codes, source names and quality-rule names leave the engine -- never a payload -- so the
document can be written to a report or a log without masking anything.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
SCHEMA = "hub.reconciliation/3"

PeriodKind = Literal["day", "month", "quarter", "year", "range"]


class DifferenceClass(StrEnum):
    """Every record-level difference the hub names (issue 6).

    A city dossier falls in at most one portal class (the first that applies, in this order:
    missing at portal, quarantined, pending, behind at portal), so the counts of a source add up,
    and in at most one postal class (return by post: no order the carrier holds, or delivered
    while the dossier is not closed) -- a second dimension, so a dossier can be listed once in each.
    A ministry dossier is matched to a city dossier (by the rule the ministry section names), or a
    duplicate of one (same number, other content), or ministry-only, or -- when several city
    dossiers of the same applicant, procedure and day fit -- an ambiguous match. A payment on the
    portal's payment platform is matched to the dossier claiming it: claimed but not paid, paid but
    not claimed, or paid another amount (a third dimension, checked when the platform's transaction
    list was fetched for the period). The engine reports
    in ``counts`` only the classes it checks (``Reconciliation.checked``): ``extra_at_portal`` only
    when the portal's export was fetched for the period (then a city dossier the portal
    acknowledged but no longer holds is missing at the portal too).
    """

    MISSING_AT_PORTAL = "missing_at_portal"
    EXTRA_AT_PORTAL = "extra_at_portal"
    BEHIND_AT_PORTAL = "behind_at_portal"
    QUARANTINED = "quarantined"
    PENDING = "pending"
    MINISTRY_ONLY = "ministry_only"
    MINISTRY_AMBIGUOUS = "ministry_ambiguous_match"
    DUPLICATE = "duplicate"
    POSTAL_NO_ORDER = "postal_no_order"
    POSTAL_DELIVERED_NOT_CLOSED = "postal_delivered_not_closed"
    # Online payment on the portal's payment platform (issue 20; ``quality.reconcile.payments``).
    PAYMENT_UNCLAIMED = "payment_unclaimed"
    PAYMENT_NOT_PAID = "payment_not_paid"
    PAYMENT_AMOUNT_DIFFERS = "payment_amount_differs"


# The one class a dossier is counted in when several sides see it differ: the cause before its
# consequences. A dossier processed only on ministry software is ministry-only, and the portal
# holding it (extra at the portal, explained by that pull-back) is a flag on it; a quarantined
# result whose postal order was therefore never placed is quarantined, flagged "no postal order".
# So every dossier is in exactly one class, the class table adds up to the dossiers that differ,
# and the other classes a dossier also shows are listed apart as flags.
PRECEDENCE: tuple[DifferenceClass, ...] = (
    DifferenceClass.MISSING_AT_PORTAL,
    DifferenceClass.QUARANTINED,
    DifferenceClass.PENDING,
    DifferenceClass.BEHIND_AT_PORTAL,
    DifferenceClass.DUPLICATE,
    DifferenceClass.MINISTRY_AMBIGUOUS,
    DifferenceClass.MINISTRY_ONLY,
    DifferenceClass.EXTRA_AT_PORTAL,
    DifferenceClass.POSTAL_NO_ORDER,
    DifferenceClass.POSTAL_DELIVERED_NOT_CLOSED,
    DifferenceClass.PAYMENT_NOT_PAID,
    DifferenceClass.PAYMENT_AMOUNT_DIFFERS,
    DifferenceClass.PAYMENT_UNCLAIMED,
)

# The classes the hub's own process produces and resolves by a named procedure, so a period whose
# differences are all of them is "explained" rather than "not reconciled": held back with a rule
# (quarantined), being retried (pending), one sync behind (behind at the portal), counted from a
# ministry's pull-back (ministry-only), delivered by the carrier before the city closed the dossier.
# A portal losing or gaining dossiers no source explains, a dossier processed twice, a result to
# post without an order are not expected. ``HUB_RECONCILE_EXPECTED`` replaces the set (hub.jobs).
DEFAULT_EXPECTED: frozenset[DifferenceClass] = frozenset(
    {
        DifferenceClass.QUARANTINED,
        DifferenceClass.PENDING,
        DifferenceClass.BEHIND_AT_PORTAL,
        DifferenceClass.MINISTRY_ONLY,
        DifferenceClass.POSTAL_DELIVERED_NOT_CLOSED,
    }
)


def parse_classes(text: str) -> frozenset[DifferenceClass]:
    """``"quarantined, pending"`` -> the classes; an unknown name is refused with the known ones."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in {k.value for k in DifferenceClass}]
    if unknown:
        known = ", ".join(k.value for k in PRECEDENCE)
        raise ValueError(f"unknown difference class {', '.join(unknown)}: the classes are {known}")
    return frozenset(DifferenceClass(name) for name in names)


class VerdictStatus(StrEnum):
    """What a period's reconciliation concludes, the word an official reads first.

    ``no_data``: no source holds a dossier of the period -- nothing was compared, so nothing is
    claimed to agree. ``reconciled``: every source agrees and every identity holds. ``explained``:
    every identity holds and every differing dossier is of an expected class. ``not_reconciled``:
    an identity fails, a dossier differs in a class not expected, or a source the period should be
    compared with could not be (``Reconciliation.compared``: the portal's own listing not read).

    The last is the rule for a missing source: a report cannot vouch for what it did not look at
    -- without the portal's listing, a dossier the portal lost or holds in addition goes unseen --
    so it is never "reconciled" or "explained" as a whole; it says which source is missing and how
    to fetch it, and its figures are still shown.
    """

    NO_DATA = "no_data"
    RECONCILED = "reconciled"
    EXPLAINED = "explained"
    NOT_RECONCILED = "not_reconciled"


_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-[Qq]([1-4])")
_YEAR = re.compile(r"(\d{4})")


@dataclass(frozen=True)
class Period:
    """Days ``first`` to ``last`` inclusive, as the Hanoi calendar counts them.

    A dossier belongs to the period of its intake day: the day in its number
    (``{agency}-{YYMMDD}-{NNNN}``, what the city's own reports count by), else its reception time,
    else its source update time, both taken in Hanoi time.
    """

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"period ends ({self.last}) before it starts ({self.first})")

    @classmethod
    def day(cls, on: date) -> Period:
        return cls(on, on)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if not 1 <= quarter <= 4:
            raise ValueError(f"quarter {quarter} is not 1-4")
        first = date(year, 3 * quarter - 2, 1)
        return cls(first, cls.month(year, 3 * quarter).last)

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026-11-20`` (day), ``2026-11`` (month), ``2026-Q4`` (quarter), ``2026`` (year), or
        ``2026-11-01..2026-11-20`` (a range of days)."""
        value = text.strip()
        try:
            if ".." in value:
                first, last = value.split("..", 1)
                return cls(date.fromisoformat(first.strip()), date.fromisoformat(last.strip()))
            if _DAY.fullmatch(value):
                return cls.day(date.fromisoformat(value))
            if m := _MONTH.fullmatch(value):
                return cls.month(int(m[1]), int(m[2]))
            if m := _QUARTER.fullmatch(value):
                return cls.quarter(int(m[1]), int(m[2]))
            if m := _YEAR.fullmatch(value):
                return cls.year(int(m[1]))
        except ValueError as exc:
            raise ValueError(f"period {text!r}: {exc}") from None
        raise ValueError(f"period {text!r} is none of YYYY-MM-DD, YYYY-MM, YYYY-Qn, YYYY or YYYY-MM-DD..YYYY-MM-DD")

    @property
    def kind(self) -> PeriodKind:
        """The calendar unit the days make up exactly, else ``range``."""
        if self.first == self.last:
            return "day"
        if self == Period.year(self.first.year):
            return "year"
        if self.first.month % 3 == 1 and self == Period.quarter(self.first.year, (self.first.month + 2) // 3):
            return "quarter"
        if self == Period.month(self.first.year, self.first.month):
            return "month"
        return "range"

    @property
    def label(self) -> str:
        kind = self.kind
        if kind == "day":
            return self.first.isoformat()
        if kind == "month":
            return f"{self.first:%Y-%m}"
        if kind == "quarter":
            return f"{self.first.year}-Q{(self.first.month + 2) // 3}"
        if kind == "year":
            return str(self.first.year)
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    @property
    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as naive UTC instants, the form the store's timestamps take once loaded."""
        start = datetime.combine(self.first, time(), HANOI).astimezone(UTC)
        end = datetime.combine(self.last + timedelta(days=1), time(), HANOI).astimezone(UTC)
        return start.replace(tzinfo=None), end.replace(tzinfo=None)

    def to_dict(self) -> dict[str, str]:
        return {"first": self.first.isoformat(), "last": self.last.isoformat(), "kind": self.kind, "label": self.label}


@dataclass(frozen=True)
class Difference:
    """One dossier that does not agree between sources; ``detail`` names quality rules, nothing personal."""

    dossier_no: str
    kind: DifferenceClass
    source: str
    agency: str
    detail: str | None = None

    def to_dict(self) -> dict[str, str]:
        found = {"dossier_no": self.dossier_no, "kind": self.kind.value, "source": self.source, "agency": self.agency}
        return found | ({"detail": self.detail} if self.detail else {})


@dataclass(frozen=True)
class Identity:
    """``left = sum(right)`` over named terms; ``terms`` may hold more than the formula uses, so a
    reader sees what the sides are made of (e.g. the statuses left outside Table 01's total)."""

    key: str
    formula: str
    terms: dict[str, int]
    left_term: str
    right_terms: tuple[str, ...]
    minus_terms: tuple[str, ...] = ()  # subtracted on the right (e.g. what is out of a source's scope)

    @property
    def left(self) -> int:
        return self.terms[self.left_term]

    @property
    def right(self) -> int:
        return sum(self.terms[t] for t in self.right_terms) - sum(self.terms[t] for t in self.minus_terms)

    @property
    def holds(self) -> bool:
        return self.left == self.right

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "formula": self.formula,
            "terms": dict(self.terms),
            # The equation's structure, so a reader renders it with every term it sums, in its words.
            "left_term": self.left_term,
            "right_terms": list(self.right_terms),
            "minus_terms": list(self.minus_terms),
            "left": self.left,
            "right": self.right,
            "holds": self.holds,
        }


def share(numerator: int, denominator: int) -> float | None:
    """A KPI value; None when nothing is counted (0/0 is not 0 %)."""
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class Kpi:
    """One Decision 766 indicator: ``numerator / denominator``, overall and per agency."""

    key: str
    label_vi: str
    label_en: str
    formula: str
    numerator: int
    denominator: int
    by_agency: dict[str, tuple[int, int]] = field(default_factory=dict)
    basis: str | None = None
    """What the numerator rests on when more than the dossiers' own facts could: the online-payment
    KPI says ``platform`` (payments on the portal counted only when the platform's transaction
    matched) or ``facts`` (the dossiers' word, the platform's list not fetched)."""

    @property
    def value(self) -> float | None:
        return share(self.numerator, self.denominator)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label_vi": self.label_vi,
            "label_en": self.label_en,
            "formula": self.formula,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "value": self.value,
            **({"basis": self.basis} if self.basis else {}),
            "by_agency": {
                agency: {"numerator": n, "denominator": d, "value": share(n, d)}
                for agency, (n, d) in self.by_agency.items()
            },
        }


@dataclass(frozen=True)
class BreakdownRow:
    """How many dossiers each source holds for one agency, procedure and status."""

    agency: str
    procedure: str
    status: int | None
    city: int
    portal: int
    ministry: int


@dataclass(frozen=True)
class Reconciliation:
    """A run's result. ``counts`` has every class in ``checked`` (zeros included) and no other."""

    period: Period
    generated_at: datetime
    sources: dict[str, int]
    identities: list[Identity]
    checked: tuple[DifferenceClass, ...]
    differences: list[Difference]
    breakdown: list[BreakdownRow]
    kpis: list[Kpi]
    trend: list[dict[str, Any]] = field(default_factory=list)
    # The portal's export this run compared with (``portal_snapshot.PortalSnapshot`` as a dict, with
    # its figure explained by road under "explained": ``portal_explained``), or None: then
    # "national_portal" counts only what the portal acknowledged to the hub.
    portal_snapshot: dict[str, Any] | None = None
    expected: frozenset[DifferenceClass] = DEFAULT_EXPECTED
    # Per ministry system and procedure: processed there, matched (by rule), ambiguous, ministry
    # only, at the portal or not (``quality.reconcile.ministries``).
    ministries: list[dict[str, Any]] = field(default_factory=list)
    # The online payments matched with the portal's payment platform (``quality.reconcile.payments``):
    # whether its transaction list was fetched for the period, and the sums by class.
    payments: dict[str, Any] = field(default_factory=lambda: {"checked": False})

    @cached_property
    def classes(self) -> dict[str, DifferenceClass]:
        """Each differing dossier's one class: the first of :data:`PRECEDENCE` it shows."""
        rank = {kind: i for i, kind in enumerate(PRECEDENCE)}
        found: dict[str, DifferenceClass] = {}
        for d in self.differences:
            held = found.get(d.dossier_no)
            if held is None or rank[d.kind] < rank[held]:
                found[d.dossier_no] = d.kind
        return found

    @property
    def counts(self) -> dict[DifferenceClass, int]:
        """Dossiers per class, each dossier once (its :attr:`classes`): they add up to the dossiers that differ."""
        found = dict.fromkeys(self.checked, 0)
        for kind in self.classes.values():
            found[kind] = found.get(kind, 0) + 1
        return found

    @property
    def flags(self) -> dict[DifferenceClass, int]:
        """Dossiers that also show a class other than the one they are counted in, per such class."""
        seen = {(d.dossier_no, d.kind) for d in self.differences if d.kind is not self.classes[d.dossier_no]}
        found: dict[DifferenceClass, int] = {}
        for _, kind in sorted(seen):
            found[kind] = found.get(kind, 0) + 1
        return {kind: found[kind] for kind in PRECEDENCE if kind in found}

    @property
    def by_agency(self) -> dict[str, dict[DifferenceClass, int]]:
        """Dossiers per agency and class, each dossier once (its class), agencies by code."""
        agency_of = {d.dossier_no: d.agency for d in self.differences}
        found: dict[str, dict[DifferenceClass, int]] = {}
        for dossier_no, kind in self.classes.items():
            row = found.setdefault(agency_of[dossier_no], {})
            row[kind] = row.get(kind, 0) + 1
        return dict(sorted(found.items()))

    def identity(self, key: str) -> Identity:
        return next(i for i in self.identities if i.key == key)

    def kpi(self, key: str) -> Kpi:
        return next(k for k in self.kpis if k.key == key)

    def dossiers(self, kind: DifferenceClass) -> list[str]:
        """Every dossier that shows ``kind``: counted in it, or flagged with it beside its own class."""
        return [d.dossier_no for d in self.differences if d.kind is kind]

    def verdict(self) -> dict[str, Any]:
        """No data, reconciled, explained or not reconciled (:class:`VerdictStatus`), and why."""
        counts = self.counts
        largest = max(PRECEDENCE, key=lambda k: counts.get(k, 0))
        shown = set(self.classes.values())
        unexpected = [kind for kind in PRECEDENCE if kind in shown and kind not in self.expected]
        holds = all(i.holds for i in self.identities)
        missing = [entry["source"] for entry in self.compared()["not_compared"]]
        if not any(self.sources.values()):
            status = VerdictStatus.NO_DATA
        elif missing:
            status = VerdictStatus.NOT_RECONCILED  # what was not looked at cannot be vouched for
        elif not self.classes and holds:
            status = VerdictStatus.RECONCILED
        elif holds and not unexpected:
            status = VerdictStatus.EXPLAINED
        else:
            status = VerdictStatus.NOT_RECONCILED
        return {
            "status": status.value,
            "reconciled": status is VerdictStatus.RECONCILED,
            "differing_dossiers": len(self.classes),
            "largest_class": largest.value if counts.get(largest) else None,
            "largest_class_count": counts.get(largest, 0),
            "identities_hold": holds,
            "expected_classes": [k.value for k in PRECEDENCE if k in self.expected],
            "unexpected_classes": [k.value for k in unexpected],
            "not_compared": missing,
        }

    def compared(self) -> dict[str, Any]:
        """Beside ``sources`` (what was compared): what the portal figure rests on -- its own export,
        or only what it acknowledged to the hub -- and each source that could not be compared, and why."""
        not_compared = []
        if self.portal_snapshot is None:
            not_compared.append({"source": "national_portal:export", "reason": "not_fetched"})
        return {
            "portal_basis": "export" if self.portal_snapshot is not None else "acknowledged",
            "not_compared": not_compared,
        }

    def to_dict(self) -> dict[str, Any]:
        classes = self.classes
        return {
            "schema": SCHEMA,
            "period": self.period.to_dict(),
            "generated_at": self.generated_at.astimezone(HANOI).isoformat(timespec="seconds"),
            "verdict": self.verdict(),
            "sources": [{"source": s, "dossiers": n} for s, n in self.sources.items()],
            "compared": self.compared(),
            "identities": [i.to_dict() for i in self.identities],
            "counts": {k.value: n for k, n in self.counts.items()},
            "flags": {k.value: n for k, n in self.flags.items()},
            "by_agency": {a: {k.value: n for k, n in c.items()} for a, c in self.by_agency.items()},
            "breakdown": [dict(vars(row)) for row in self.breakdown],
            "kpis": [k.to_dict() for k in self.kpis],
            "trend": self.trend,
            "portal_side": self._portal_side(),
            "ministries": self.ministries,
            "payments": self.payments,
            "differences": [
                d.to_dict() | ({} if classes[d.dossier_no] is d.kind else {"counted_as": classes[d.dossier_no].value})
                for d in self.differences
            ],
        }

    def _portal_side(self) -> dict[str, Any]:
        if self.portal_snapshot is None:
            return {
                "checked": False,
                "note": "the portal's export was not fetched for this period: the portal side was not checked; "
                "national_portal counts the dossiers the portal acknowledged to the hub",
            }
        return {"checked": True, **self.portal_snapshot}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)
