"""Online payments matched to the dossiers claiming them, on both stores: every class by dossier,
identities that add up by dossier and by amount, and the online-payment KPI's basis."""

from __future__ import annotations

from datetime import UTC, date, datetime

from adapters.payment_platform.client import PlatformTransaction
from hub.store import HubStore, PaymentRecords, StagedRecord
from mappings.facts import DossierFacts
from mappings.sources import CITY_SOURCE
from quality.reconcile import DifferenceClass, Period, reconcile

DAY = Period.parse("2026-11-20")
MATCHED = "000.00.12.H26-261120-0001"
DIFFERS = "000.00.12.H26-261120-0002"
NOT_PAID = "000.00.12.H26-261120-0003"  # its transaction failed
NO_TRANSACTION = "000.00.12.H26-261120-0004"
UNCLAIMED = "000.00.12.H26-261120-0005"  # fees, not paid online, yet a paid transaction names it
CITY_GATEWAY = "000.00.12.H26-261120-0006"  # paid on the city's own gateway: not the platform's business
UNKNOWN = "000.00.13.H26-261120-0099"  # the city does not hold it


def _facts(paid_online: bool, gateway: str | None, fee_total: int) -> DossierFacts:
    received = datetime(2026, 11, 20, 2, tzinfo=UTC)
    return DossierFacts(
        "1.001193", 2, 2, received, None, None, False, paid_online, False,
        fee_payable=fee_total > 0, payment_gateway=gateway, fee_total=fee_total,
    )  # fmt: skip


CLAIMS = {
    MATCHED: _facts(True, "national_portal", 50_000),
    DIFFERS: _facts(True, "national_portal", 20_000),
    NOT_PAID: _facts(True, "national_portal", 30_000),
    NO_TRANSACTION: _facts(True, "national_portal", 8_000),
    UNCLAIMED: _facts(False, None, 100_000),
    CITY_GATEWAY: _facts(True, "city", 10_000),
}


def _tx(no: str, amount: int, state: str, serial: int) -> PlatformTransaction:
    return PlatformTransaction.model_validate(
        {"MaThamChieu": f"R{serial}", "MaGiaoDich": f"PP{serial}", "MaHoSo": no, "SoTien": amount,
         "ThoiGianGD": "20261120091500", "TrangThaiGD": state}
    )  # fmt: skip


def _store(store: HubStore) -> None:
    records = [StagedRecord(no, f"v1-{no}", {"ma_ho_so": no}, None, facts) for no, facts in CLAIMS.items()]
    store.staging.stage(CITY_SOURCE, records, "b1")
    listed = [
        _tx(MATCHED, 50_000, "1", 1),
        _tx(DIFFERS, 30_000, "1", 2),
        _tx(NOT_PAID, 30_000, "4", 3),
        _tx(UNCLAIMED, 100_000, "1", 4),
        _tx(UNKNOWN, 20_000, "1", 5),
    ]
    PaymentRecords(store).replace_day(date(2026, 11, 20), listed)


def test_each_payment_class_is_found_by_dossier_with_its_reason(store: HubStore) -> None:
    _store(store)

    result = reconcile(store.db, DAY)

    found = {(d.dossier_no, d.kind, d.detail) for d in result.differences if d.source == "payment_platform"}
    assert found == {
        (DIFFERS, DifferenceClass.PAYMENT_AMOUNT_DIFFERS, "payment_amounts: 30000 / 20000"),
        (NOT_PAID, DifferenceClass.PAYMENT_NOT_PAID, "payment_failed"),
        (NO_TRANSACTION, DifferenceClass.PAYMENT_NOT_PAID, "payment_no_transaction"),
        (UNCLAIMED, DifferenceClass.PAYMENT_UNCLAIMED, "payment_not_claimed"),
        (UNKNOWN, DifferenceClass.PAYMENT_UNCLAIMED, "payment_no_dossier"),
    }
    # a dossier the portal also lacks is counted there first and shows its payment class as a flag
    assert len(result.dossiers(DifferenceClass.PAYMENT_NOT_PAID)) == 2
    assert result.counts[DifferenceClass.PAYMENT_UNCLAIMED] == 1  # UNKNOWN: no other class
    assert result.flags[DifferenceClass.PAYMENT_UNCLAIMED] == 1  # UNCLAIMED: missing at the portal first
    assert result.to_dict()["payments"] == {"checked": True, "basis": "platform", "days_fetched": ["2026-11-20"]}


def test_the_payment_identities_add_up_by_dossier_and_by_amount(store: HubStore) -> None:
    _store(store)

    result = reconcile(store.db, DAY)

    paid, claimed, vnd = (result.identity(key) for key in ("payments_paid", "payments_claimed", "payments_vnd"))
    assert (paid.left, paid.holds) == (4, True)  # MATCHED, DIFFERS, UNCLAIMED, UNKNOWN
    assert (claimed.left, claimed.holds) == (4, True)  # MATCHED, DIFFERS, NOT_PAID, NO_TRANSACTION
    assert claimed.terms["matched"] == 1 and claimed.terms["not_paid"] == 2
    assert vnd.terms == {
        "platform_paid_vnd": 200_000,
        "matched_vnd": 50_000,
        "amount_differs_vnd": 30_000,
        "unclaimed_vnd": 120_000,
        "claimed_vnd": 108_000,
    }
    assert vnd.holds


def test_the_online_payment_kpi_counts_portal_payments_only_when_matched(store: HubStore) -> None:
    _store(store)
    claimed_only = reconcile(store.db, Period.parse("2026-11-21..2026-11-21"))  # no list fetched that day
    assert claimed_only.to_dict()["payments"] == {"checked": False, "basis": "facts"}

    result = reconcile(store.db, DAY)

    kpi = result.kpi("paid_online")
    # fee payable: all six; paid online by their own word: five (all but UNCLAIMED); matched on the
    # platform: MATCHED, and CITY_GATEWAY's payment is the city gateway's, counted on its word
    assert (kpi.numerator, kpi.denominator, kpi.basis) == (2, 6, "platform")
    assert kpi.by_agency["000.00.12.H26"] == (2, 6)
    assert "basis: platform" in kpi.formula


def test_without_the_platforms_list_the_kpi_keeps_the_dossiers_word_and_nothing_is_checked(store: HubStore) -> None:
    records = [StagedRecord(no, f"v1-{no}", {"ma_ho_so": no}, None, facts) for no, facts in CLAIMS.items()]
    store.staging.stage(CITY_SOURCE, records, "b1")

    result = reconcile(store.db, DAY)

    kpi = result.kpi("paid_online")
    assert (kpi.numerator, kpi.denominator, kpi.basis) == (5, 6, "facts")
    assert not any(d.source == "payment_platform" for d in result.differences)
    assert DifferenceClass.PAYMENT_UNCLAIMED not in result.checked
