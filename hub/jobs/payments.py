"""Fetch the payment platform's transactions of a period and settle the ones it left open: the
step before a reconciliation that checks online payments (``reconcile_*`` DAGs, ``hub demo``).

For each day of the period, the day's list (LIST, an ASSUMPTION: docs/interfaces.md 10.5) replaces
what the store held for it; a day already fetched after it ended is not fetched again (its list
no longer changes), so a quarter's run reads only the days it has not seen. Then every listed
transaction neither paid nor failed is asked about with QUERY and its answer kept: a payment the
bank settled late is matched tonight rather than listed as not paid. A QUERY the platform refuses
leaves the transaction open (the report says "unsettled"), never stops the others. The exchanges
go to the message log.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any

from adapters.errors import AdapterError
from adapters.payment_platform.client import PaymentClient, parse_time
from hub.jobs.common import recorded
from hub.store import PaymentRecords, hub_store
from mappings.dossier import VN_TZ
from quality.reconcile.model import Period

__all__ = ["fetch_platform_payments"]

log = logging.getLogger(__name__)


def fetch_platform_payments(client: PaymentClient, period_text: str) -> dict[str, Any]:
    """Store the period's transaction lists and settle the open ones; returns the counts."""
    period = Period.parse(period_text)
    records = PaymentRecords(hub_store())
    fetched_before = records.fetched(period.first, period.last)
    counts = {"days_fetched": 0, "days_kept": 0, "transactions": 0, "queried": 0, "settled": 0, "query_failed": 0}
    day = period.first
    with recorded(client, None):
        while day <= period.last:
            if _final(fetched_before.get(day), day):
                counts["days_kept"] += 1
            else:
                counts["transactions"] += records.replace_day(day, client.transactions(day))
                counts["days_fetched"] += 1
            for open_tx in records.unresolved(day):
                counts["queried"] += 1
                try:
                    status = client.query(open_tx.reference, parse_time(open_tx.time))
                except AdapterError as exc:
                    counts["query_failed"] += 1
                    log.warning("payment %s: QUERY failed (%s); left unsettled", open_tx.reference, exc)
                    continue
                if status.state is not None and status.state != open_tx.state:
                    records.settle(open_tx.reference, status.state, status.transaction_id)
                    counts["settled"] += status.settled
            day += timedelta(days=1)
    log.info("payment platform %s: %s", period.label, counts)
    return {"period": period.label, **counts}


def _final(fetched_at: datetime | None, day: Any) -> bool:
    """A list fetched after its day ended in Hanoi no longer changes."""
    end = datetime.combine(day + timedelta(days=1), time(), VN_TZ)
    return fetched_at is not None and fetched_at.astimezone(VN_TZ) >= end
