"""The double's day: a transaction per dossier that paid on the portal, and one discrepancy of each kind."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sandbox.city_system.generator import generate
from sandbox.payment_platform.ledger import EXTRA_FEE, day_ledger

DAY = date(2026, 11, 20)


def test_every_portal_payment_is_listed_but_the_injected_ones() -> None:
    records = generate(DAY, 0.05, 7).records
    transactions, injected = day_ledger(records, DAY, 7)
    by_dossier = {tx.dossier_no: tx for tx in transactions}
    claims = {
        r["ma_ho_so"]: sum(fee["so_tien"] for fee in r["le_phi"])
        for r in records
        if r.get("thanh_toan_truc_tuyen") is True and r.get("cong_thanh_toan") == "CONG_DVCQG" and r["le_phi"]
    }
    assert sorted(Counter(injected.values()).items()) == [
        ("amount_differs", 1), ("failed", 1), ("no_transaction", 1), ("pending", 2), ("unclaimed", 1),
    ]  # fmt: skip
    kinds = {kind: no for no, kind in injected.items() if kind != "pending"}
    assert kinds["no_transaction"] not in by_dossier
    assert by_dossier[kinds["failed"]].state == "4"
    assert by_dossier[kinds["amount_differs"]].amount == claims[kinds["amount_differs"]] + EXTRA_FEE
    assert kinds["unclaimed"] not in claims and by_dossier[kinds["unclaimed"]].state == "1"
    for no, amount in claims.items():
        if no not in injected:
            assert (by_dossier[no].amount, by_dossier[no].state) == (amount, "1")
    assert len({tx.reference for tx in transactions}) == len(transactions) == len(claims)  # -1 missing +1 unclaimed
    assert all(tx.time.date() == DAY for tx in transactions)


def test_the_same_day_and_seed_give_the_same_ledger() -> None:
    records = generate(DAY, 0.02, 3).records
    first, second = day_ledger(records, DAY, 3), day_ledger(records, DAY, 3)
    assert [vars(tx) for tx in first[0]] == [vars(tx) for tx in second[0]] and first[1] == second[1]
