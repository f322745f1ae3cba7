"""What the demo checks and prints of the online-payment reconciliation (issue 20): the platform's
lists were read, its confirmations were taken once and a replayed or forged one refused, and the
online-payment KPI rests on matched payments."""

from __future__ import annotations

from typing import Any

from rich.console import Console

__all__ = ["payment_problems", "print_payments"]


def payment_problems(document: dict[str, Any], confirmed: dict[str, int]) -> list[str]:
    """The day's payments must have been checked against the platform, and of the confirmations the
    double sent, the first of each transaction kept (200), the replay (409) and the forgery (401) refused."""
    problems = []
    if not document["payments"].get("checked"):
        problems.append("the payment platform's transaction list was not read for the day")
    kpi = next(k for k in document["kpis"] if k["key"] == "paid_online")
    if kpi.get("basis") != "platform":
        problems.append(f"the online-payment KPI rests on {kpi.get('basis')}, not on the platform's matched payments")
    unexpected = {k: n for k, n in confirmed.items() if k not in ("sent_200", "replayed_409", "forged_401")}
    if not confirmed.get("sent_200") or confirmed.get("replayed_409") != 1 or confirmed.get("forged_401") != 1:
        problems.append(f"payment confirmations were not answered as expected: {confirmed}")
    elif unexpected:
        problems.append(f"payment confirmations answered otherwise: {unexpected}")
    return problems


def print_payments(console: Console, document: dict[str, Any]) -> None:
    """Payments by class and the KPI's basis, in one line each (the identities are printed above)."""
    payments = document["payments"]
    kpi = next(k for k in document["kpis"] if k["key"] == "paid_online")
    share = f"{kpi['value']:.1%}" if kpi["value"] is not None else "n/a"
    if not payments.get("checked"):
        console.print("Online payments: the payment platform's list was not read; not checked.", highlight=False)
    else:
        terms = next(i for i in document["identities"] if i["key"] == "payments_claimed")["terms"]
        console.print(
            f"Online payments (platform lists of {', '.join(payments['days_fetched'])}): "
            f"matched {terms['matched']:,}, amount differs {terms['amount_differs']:,}, "
            f"claimed but not paid {terms['not_paid']:,}, paid but not claimed {terms['unclaimed']:,}.",
            highlight=False,
        )
    console.print(
        f"Online-payment KPI (766, 3.6): {kpi['numerator']:,} / {kpi['denominator']:,} = {share} "
        f"(basis: {kpi.get('basis')}).",
        highlight=False,
    )
