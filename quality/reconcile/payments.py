"""The city's online payments on the national portal's payment platform, matched to the dossiers
that claim them (issue 20).

A city dossier claims a payment on the platform when its facts say it paid online through the
national portal (``paid_online``, ``payment_gateway`` "national_portal"), for the sum of its fees
(``fee_total``). The platform's side is its transaction list for the period's days as the hub last
fetched it (``hub.store.payments``; its format is an ASSUMPTION, docs/interfaces.md 10.5), a
transaction counting as paid at ``TrangThaiGD`` "1". Matched by dossier number, each dossier is:

- **matched**: paid and claimed, for the same amount -- no difference;
- ``payment_amount_differs``: paid and claimed, the amounts differ (detail: paid / claimed);
- ``payment_not_paid``: claimed, no paid transaction (detail: failed, unsettled, or none at all);
- ``payment_unclaimed``: paid, no dossier claims it (detail: the dossier is quarantined, unknown,
  claims the city's gateway, or does not claim an online payment).

Two identities hold by dossier (``platform paid = matched + amount differs + unclaimed``,
``claimed = matched + amount differs + not paid``) and one by amount in VND, so every printed sum
adds up. Without a fetched list for the period nothing is checked, and the online-payment KPI
keeps the dossiers' own word (basis ``facts``); with one, a payment on the portal counts toward
the KPI only when matched (basis ``platform``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from quality.reconcile.load import StoreDatabase
from quality.reconcile.model import Difference, DifferenceClass, Identity, Kpi, Period

__all__ = ["PAID", "PaymentCheck", "PlatformRows", "check_payments", "read_platform"]

PAID = "1"  # TrangThaiGD
PORTAL_GATEWAY = "national_portal"
_TRANSACTIONS = sa.table(
    "payment_transaction",
    sa.column("day", sa.Date),
    sa.column("dossier_no", sa.String),
    sa.column("amount", sa.BigInteger),
    sa.column("state", sa.String),
)
_FETCHES = sa.table("payment_list_fetch", sa.column("day", sa.Date))

_PAYMENT_STATE = f"""
CREATE TABLE payment_state AS
WITH claims AS (
    SELECT dossier_no, agency, fee_total FROM city
    WHERE in_period AND paid_online AND payment_gateway = '{PORTAL_GATEWAY}'),
paid AS (SELECT dossier_no, sum(amount) AS amount FROM platform WHERE state = '{PAID}' GROUP BY 1),
tried AS (
    SELECT dossier_no, bool_or(state = '4') AS failed, bool_or(state NOT IN ('1', '4')) AS unsettled
    FROM platform GROUP BY 1),
sides AS (
    SELECT coalesce(c.dossier_no, p.dossier_no) AS dossier_no, c.agency, c.fee_total AS claimed,
        p.amount AS paid, c.dossier_no IS NOT NULL AS is_claimed, p.dossier_no IS NOT NULL AS is_paid
    FROM claims c FULL JOIN paid p ON p.dossier_no = c.dossier_no)
SELECT s.dossier_no, coalesce(s.agency, k.agency, split_part(s.dossier_no, '-', 1)) AS agency, s.claimed, s.paid,
    CASE
        WHEN NOT s.is_claimed THEN '{DifferenceClass.PAYMENT_UNCLAIMED}'
        WHEN NOT s.is_paid THEN '{DifferenceClass.PAYMENT_NOT_PAID}'
        WHEN s.paid <> s.claimed THEN '{DifferenceClass.PAYMENT_AMOUNT_DIFFERS}'
    END AS kind,
    CASE
        WHEN NOT s.is_claimed THEN CASE
            WHEN q.dossier_no IS NOT NULL THEN 'payment_dossier_quarantined'
            WHEN k.dossier_no IS NULL THEN 'payment_no_dossier'
            WHEN k.paid_online THEN 'payment_other_gateway'
            ELSE 'payment_not_claimed' END
        WHEN NOT s.is_paid THEN CASE
            WHEN t.unsettled THEN 'payment_unsettled'
            WHEN t.failed THEN 'payment_failed'
            ELSE 'payment_no_transaction' END
        WHEN s.paid <> s.claimed THEN 'payment_amounts: ' || s.paid || ' / ' || s.claimed
    END AS detail
FROM sides s
LEFT JOIN city k ON k.dossier_no = s.dossier_no AND NOT s.is_claimed
LEFT JOIN (SELECT DISTINCT dossier_no FROM quarantine) q ON q.dossier_no = s.dossier_no AND NOT s.is_claimed
LEFT JOIN tried t ON t.dossier_no = s.dossier_no
"""


class PaymentCheck:
    """The payment side of one reconciliation, read from ``payment_state``."""

    def __init__(self, db: duckdb.DuckDBPyConnection, days_fetched: list[str]) -> None:
        db.execute(_PAYMENT_STATE)
        self._db = db
        self.days_fetched = days_fetched

    def differences(self) -> list[Difference]:
        rows = self._db.execute(
            "SELECT dossier_no, kind, agency, detail FROM payment_state WHERE kind IS NOT NULL ORDER BY kind, 1"
        ).fetchall()
        return [
            Difference(no, DifferenceClass(kind), "payment_platform", agency, detail)
            for no, kind, agency, detail in rows
        ]

    def identities(self) -> list[Identity]:
        counts = self._sums("count(*)")
        amounts = self._sums("coalesce(sum(paid), 0)")
        (claimed_vnd,) = self._db.execute(
            "SELECT coalesce(sum(claimed), 0) FROM payment_state WHERE kind IS NULL OR kind <> $u",
            {"u": DifferenceClass.PAYMENT_UNCLAIMED.value},
        ).fetchone() or (0,)
        by_count = {
            "platform_paid": counts["matched"] + counts["amount_differs"] + counts["unclaimed"],
            "claimed": counts["matched"] + counts["amount_differs"] + counts["not_paid"],
            **counts,
        }
        paid_vnd = {f"{key}_vnd": amounts[key] for key in ("matched", "amount_differs", "unclaimed")}
        return [
            Identity(
                "payments_paid",
                "dossiers paid on the platform = matched + amount differs + paid, not claimed",
                by_count,
                "platform_paid",
                ("matched", "amount_differs", "unclaimed"),
            ),
            Identity(
                "payments_claimed",
                "dossiers claiming a payment on the portal = matched + amount differs + claimed, not paid",
                by_count,
                "claimed",
                ("matched", "amount_differs", "not_paid"),
            ),
            Identity(
                "payments_vnd",
                "VND paid on the platform = matched + amount differs + paid, not claimed (claimed_vnd beside it)",
                {"platform_paid_vnd": sum(paid_vnd.values()), **paid_vnd, "claimed_vnd": int(claimed_vnd)},
                "platform_paid_vnd",
                tuple(paid_vnd),
            ),
        ]

    def _sums(self, aggregate: str) -> dict[str, int]:
        keys = {
            None: "matched",
            DifferenceClass.PAYMENT_AMOUNT_DIFFERS.value: "amount_differs",
            DifferenceClass.PAYMENT_UNCLAIMED.value: "unclaimed",
            DifferenceClass.PAYMENT_NOT_PAID.value: "not_paid",
        }
        found = dict.fromkeys(keys.values(), 0)
        for kind, value in self._db.execute(f"SELECT kind, {aggregate} FROM payment_state GROUP BY 1").fetchall():
            found[keys[kind]] = int(value)
        return found

    def paid_online_kpi(self, kpi: Kpi) -> Kpi:
        """The online-payment KPI with a claimed payment on the portal counted only when matched: the
        in-scope, fee-payable claims the platform does not match leave the numerator."""
        rows = self._db.execute(
            f"""SELECT c.agency, count(*) FROM city c JOIN payment_state p ON p.dossier_no = c.dossier_no
            WHERE c.in_period AND c.fee_payable AND c.paid_online AND c.payment_gateway = '{PORTAL_GATEWAY}'
                AND p.kind IS NOT NULL GROUP BY 1"""
        ).fetchall()
        unmatched = Counter({agency: int(n) for agency, n in rows})
        by_agency = {agency: (n - unmatched[agency], d) for agency, (n, d) in kpi.by_agency.items()}
        return replace(
            kpi,
            numerator=kpi.numerator - sum(unmatched.values()),
            by_agency=by_agency,
            formula=kpi.formula + "; a payment on the national portal counts only when the platform's "
            "transaction matches the dossier and its fees (basis: platform)",
            basis="platform",
        )

    def summary(self) -> dict[str, Any]:
        return {"checked": True, "basis": "platform", "days_fetched": self.days_fetched}


@dataclass(frozen=True)
class PlatformRows:
    """The period's fetched transactions, read from the store before its streams open: on SQLite,
    ``load.load_store`` hands the file to ADBC's own copy of SQLite, and a pysqlite connection opened
    beside it fails with "disk I/O error"."""

    days: list[str]
    table: pa.Table

    def load(self, db: duckdb.DuckDBPyConnection) -> list[str]:
        """``platform`` in ``db``; returns the days fetched (none: the payments go unchecked)."""
        db.register("platform_rows", self.table)
        db.execute("CREATE TABLE platform AS SELECT * FROM platform_rows")
        db.unregister("platform_rows")
        return self.days


def read_platform(store: StoreDatabase, period: Period) -> PlatformRows:
    """The days of ``period`` whose transaction list was fetched, and their transactions."""
    if not sa.inspect(store.engine).has_table("payment_list_fetch"):
        days: list[Any] = []
        rows: list[Any] = []
    else:
        with store.engine.connect() as conn:
            days = sorted(
                conn.execute(
                    sa.select(_FETCHES.c.day).where(_FETCHES.c.day.between(period.first, period.last))
                ).scalars()
            )
            columns = (_TRANSACTIONS.c.dossier_no, _TRANSACTIONS.c.amount, _TRANSACTIONS.c.state)
            rows = conn.execute(sa.select(*columns).where(_TRANSACTIONS.c.day.between(period.first, period.last))).all()
    table = pa.table(
        {
            "dossier_no": pa.array([r[0] for r in rows], pa.string()),
            "amount": pa.array([int(r[1]) for r in rows], pa.int64()),
            "state": pa.array([r[2] for r in rows], pa.string()),
        }
    )
    return PlatformRows([day.isoformat() for day in days], table)


def check_payments(db: duckdb.DuckDBPyConnection, days_fetched: list[str]) -> PaymentCheck | None:
    """The payment check, or None when the platform's list was fetched for no day of the period."""
    return PaymentCheck(db, days_fetched) if days_fetched else None
