"""What the hub knows of the payment platform: the confirmations it received and accepted, and the
platform's transaction lists by day (what the reconciliation compares the dossiers with).

``payment_confirmation`` holds one row per paid transaction the platform confirmed, unique by the
platform's ``MaGiaoDich`` and by the hub's ``MaThamChieu``: a callback naming either again is a
replay and changes nothing (:meth:`PaymentRecords.confirm` says so, in the same transaction that
checks it, so two copies arriving together cannot both be taken). ``payment_transaction`` holds
the day's list as last fetched (replaced whole, with ``payment_list_fetch`` saying when and how
many), and QUERY's answers update a row's state in place. Nothing personal is kept: dossier
numbers, references, amounts, states and times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from adapters.payment_platform.callbacks import Confirmation
from adapters.payment_platform.client import SETTLED, PlatformTransaction
from hub.store import schema as t
from hub.store.database import chunks
from hub.store.store import HubStore

payment_confirmation = sa.Table(
    "payment_confirmation",
    t.metadata,
    sa.Column("transaction_id", sa.String(64), primary_key=True),
    sa.Column("reference", sa.String(255), nullable=False, unique=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("bank", sa.String(40), nullable=False),
    sa.Column("paid_time", sa.String(14), nullable=False),
    sa.Column("received_at", t.Timestamp, nullable=False),
)
payment_transaction = sa.Table(
    "payment_transaction",
    t.metadata,
    sa.Column("reference", sa.String(255), primary_key=True),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("dossier_no", sa.String(64), nullable=False),
    sa.Column("transaction_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("time", sa.String(14), nullable=False),
    sa.Column("queried_at", t.Timestamp),
    sa.Index("ix_payment_transaction_day", "day", "state"),
)
payment_list_fetch = sa.Table(
    "payment_list_fetch",
    t.metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("transactions", sa.Integer, nullable=False),
    sa.Column("fetched_at", t.Timestamp, nullable=False),
)


@dataclass(frozen=True)
class KeptTransaction:
    """One platform transaction as the store holds it."""

    reference: str
    day: date
    dossier_no: str
    transaction_id: str
    amount: int
    state: str
    time: str


class PaymentRecords:
    """The payment tables on the hub store's database."""

    def __init__(self, store: HubStore) -> None:
        self.db = store.db

    def confirm(self, confirmation: Confirmation) -> bool:
        """Keep a paid confirmation; False (nothing written) when its transaction or reference was
        already confirmed -- a replay. Committed on its own, before the callback is answered."""
        table = payment_confirmation
        with self.db.writing() as conn:
            seen = conn.execute(
                sa.select(sa.func.count()).where(
                    (table.c.transaction_id == confirmation.transaction_id)
                    | (table.c.reference == confirmation.reference)
                )
            ).scalar_one()
            if seen:
                return False
            conn.execute(
                sa.insert(table).values(
                    transaction_id=confirmation.transaction_id,
                    reference=confirmation.reference,
                    amount=confirmation.amount,
                    bank=confirmation.bank,
                    paid_time=confirmation.time,
                    received_at=self.db.now(),
                )
            )
        return True

    def confirmed(self) -> dict[str, int]:
        """Every confirmed reference and its amount."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(sa.select(payment_confirmation.c.reference, payment_confirmation.c.amount)).all()
        return {reference: amount for reference, amount in rows}

    def replace_day(self, day: date, transactions: Iterable[PlatformTransaction]) -> int:
        """The day's list as fetched now, replacing the previous fetch in one transaction."""
        rows = [
            {
                "reference": tx.reference,
                "day": day,
                "dossier_no": tx.dossier_no,
                "transaction_id": tx.transaction_id or "",
                "amount": tx.amount,
                "state": tx.state,
                "time": tx.time,
            }
            for tx in transactions
        ]
        with self.db.writing() as conn:
            conn.execute(sa.delete(payment_transaction).where(payment_transaction.c.day == day))
            for chunk in chunks(rows):
                conn.execute(sa.insert(payment_transaction), list(chunk))
            conn.execute(sa.delete(payment_list_fetch).where(payment_list_fetch.c.day == day))
            conn.execute(
                sa.insert(payment_list_fetch).values(day=day, transactions=len(rows), fetched_at=self.db.now())
            )
        return len(rows)

    def settle(self, reference: str, state: str, transaction_id: str | None) -> None:
        """QUERY's answer for ``reference``: its state (and the platform's id once it has one)."""
        values: dict[str, object] = {"state": state, "queried_at": self.db.now()}
        if transaction_id:
            values["transaction_id"] = transaction_id
        with self.db.engine.begin() as conn:
            conn.execute(
                sa.update(payment_transaction).where(payment_transaction.c.reference == reference).values(values)
            )

    def unresolved(self, day: date) -> list[KeptTransaction]:
        """The day's transactions the list left neither paid nor failed (QUERY asks each)."""
        return [tx for tx in self.of_days(day, day) if tx.state not in SETTLED]

    def of_days(self, first: date, last: date) -> list[KeptTransaction]:
        columns = [payment_transaction.c[name] for name in KeptTransaction.__dataclass_fields__]
        query = sa.select(*columns).where(payment_transaction.c.day.between(first, last))
        with self.db.engine.connect() as conn:
            return [KeptTransaction(*row) for row in conn.execute(query.order_by(payment_transaction.c.reference))]

    def fetched(self, first: date, last: date) -> dict[date, datetime]:
        """The days of ``first``..``last`` whose list was fetched, and when."""
        table = payment_list_fetch
        with self.db.engine.connect() as conn:
            rows = conn.execute(sa.select(table.c.day, table.c.fetched_at).where(table.c.day.between(first, last)))
            return {day: fetched_at for day, fetched_at in rows}
