"""Log lines and metrics for what a task just did, each tagged with its correlation ids.

The jobs call these once per unit of work, after the fact, from what they already hold (the
exchanges their recorder kept, the quarantine the plan wrote), so no pipeline code carries
logging or metric calls of its own.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from hub.observability import metrics
from hub.observability.logging import correlated
from hub.store import HubStore, MessageLogEntry
from hub.store.database import utc

log = logging.getLogger(__name__)


def exchanges(entries: Sequence[MessageLogEntry]) -> None:
    """One line per partner call (message id = the exchange id the message log keeps), and metrics."""
    for e in entries:
        with correlated(message_id=e.exchange_id, batch_id=e.batch_id):
            log.log(
                logging.INFO if e.outcome == "ok" else logging.WARNING,
                "%s %s attempt %d: %s, HTTP %s, %d records, %.0f ms%s",
                e.partner,
                e.operation,
                e.attempt,
                e.outcome,
                e.http_status if e.http_status is not None else "-",
                e.record_count,
                e.duration_ms,
                f": {e.error}" if e.error else "",
            )
    metrics.exchanges(entries)


def quarantined_since(store: HubStore, source: str, since: datetime) -> int:
    """Log each dossier (re)quarantined since ``since`` with its rule and reason; count the new ones."""
    entries = store.quarantine.open_entries(source)
    seen = [e for e in entries if utc(e["last_seen"]) >= since]
    for e in seen:
        with correlated(dossier_no=e["dossier_no"]):
            log.info("quarantined under %s: %s", e["rule"], e["reason"])
    new = sum(1 for e in seen if utc(e["first_seen"]) >= since)
    metrics.quarantine(source, open_by_rule=Counter(e["rule"] for e in entries), new_entries=new)
    return new
