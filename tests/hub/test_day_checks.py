"""The demo's postal lines: each carrier's delivery states add up to its orders, as printed, and
"overdue" is shown as a flag beside the states, never summed with them."""

from __future__ import annotations

import io
import re
from typing import Any

from rich.console import Console

from hub.day_checks import postal_problems, print_postal


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
