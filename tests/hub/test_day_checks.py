"""The demo's acceptance of its reconciliation: "explained", the lost dossier alone missing, every
identity adding up as printed, each dossier in one class."""

from __future__ import annotations

import copy

from hub.day_checks import reconciliation_problems
from tests.support.report_documents import explained_day

EXPECTED = ("quarantined", "ministry_only", "extra_at_portal")


def _with_lost(document: dict, lost: str) -> dict:
    document = copy.deepcopy(document)
    document["differences"].append(
        {"dossier_no": lost, "kind": "missing_at_portal", "source": "city", "agency": "000.00.03.H26"}
    )
    return document


def test_an_explained_day_with_its_lost_dossier_passes() -> None:
    lost = "000.00.03.H26-261120-0999"
    assert reconciliation_problems(_with_lost(explained_day(), lost), EXPECTED, lost) == []


def test_a_verdict_other_than_explained_a_second_missing_dossier_and_a_miscount_are_named() -> None:
    lost = "000.00.03.H26-261120-0999"
    document = _with_lost(_with_lost(explained_day(), lost), "000.00.03.H26-261120-0998")
    document["verdict"]["status"] = "not_reconciled"
    document["verdict"]["differing_dossiers"] = 10
    problems = reconciliation_problems(document, (*EXPECTED, "duplicate"), lost)
    assert "the verdict is not_reconciled, not explained" in problems
    assert any(p.startswith("missing at the portal: ['000.00.03.H26-261120-0998'") for p in problems)
    assert any(p.startswith("10 dossiers differ but the classes count") for p in problems)
    assert "no dossier found as duplicate" in problems


def test_an_identity_that_does_not_add_up_as_printed_is_named() -> None:
    lost = "000.00.03.H26-261120-0999"
    document = _with_lost(explained_day(), lost)
    portal = document["identities"][-1]
    portal["minus_terms"] = ["not_integrated"]  # a term left out of the printed line, as the portal line once was
    problems = reconciliation_problems(document, EXPECTED, lost)
    assert "identity portal does not add up as printed: 1,187 = 1,250 + 2 + 0 - 50" in problems
