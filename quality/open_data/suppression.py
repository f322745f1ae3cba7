"""Small-cell suppression with complementary suppression over additive lines.

The rule (stated in every published dataset's description and in docs/interfaces.md 12.4):

1. **Primary**: a count of 1 to 4 dossiers is shown as ``<5``. Zero is shown: it tells nothing
   about a person.
2. **Complementary**: a *line* is a set of published (or derivable) counts that add up -- an
   agency's procedures and the agency's total, an agency's on-time and late dossiers and the
   resolved ones, one column across every agency and its city-wide total. No line may hold
   exactly one suppressed count, or subtraction gives it back: while one does, the smallest
   non-zero count still shown in that line is suppressed too (ties: the first in line order).
   Lines share counts (an agency's total is in its row line and in the totals' column line), so
   the pass repeats until no line changes.
3. A rate (on-time share, KPI value) is shown only when its numerator and denominator both are.

Counts are identified by key, so a count published in two tables (an agency's dossier total,
denominator of several KPIs) is suppressed in both or in neither.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

THRESHOLD = 5
SUPPRESSED = "<5"
RULE_VI = (
    'Ô có từ 1 đến 4 hồ sơ được thay bằng "<5"; trong mỗi dòng số liệu cộng dồn (hàng, cột và tổng), '
    "nếu chỉ có một ô bị ẩn thì ô khác nhỏ nhất trong dòng đó cũng bị ẩn, để không thể suy ra bằng phép trừ; "
    "tỷ lệ chỉ được công bố khi cả tử số và mẫu số được công bố."
)
RULE_EN = (
    'Counts of 1 to 4 dossiers are shown as "<5"; in every line of counts that add up (rows, columns and their '
    "totals) where a single count would be hidden, the smallest other non-zero count of that line is hidden too, "
    "so none can be recovered by subtraction; a rate is published only when its numerator and denominator are."
)

Key = Hashable


@dataclass(frozen=True)
class Suppression:
    """Which counts are hidden: by the threshold (primary) and to protect them (complementary)."""

    primary: frozenset[Key]
    complementary: frozenset[Key]

    @property
    def hidden(self) -> frozenset[Key]:
        return self.primary | self.complementary

    def shown(self, key: Key, value: int) -> int | str:
        """What a published file carries for the count ``key``."""
        return SUPPRESSED if key in self.hidden else value

    def rate(self, numerator: Key, denominator: Key, value: float | None) -> float | str | None:
        """A rate, hidden when either of its counts is (rule 3); rounded to 4 decimals."""
        if numerator in self.hidden or denominator in self.hidden:
            return SUPPRESSED
        return None if value is None else round(value, 4)


def suppress(counts: Mapping[Key, int], lines: Iterable[Iterable[Key]]) -> Suppression:
    """Apply the rule to ``counts`` (key -> dossiers) with ``lines`` (keys whose counts add up).

    Every key of a line must be in ``counts``: a line naming an unknown count is a programming error.
    """
    frozen = [tuple(line) for line in lines]
    unknown = {key for line in frozen for key in line if key not in counts}
    if unknown:
        raise KeyError(f"lines name counts that do not exist: {sorted(map(str, unknown))[:5]}")
    primary = frozenset(key for key, value in counts.items() if 0 < value < THRESHOLD)
    hidden = set(primary)
    changed = True
    while changed:
        changed = False
        for line in frozen:
            if sum(key in hidden for key in line) != 1:
                continue
            candidates = [key for key in line if key not in hidden and counts[key] > 0]
            if candidates:
                hidden.add(min(candidates, key=lambda key: counts[key]))
                changed = True
    return Suppression(primary, frozenset(hidden - primary))
