"""The platform's transactions of a generated day: one per city dossier that paid its fees on the
national portal, with the discrepancies a real day has put in on purpose, so a reconciliation
shows every class.

A city record says it paid online on the portal with ``thanh_toan_truc_tuyen`` true and
``cong_thanh_toan`` "CONG_DVCQG" (``sandbox.city_system.generator``); its fees are its ``le_phi``
rows. The platform holds a paid transaction ("1") for each, for the sum of its fees, except the
injected ones (deterministic per seed and day, at most one dossier each, fewer on a tiny day):

- ``no_transaction``: the dossier claims a payment the platform never saw;
- ``failed``: the platform holds it, failed ("4") -- claimed but not paid either;
- ``amount_differs``: paid, for 10,000 VND more than the dossier's fees;
- ``unclaimed``: a payment for a dossier with fees that does not claim one;
- ``pending`` (two): listed unsettled ("0"); QUERY answers paid -- what the hub's task resolves.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from mappings.dossier import VN_TZ

__all__ = ["INJECTED", "Transaction", "day_ledger"]

PORTAL_GATEWAY = "CONG_DVCQG"
INJECTED = ("no_transaction", "failed", "amount_differs", "unclaimed", "pending", "pending")
EXTRA_FEE = 10_000


@dataclass
class Transaction:
    """One transaction as the platform keeps it (the fields its messages carry)."""

    reference: str
    dossier_no: str
    procedure: str
    agency: str
    amount: int
    time: datetime
    state: str
    transaction_id: str = ""
    bank: str = "PAYMENT"
    confirmed_state: str = "1"  # what QUERY answers once the bank settled it

    @property
    def time_text(self) -> str:
        return self.time.astimezone(VN_TZ).strftime("%Y%m%d%H%M%S")


def _fees(record: dict[str, Any]) -> int:
    rows = record.get("le_phi") if isinstance(record.get("le_phi"), list) else []
    return sum(row["so_tien"] for row in rows if isinstance(row, dict) and isinstance(row.get("so_tien"), int))


def _paid_at(record: dict[str, Any], day: date, rng: random.Random) -> datetime:
    try:
        submitted = datetime.fromisoformat(str(record.get("ngay_nop"))).astimezone(VN_TZ)
    except ValueError:
        submitted = datetime.combine(day, datetime.min.time(), VN_TZ).replace(hour=9)
    return submitted + timedelta(minutes=rng.randint(1, 30))


def _transaction(record: dict[str, Any], day: date, rng: random.Random, serial: int) -> Transaction:
    number = str(record["ma_ho_so"])
    at = _paid_at(record, day, rng)
    return Transaction(
        reference=re.sub(r"[^0-9A-Za-z]", "", number) + at.strftime("%Y%m%d%H%M%S"),
        dossier_no=number,
        procedure=str(record.get("ma_tthc") or ""),
        agency=str(record.get("don_vi_xu_ly") or ""),
        amount=_fees(record),
        time=at,
        state="1",
        transaction_id=f"PP{day:%y%m%d}{serial:07d}",
    )


def day_ledger(records: list[dict[str, Any]], day: date, seed: int) -> tuple[list[Transaction], dict[str, str]]:
    """The platform's transactions for the day's ``records`` and the injected discrepancies
    (dossier number -> kind)."""
    rng = random.Random(f"{seed}:{day.isoformat()}:payments")
    valid = [r for r in records if isinstance(r.get("ma_ho_so"), str) and _fees(r) > 0]
    claims = sorted(
        (r for r in valid if r.get("thanh_toan_truc_tuyen") is True and r.get("cong_thanh_toan") == PORTAL_GATEWAY),
        key=lambda r: r["ma_ho_so"],
    )
    others = sorted((r for r in valid if r.get("thanh_toan_truc_tuyen") is not True), key=lambda r: r["ma_ho_so"])
    transactions = {r["ma_ho_so"]: _transaction(r, day, rng, i) for i, r in enumerate(claims, 1)}
    picked = rng.sample(claims, min(len(claims), len(INJECTED) - 1))
    injected: dict[str, str] = {}
    for record, kind in zip(picked, [k for k in INJECTED if k != "unclaimed"], strict=False):
        number = record["ma_ho_so"]
        injected[number] = kind
        if kind == "no_transaction":
            del transactions[number]
        elif kind == "failed":
            transactions[number].state, transactions[number].transaction_id = "4", ""
            transactions[number].confirmed_state = "4"
        elif kind == "amount_differs":
            transactions[number].amount += EXTRA_FEE
        else:  # pending: listed unsettled, paid when asked
            transactions[number].state = "0"
    if others:
        record = rng.choice(others)
        injected[record["ma_ho_so"]] = "unclaimed"
        transactions[record["ma_ho_so"]] = _transaction(record, day, rng, len(claims) + 1)
    return sorted(transactions.values(), key=lambda tx: tx.reference), injected
