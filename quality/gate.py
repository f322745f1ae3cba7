"""The quality gate: split a batch into records that go on and records that are quarantined.

A record fails when it cannot be mapped to the canonical dossier (the mapping names the rule) or
when it breaks a business rule. Failing records are never dropped: the caller quarantines each
with every rule it broke. Batch-level checks (a Great Expectations suite over the whole batch)
implement ``BatchCheck`` and run on the records that mapped, so GX's start-up cost is paid once
per batch, not per record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mappings.city_system import to_canonical
from mappings.code_tables import CodeTables
from mappings.dossier import Dossier
from mappings.errors import MappingError
from quality.rules import DEFAULT_RULES, Rule


@dataclass(frozen=True)
class Violation:
    rule: str
    reason: str


class BatchCheck(Protocol):
    """A check over a whole batch; returns violations keyed by the record's position."""

    def violations(self, dossiers: Sequence[Dossier]) -> Mapping[int, list[Violation]]: ...


@dataclass
class GateOutcome:
    passed: list[tuple[int, Dossier]] = field(default_factory=list)
    failed: dict[int, list[Violation]] = field(default_factory=dict)


class QualityGate:
    def __init__(
        self,
        tables: CodeTables,
        rules: Sequence[Rule] = DEFAULT_RULES,
        batch_checks: Sequence[BatchCheck] = (),
    ) -> None:
        self.tables = tables
        self.rules = tuple(rules)
        self.batch_checks = tuple(batch_checks)

    def split(self, records: Sequence[Mapping[str, Any]]) -> GateOutcome:
        """Positions in the outcome refer to ``records``; every position lands in exactly one side."""
        outcome = GateOutcome()
        mapped: list[tuple[int, Dossier]] = []
        for position, record in enumerate(records):
            try:
                dossier = to_canonical(dict(record), self.tables)
            except MappingError as exc:
                outcome.failed[position] = [Violation(exc.rule, exc.message)]
                continue
            broken = [
                Violation(rule.name, reason)
                for rule in self.rules
                if (reason := rule.check(dossier, self.tables)) is not None
            ]
            if broken:
                outcome.failed[position] = broken
            else:
                mapped.append((position, dossier))
        for check in self.batch_checks:
            for index, violations in check.violations([d for _, d in mapped]).items():
                outcome.failed.setdefault(mapped[index][0], []).extend(violations)
        outcome.passed = [(position, d) for position, d in mapped if position not in outcome.failed]
        return outcome
