"""The quality gate: split a batch into records that go on and records that are quarantined.

Four steps, in order, each for what it can say:

1. Schema (``quality/rules.py``): a column missing from the whole batch is drift, not a defect
   of each record -- :class:`~quality.rules.SchemaDriftError` stops the batch, nothing is
   quarantined or marked delivered, and a re-run after the fix delivers everything.
2. Text every store can keep (``mappings/text.py``): a record carrying NUL or a lone surrogate
   fails with ``text.storable`` (in every dataset), whichever store the hub runs on. Checked over
   the batch at once (``unstorable_reasons``: one C pass per chunk of rows, a row looked at alone
   only where the pass cannot clear its chunk), with the verdict and reason of each row alone.
3. Mapping (city records only): a record that cannot become a canonical ``Dossier`` fails with
   the mapping's rule (``city.*``); the rest go on.
4. The dataset's Great Expectations suite (``quality/expectations``) over one DataFrame of the
   batch: every row GX flags fails with the rule name and a readable reason per expectation.

Failing records are never dropped: the caller quarantines each with every rule it broke. GX is
imported on the first batch, not with this module, and prepared once per process; it runs once
per batch and dataset (a plan page: the city suite in ``split``, the portal-payload suite in
``check``), never per record, and the Data Docs are built once per run by the caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mappings.city_system import to_canonical
from mappings.code_tables import CodeTables
from mappings.dossier import Dossier
from mappings.errors import MappingError
from mappings.text import RULE as STORABLE_RULE
from mappings.text import unstorable_reasons
from quality.expectations.datasets import CITY_DOSSIERS, DATASETS
from quality.rules import require_columns

if TYPE_CHECKING:
    from quality.expectations.runner import BatchValidation


@dataclass(frozen=True)
class Violation:
    rule: str
    reason: str


@dataclass
class GateOutcome:
    passed: list[tuple[int, Dossier]] = field(default_factory=list)
    failed: dict[int, list[Violation]] = field(default_factory=dict)


@dataclass
class CheckOutcome:
    """For datasets that need no mapping: positions that passed, and the failed ones' violations."""

    passed: list[int] = field(default_factory=list)
    failed: dict[int, list[Violation]] = field(default_factory=dict)


def _present(rows: Sequence[Mapping[str, Any]]) -> set[str]:
    return set().union(*rows) if rows else set()


class QualityGate:
    """``on_validation`` receives every batch's GX result with a batch id (to store it)."""

    def __init__(
        self,
        tables: CodeTables,
        on_validation: Callable[[str, BatchValidation], None] | None = None,
    ) -> None:
        self.tables = tables
        self.on_validation = on_validation

    def _prepare(self) -> None:
        from quality.expectations.runner import prepare  # GX: imported on first use, in the task

        prepare(self.tables)

    def _validate(self, dataset: str, rows: Sequence[Any]) -> dict[int, list[Violation]]:
        from quality.expectations.runner import validate  # GX: imported on first use, in the task

        validation = validate(dataset, DATASETS[dataset].frame(rows), self.tables)
        if self.on_validation is not None:
            self.on_validation(f"{dataset}-{uuid.uuid4().hex[:12]}", validation)
        return {i: [Violation(rule, reason) for rule, reason in vs] for i, vs in validation.violations.items()}

    def split(self, records: Sequence[Mapping[str, Any]]) -> GateOutcome:
        """City records. Positions in the outcome refer to ``records``; each lands on exactly one side."""
        require_columns(CITY_DOSSIERS, _present(records), DATASETS[CITY_DOSSIERS].required)
        self._prepare()
        outcome = GateOutcome()
        mapped: list[tuple[int, Dossier]] = []
        unstorable = unstorable_reasons(records)
        for position, record in enumerate(records):
            if position in unstorable:
                outcome.failed[position] = [Violation(STORABLE_RULE, unstorable[position])]
                continue
            try:
                mapped.append((position, to_canonical(dict(record), self.tables)))
            except MappingError as exc:
                outcome.failed[position] = [Violation(exc.rule, exc.message)]
        if mapped:
            for index, violations in self._validate(CITY_DOSSIERS, [d for _, d in mapped]).items():
                outcome.failed[mapped[index][0]] = violations
        outcome.passed = [(position, d) for position, d in mapped if position not in outcome.failed]
        return outcome

    def check(self, dataset: str, rows: Sequence[Mapping[str, Any]]) -> CheckOutcome:
        """Portal payloads, ministry pull-backs, postal orders: the dataset's suite, no mapping."""
        if not rows:  # e.g. a plan page whose records all stayed in quarantine: nothing drifted
            return CheckOutcome([], {})
        require_columns(dataset, _present(rows), DATASETS[dataset].required)
        failed = self._validate(dataset, rows)
        for position, unstorable in unstorable_reasons(rows).items():
            failed.setdefault(position, []).insert(0, Violation(STORABLE_RULE, unstorable))
        return CheckOutcome([p for p in range(len(rows)) if p not in failed], failed)
