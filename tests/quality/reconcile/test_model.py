"""The reconciliation's identities, classes and verdict: each must be seen failing, not only holding."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from quality.reconcile.model import Difference, DifferenceClass, Identity, Period, Reconciliation, share

HUB_FLOW = ("delivered", "quarantined", "pending", "out_of_scope")


def hub_flow(extracted: int, *parts: int) -> Identity:
    return Identity(
        "hub_flow",
        "extracted = ...",
        {"extracted": extracted, **dict(zip(HUB_FLOW, parts, strict=True))},
        "extracted",
        HUB_FLOW,
    )


def portal(portal_count: int, city: int, not_integrated: int) -> Identity:
    terms = {
        "portal": portal_count,
        "city": city,
        "ministry_only": 2,
        "portal_only": 1,
        "not_integrated": not_integrated,
    }
    return Identity("portal", "...", terms, "portal", ("city", "ministry_only", "portal_only"), ("not_integrated",))


def reconciliation(identities: list[Identity], differences: list[Difference]) -> Reconciliation:
    return Reconciliation(
        period=Period.day(date(2026, 11, 20)),
        generated_at=datetime(2026, 11, 21, tzinfo=UTC),
        sources={},
        identities=identities,
        checked=(DifferenceClass.MISSING_AT_PORTAL, DifferenceClass.QUARANTINED, DifferenceClass.PENDING),
        differences=differences,
        by_agency={},
        breakdown=[],
        kpis=[],
    )


def differ(number: str, kind: DifferenceClass) -> Difference:
    return Difference(number, kind, "city", "000.00.12.H26")


def test_an_identity_holds_only_when_both_sides_agree() -> None:
    assert hub_flow(10, 4, 3, 2, 1).to_dict() == {
        "key": "hub_flow",
        "formula": "extracted = ...",
        "terms": {"extracted": 10, "delivered": 4, "quarantined": 3, "pending": 2, "out_of_scope": 1},
        "left": 10,
        "right": 10,
        "holds": True,
    }
    broken = hub_flow(11, 4, 3, 2, 1)
    assert (broken.left, broken.right, broken.holds) == (11, 10, False)


def test_subtracted_terms_count_against_the_right_side() -> None:
    assert portal(10, 8, 1).holds  # 8 + 2 + 1 - 1
    assert not portal(12, 8, 1).holds
    assert portal(12, 8, 1).to_dict()["right"] == 10


def test_a_period_reconciles_only_with_no_difference_and_every_identity_holding() -> None:
    assert reconciliation([hub_flow(10, 4, 3, 2, 1)], []).verdict() == {
        "reconciled": True,
        "differing_dossiers": 0,
        "largest_class": None,
        "largest_class_count": 0,
    }
    assert reconciliation([hub_flow(10, 4, 3, 2, 1), hub_flow(11, 4, 3, 2, 1)], []).verdict()["reconciled"] is False


def test_a_run_that_checked_no_class_still_gives_a_verdict() -> None:
    nothing_checked = dataclasses.replace(reconciliation([hub_flow(10, 4, 3, 2, 1)], []), checked=())
    assert nothing_checked.verdict() == {
        "reconciled": True,
        "differing_dossiers": 0,
        "largest_class": None,
        "largest_class_count": 0,
    }


def test_the_verdict_counts_dossiers_once_and_names_the_largest_class() -> None:
    differences = [
        differ("A", DifferenceClass.PENDING),
        differ("B", DifferenceClass.QUARANTINED),
        differ("C", DifferenceClass.QUARANTINED),
        differ("A", DifferenceClass.MISSING_AT_PORTAL),
    ]
    result = reconciliation([hub_flow(10, 4, 3, 2, 1)], differences)
    assert result.counts == {
        DifferenceClass.MISSING_AT_PORTAL: 1,
        DifferenceClass.QUARANTINED: 2,
        DifferenceClass.PENDING: 1,
    }
    assert result.verdict() == {
        "reconciled": False,
        "differing_dossiers": 3,
        "largest_class": "quarantined",
        "largest_class_count": 2,
    }
    assert result.dossiers(DifferenceClass.QUARANTINED) == ["B", "C"]


def test_a_share_of_nothing_is_none_not_zero() -> None:
    assert share(1, 4) == 0.25
    assert share(0, 4) == 0.0
    assert share(3, 0) is None
