"""What a reconciliation run returns: differences by dossier, counts, and the accounting identity.

Only dossier numbers, agency codes, source names and quality-rule names leave the engine --
never a payload -- so the result can be written to a report or a log without masking anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


class DifferenceClass(StrEnum):
    """The record-level differences the store can show today (issue 6 names more, e.g. postal ones).

    A city dossier falls in at most one class (the first that applies, in this order: quarantined,
    pending, behind at portal, missing at portal), so the counts of a source add up; a ministry
    dossier is either ministry-only or a duplicate of a city dossier.
    """

    MISSING_AT_PORTAL = "missing_at_portal"
    BEHIND_AT_PORTAL = "behind_at_portal"
    QUARANTINED = "quarantined"
    PENDING = "pending"
    MINISTRY_ONLY = "ministry_only"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Period:
    """Days ``first`` to ``last`` inclusive, as the Hanoi calendar counts them.

    The dossier number carries its intake day (``{agency}-{YYMMDD}-{NNNN}``), which is what the
    city's own reports count by; a record whose number has no such day falls back to its source
    update time, compared in UTC against the Hanoi-midnight bounds below.
    """

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"period ends ({self.last}) before it starts ({self.first})")

    @property
    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as naive UTC instants, the form the store's timestamps take once loaded."""
        start = datetime.combine(self.first, time(), HANOI).astimezone(UTC)
        end = datetime.combine(self.last + timedelta(days=1), time(), HANOI).astimezone(UTC)
        return start.replace(tzinfo=None), end.replace(tzinfo=None)


@dataclass(frozen=True)
class Difference:
    """One dossier that does not agree between sources; ``detail`` names quality rules, nothing personal."""

    dossier_no: str
    kind: DifferenceClass
    source: str
    agency: str
    detail: str | None = None


@dataclass(frozen=True)
class AccountingIdentity:
    """extracted = delivered + quarantined + pending + out_of_scope, over the period's city dossiers.

    ``unaccounted`` are dossiers with no portal disposition at all: a gap the run must explain.
    """

    extracted: int
    delivered: int
    quarantined: int
    pending: int
    out_of_scope: int

    @property
    def unaccounted(self) -> int:
        return self.extracted - (self.delivered + self.quarantined + self.pending + self.out_of_scope)

    @property
    def holds(self) -> bool:
        return self.unaccounted == 0


@dataclass(frozen=True)
class Reconciliation:
    """A run's result; ``counts`` has every class (zeros included) so reports need no defaults."""

    period: Period
    identity: AccountingIdentity
    differences: list[Difference]
    counts: dict[DifferenceClass, int] = field(default_factory=dict)
    by_agency: dict[str, dict[DifferenceClass, int]] = field(default_factory=dict)

    def dossiers(self, kind: DifferenceClass) -> list[str]:
        return [d.dossier_no for d in self.differences if d.kind is kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": {"first": self.period.first.isoformat(), "last": self.period.last.isoformat()},
            "identity": {
                "formula": "extracted = delivered + quarantined + pending + out_of_scope",
                "extracted": self.identity.extracted,
                "delivered": self.identity.delivered,
                "quarantined": self.identity.quarantined,
                "pending": self.identity.pending,
                "out_of_scope": self.identity.out_of_scope,
                "unaccounted": self.identity.unaccounted,
                "holds": self.identity.holds,
            },
            "counts": {k.value: n for k, n in self.counts.items()},
            "by_agency": {a: {k.value: n for k, n in c.items()} for a, c in self.by_agency.items()},
            "differences": [
                {"dossier_no": d.dossier_no, "kind": d.kind.value, "source": d.source, "agency": d.agency}
                | ({"detail": d.detail} if d.detail else {})
                for d in self.differences
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)
