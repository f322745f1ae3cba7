"""The payment tables on both stores: a confirmation kept once, a day's list replaced whole."""

from __future__ import annotations

from datetime import date

from adapters.payment_platform.callbacks import Confirmation
from adapters.payment_platform.client import PlatformTransaction
from hub.store import HubStore, PaymentRecords

DAY = date(2026, 11, 20)


def _tx(reference: str, state: str) -> PlatformTransaction:
    return PlatformTransaction.model_validate(
        {"MaThamChieu": reference, "MaHoSo": f"000.00.12.H26-261120-{reference[-4:]}", "SoTien": 50_000,
         "ThoiGianGD": "20261120091500", "TrangThaiGD": state}
    )  # fmt: skip


def test_a_confirmation_is_kept_once_by_transaction_and_by_reference(store: HubStore) -> None:
    records = PaymentRecords(store)
    paid = Confirmation("00", "R0001", "PP1", 50_000, "PAYMENT", "20261120091500")
    assert records.confirm(paid) is True
    assert records.confirm(paid) is False  # the same callback again
    assert records.confirm(Confirmation("00", "R0002", "PP1", 50_000, "PAYMENT", "20261120091600")) is False
    assert records.confirm(Confirmation("00", "R0001", "PP2", 1, "PAYMENT", "20261120091600")) is False
    assert records.confirmed() == {"R0001": 50_000}


def test_a_days_list_replaces_the_last_fetch_and_query_answers_settle_it(store: HubStore) -> None:
    records = PaymentRecords(store)
    assert records.replace_day(DAY, [_tx("R0001", "1"), _tx("R0002", "0"), _tx("R0003", "0")]) == 3
    assert records.replace_day(DAY, [_tx("R0001", "1"), _tx("R0002", "0")]) == 2
    assert [tx.reference for tx in records.unresolved(DAY)] == ["R0002"]
    records.settle("R0002", "1", "PP9")
    assert records.unresolved(DAY) == []
    assert [(tx.reference, tx.state, tx.transaction_id) for tx in records.of_days(DAY, DAY)] == [
        ("R0001", "1", ""),
        ("R0002", "1", "PP9"),
    ]
    assert list(records.fetched(DAY, DAY)) == [DAY] and records.fetched(date(2026, 11, 21), date(2026, 11, 21)) == {}
