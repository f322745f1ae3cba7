"""The demo's acceptance of its day: the reconciliation "explained", the lost dossier alone missing,
every identity adding up as printed, each dossier in one class; each carrier's delivery states adding
up to its orders as printed, "overdue" a flag beside the states, never summed with them."""

from __future__ import annotations

import copy
import io
import re
from typing import Any

from rich.console import Console

from hub.day_checks import postal_problems, print_notifications, print_postal, reconciliation_problems
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


def _postal(by_state: dict[str, int], orders: int, overdue: int, ordered: int) -> dict[str, Any]:
    dispatch = {"ready": ordered, "ordered": ordered, "pending": 0, "quarantined": 0}
    delivery = {"vnpost": {"orders": orders, "by_state": by_state, "overdue": overdue}}
    return {
        "dispatch": {"dispatch": dispatch, "identity_holds": True},
        "tracking": {"delivery": delivery, "events": 300, "anomalies": 0, "anomaly_reasons": []},
    }


def test_the_printed_carrier_line_adds_up_and_keeps_overdue_apart() -> None:
    postal = _postal({"delivered": 60, "in_transit": 16, "returned": 3}, orders=79, overdue=3, ordered=79)
    out = io.StringIO()
    print_postal(Console(file=out, width=300), postal)
    line = next(text for text in out.getvalue().splitlines() if text.strip().startswith("vnpost"))
    total, terms = re.search(r"([\d,]+) orders = (.+?) \(", line).groups()  # type: ignore[union-attr]
    assert sum(int(n) for n in re.findall(r"(\d+)", terms)) == int(total) == 79
    assert "overdue 3 of them" in line and "adds up" in line
    assert postal_problems(postal) == []


def test_states_that_do_not_add_up_or_orders_the_carriers_do_not_hold_are_problems() -> None:
    counted_twice = _postal({"delivered": 60, "in_transit": 16, "overdue": 3}, orders=76, overdue=3, ordered=76)
    assert any("do not add up" in p for p in postal_problems(counted_twice))
    missing = _postal({"delivered": 70}, orders=70, overdue=0, ordered=79)
    assert postal_problems(missing) == ["carriers' orders 70 differ from the 79 results ordered"]


def test_the_ihanoi_line_names_both_bases_and_each_adds_up_as_printed() -> None:
    """All notifications to date (the DAG's summary) and the reconciled day's (its identity) are two
    figures: each is printed with its basis beside it, and each sums as printed."""
    document = explained_day()
    terms = {"planned": 2_638, "sent": 2_564, "pending": 0, "refused": 70, "too_old": 4}
    document["identities"].append(
        {"key": "notifications", "terms": {f"notifications_{k}": v for k, v in terms.items()}, "holds": True}
    )
    notifications = {
        "counts": {"planned": 2_732, "sent": 2_655, "pending": 0, "refused": 73, "too_old": 4},
        "identity_holds": True,
        "app": {"held": {"notifications": 2_655}, "duplicates": 0, "by_event": {}},
    }
    out = io.StringIO()
    print_notifications(Console(file=out, width=400), notifications, document)
    line = out.getvalue()
    everything, rest = line.split("iHaNoi notifications, all events to date: ")[1].split(" (adds up); ")
    on_day = rest.split(f"of events on {document['period']['label']} (the reconciliation's identity): ")[1]
    for printed, planned in ((everything, 2_732), (on_day.split(";")[0], 2_638)):
        left, right = printed.split(" = ")
        figures = [int(n.replace(",", "")) for n in re.findall(r"[0-9][0-9,]*", right)]
        assert int(left.split()[0].replace(",", "")) == sum(figures) == planned, printed
