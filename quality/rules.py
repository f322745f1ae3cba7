"""What the gate checks in Python rather than in Great Expectations, and why.

Every row-level rule is a GX expectation (``quality/expectations/suites.py``), defined once. What
stays here is the precondition for GX to say anything about rows at all: that the batch has the
columns its suite reads. A missing or renamed column is the source changing its shape, not a
defect of each record: validating anyway would fail the expectation on that column as an
exception (no row indexes) and quarantine every record for the same reason, burying the one fix
that matters. So the check runs before GX, as a plain set difference, and stops the whole batch.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable


class SchemaDriftError(RuntimeError):
    """A batch lacks columns its suite needs; nothing of it is quarantined or marked delivered."""

    def __init__(self, dataset: str, missing: Iterable[str]) -> None:
        self.dataset = dataset
        self.missing = sorted(missing)
        super().__init__(
            f"schema drift in {dataset}: missing column(s) {', '.join(self.missing)}; "
            "the batch was stopped whole (nothing quarantined, nothing marked delivered) -- "
            "fix the source or the mapping and re-run"
        )


def require_columns(dataset: str, present: Collection[str], required: Iterable[str]) -> None:
    """Raise :class:`SchemaDriftError` unless every required column is present.

    ``present`` is the union over the batch: a key absent from some records only is those
    records' defect (the mapping quarantines them by name), absent from all of them is drift.
    """
    missing = [column for column in required if column not in present]
    if missing:
        raise SchemaDriftError(dataset, missing)
