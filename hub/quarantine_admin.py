"""Replay: re-validate quarantined dossiers and queue what now passes, through the normal path.

A dossier is quarantined for one of three reasons, and replay handles each the same way -- the
store's quarantine reopens the dossier's disposition so the ordinary sync plan (same quality gate,
same outbox, same idempotency keys) considers it again:

- it broke a quality rule (``dates.*``, ``city.*``...): it passes once the rule or a code table
  was fixed (a new code-table version); otherwise it is quarantined again, with the same rule;
- the portal refused it (``portal.rejected``) or the retries ran out during a long outage
  (``delivery.retries_exhausted``): its dead message is made pending again with fresh attempts.

A fix that comes from the city system needs no replay: the new version is staged and planned by
the next run. Nothing here sends anything; the caller delivers the batches returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hub.pipeline import portal_sync
from hub.store import HubStore
from quality.gate import QualityGate


@dataclass
class Replay:
    dossiers: list[str]
    requeued_messages: int
    batches: list[str]
    still_quarantined: dict[str, list[str]] = field(default_factory=dict)


def replay(store: HubStore, gate: QualityGate, *, source: str, dossier_nos: Sequence[str]) -> Replay:
    """Reopen the dossiers, run the sync plan, and say which are queued and which broke a rule again."""
    requeued = store.quarantine.reopen(partner=portal_sync.PARTNER, source=source, dossier_nos=dossier_nos)
    report = portal_sync.plan(store, gate, source=source)
    still: dict[str, list[str]] = {}
    for entry in store.quarantine.open_entries(source):
        if entry["dossier_no"] in dossier_nos:
            still.setdefault(entry["dossier_no"], []).append(entry["rule"])
    return Replay(list(dossier_nos), requeued, report.dossier_batches, still)
