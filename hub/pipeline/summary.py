"""The sync summary: where every extracted dossier stands, and proof the counts add up."""

from __future__ import annotations

from typing import Any

from hub.store import HubStore
from mappings.delivery import DeliveryState


def sync_summary(store: HubStore, *, source: str, partner: str) -> dict[str, Any]:
    """Counts per disposition, and whether extracted = delivered + pending + quarantined + out of scope.

    A dossier staged but not yet planned would break the identity, which is the point: the
    summary runs after planning, so a gap means something was lost.
    """
    extracted = store.staging.count(source)
    dispositions = store.deliveries.counts(partner, source)
    accounted = sum(dispositions.values())
    age = store.outbox.oldest_pending_age(partner)
    return {
        "source": source,
        "partner": partner,
        "counts": {
            "extracted": extracted,
            "delivered": dispositions[DeliveryState.DELIVERED],
            "pending": dispositions[DeliveryState.PENDING],
            "quarantined": dispositions[DeliveryState.QUARANTINED],
            "out_of_scope": dispositions[DeliveryState.OUT_OF_SCOPE],
            "unaccounted": extracted - accounted,
        },
        "identity": "extracted = delivered + pending + quarantined + out_of_scope",
        "identity_holds": extracted == accounted,
        "quarantine_by_rule": store.quarantine.counts_by_rule(source),
        "outbox": store.outbox.counts(partner),
        "outbox_records": store.outbox.record_counts(partner),
        "exchanges": store.message_log.count_exchanges(partner),
        "oldest_pending_seconds": None if age is None else round(age.total_seconds()),
    }
