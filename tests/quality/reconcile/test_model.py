"""The reconciliation document's verdict, as the engine's result states it (no store needed):
"no data" is never "reconciled", expected differences are "explained", each dossier counts once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from quality.reconcile.model import (
    DEFAULT_EXPECTED,
    Difference,
    DifferenceClass,
    Identity,
    Period,
    Reconciliation,
    parse_classes,
    share,
)

AGENCY = "000.00.03.H26"
CHECKED = tuple(DifferenceClass)
QUARANTINED = f"{AGENCY}-261120-0001"
MINISTRY = f"{AGENCY}-261120-5001"
LOST = f"{AGENCY}-261120-0002"


def _result(
    differences: list[Difference],
    *,
    sources: dict[str, int] | None = None,
    holds: bool = True,
    expected: frozenset[DifferenceClass] = DEFAULT_EXPECTED,
    portal_read: bool = True,
) -> Reconciliation:
    flow = Identity(
        "hub_flow",
        "extracted = delivered + quarantined",
        {"extracted": 10, "delivered": 9 if holds else 8, "quarantined": 1},
        "extracted",
        ("delivered", "quarantined"),
    )
    return Reconciliation(
        period=Period.parse("2026-11-20"),
        generated_at=datetime(2026, 11, 20, 19, tzinfo=UTC),
        sources={"city": 10, "national_portal": 9} if sources is None else sources,
        identities=[flow],
        checked=CHECKED,
        differences=differences,
        breakdown=[],
        kpis=[],
        expected=expected,
        portal_snapshot={"period": "2026-11-20", "fetched_at": "2026-11-21T08:00:00+07:00", "dossiers": 9}
        if portal_read
        else None,
    )


def _ministry_dossier_also_on_the_portal() -> list[Difference]:
    return [
        Difference(QUARANTINED, DifferenceClass.QUARANTINED, "city", AGENCY, "dossier_no.format"),
        # The generator's postal dispatch refused the same record: a second class of the same dossier.
        Difference(QUARANTINED, DifferenceClass.POSTAL_NO_ORDER, "city", AGENCY, "dispatch_quarantined: x"),
        Difference(MINISTRY, DifferenceClass.MINISTRY_ONLY, "ministry:civil_status", AGENCY),
        Difference(MINISTRY, DifferenceClass.EXTRA_AT_PORTAL, "national_portal", AGENCY, "ministry_only: x"),
    ]


def test_nothing_in_any_source_is_no_data_never_reconciled() -> None:
    verdict = _result([], sources={"city": 0, "national_portal": 0, "postal": 0}).verdict()
    assert verdict["status"] == "no_data"
    assert verdict["reconciled"] is False


def test_every_source_agreeing_is_reconciled() -> None:
    assert _result([]).verdict()["status"] == "reconciled"


def test_each_dossier_is_counted_in_one_class_and_its_other_classes_are_flags() -> None:
    result = _result(_ministry_dossier_also_on_the_portal())
    document = result.to_dict()

    assert document["verdict"]["differing_dossiers"] == 2 == sum(document["counts"].values())
    assert document["counts"]["quarantined"] == 1 and document["counts"]["ministry_only"] == 1
    assert document["counts"]["extra_at_portal"] == 0 and document["counts"]["postal_no_order"] == 0
    assert document["flags"] == {"extra_at_portal": 1, "postal_no_order": 1}
    assert document["by_agency"] == {AGENCY: {"quarantined": 1, "ministry_only": 1}}
    flagged = [d for d in document["differences"] if "counted_as" in d]
    assert {(d["dossier_no"], d["kind"], d["counted_as"]) for d in flagged} == {
        (QUARANTINED, "postal_no_order", "quarantined"),
        (MINISTRY, "extra_at_portal", "ministry_only"),
    }


def test_differences_all_of_expected_classes_are_explained() -> None:
    verdict = _result(_ministry_dossier_also_on_the_portal()).verdict()
    assert verdict["status"] == "explained"
    assert verdict["unexpected_classes"] == []


def test_a_difference_of_a_class_not_expected_is_not_reconciled_and_named() -> None:
    lost = Difference(LOST, DifferenceClass.MISSING_AT_PORTAL, "city", AGENCY, "not_held")
    verdict = _result([*_ministry_dossier_also_on_the_portal(), lost]).verdict()
    assert verdict["status"] == "not_reconciled"
    assert verdict["unexpected_classes"] == ["missing_at_portal"]


def test_the_expected_classes_are_configurable() -> None:
    lost = [Difference(LOST, DifferenceClass.MISSING_AT_PORTAL, "city", AGENCY, "not_held")]
    assert _result(lost, expected=frozenset({DifferenceClass.MISSING_AT_PORTAL})).verdict()["status"] == "explained"
    strict = _result(_ministry_dossier_also_on_the_portal(), expected=frozenset())
    assert strict.verdict()["status"] == "not_reconciled"
    assert strict.verdict()["expected_classes"] == []


def test_an_identity_that_fails_is_never_explained() -> None:
    verdict = _result(_ministry_dossier_also_on_the_portal(), holds=False).verdict()
    assert verdict["status"] == "not_reconciled" and verdict["identities_hold"] is False


def test_the_document_names_what_it_could_not_compare() -> None:
    compared = _result([], portal_read=False).to_dict()["compared"]
    assert compared == {
        "portal_basis": "acknowledged",
        "not_compared": [{"source": "national_portal:export", "reason": "not_fetched"}],
    }
    assert _result([]).to_dict()["compared"] == {"portal_basis": "export", "not_compared": []}


@pytest.mark.parametrize("differences", [[], _ministry_dossier_also_on_the_portal()], ids=["agreeing", "expected"])
def test_a_source_not_compared_is_never_reconciled_or_explained(differences: list[Difference]) -> None:
    """Without the portal's listing a lost or extra dossier goes unseen: the verdict cannot vouch for it."""
    verdict = _result(differences, portal_read=False).verdict()
    assert verdict["status"] == "not_reconciled" and verdict["reconciled"] is False
    assert verdict["not_compared"] == ["national_portal:export"]
    assert verdict["unexpected_classes"] == []  # the missing source, not a class, is why
    assert _result(differences).verdict()["status"] in {"reconciled", "explained"}


def test_no_data_stays_no_data_whatever_was_not_compared() -> None:
    empty = _result([], sources={"city": 0, "national_portal": 0}, portal_read=False)
    assert empty.verdict()["status"] == "no_data"


def test_identities_carry_their_structure_so_every_term_can_be_printed() -> None:
    portal = Identity(
        "portal",
        "portal = city + ministry_only - not_integrated ...",
        {"portal": 1022, "city": 1071, "ministry_only": 0, "portal_only": 0, "not_integrated": 40, "missing": 9},
        "portal",
        ("city", "ministry_only", "portal_only"),
        ("not_integrated", "missing"),
    ).to_dict()
    assert (portal["left_term"], portal["right_terms"], portal["minus_terms"]) == (
        "portal",
        ["city", "ministry_only", "portal_only"],
        ["not_integrated", "missing"],
    )
    assert portal["right"] == 1071 + 0 + 0 - 40 - 9 == portal["left"]


def test_expected_classes_are_read_by_name_and_a_typo_is_refused_with_the_known_ones() -> None:
    assert parse_classes(" quarantined, missing_at_portal ") == {
        DifferenceClass.QUARANTINED,
        DifferenceClass.MISSING_AT_PORTAL,
    }
    assert parse_classes("") == frozenset()
    with pytest.raises(ValueError, match=r"unknown difference class quarantine: the classes are missing_at_portal"):
        parse_classes("quarantine")


# -- the identities themselves: each must be seen failing, not only holding ----------------------

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


def test_an_identity_holds_only_when_both_sides_agree() -> None:
    assert hub_flow(10, 4, 3, 2, 1).to_dict() == {
        "key": "hub_flow",
        "formula": "extracted = ...",
        "terms": {"extracted": 10, "delivered": 4, "quarantined": 3, "pending": 2, "out_of_scope": 1},
        "left_term": "extracted",
        "right_terms": list(HUB_FLOW),
        "minus_terms": [],
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


def test_a_share_of_nothing_is_none_not_zero() -> None:
    assert share(1, 4) == 0.25
    assert share(0, 4) == 0.0
    assert share(3, 0) is None
