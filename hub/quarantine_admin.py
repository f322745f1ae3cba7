"""What an operator does with the quarantine: look at one dossier, replay what can now pass.

Replay re-validates quarantined dossiers and queues what now passes, through the normal path.

A dossier is quarantined for one of three reasons, and replay handles each the same way -- it
reopens the dossier's disposition so the ordinary sync plan (same quality gate, same outbox,
same idempotency keys) considers it again:

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

import sqlalchemy as sa

from hub.pipeline import portal_sync
from hub.store import DeliveryState, HubStore, OutboxState
from hub.store import schema as t
from quality.gate import QualityGate

REOPENED = ""  # a disposition hash no staged version has: the plan takes the dossier up again


@dataclass
class Replay:
    dossiers: list[str]
    requeued_messages: int
    batches: list[str]
    still_quarantined: dict[str, list[str]] = field(default_factory=dict)


def reopen(store: HubStore, *, partner: str, source: str, dossier_nos: Sequence[str]) -> int:
    """Make the dossiers' quarantined dispositions unsettled and their dead messages pending again."""
    dlv, ob = t.delivery, t.outbox
    now = store.now()
    with store.engine.begin() as conn:
        conn.execute(
            dlv.update()
            .where(
                dlv.c.partner == partner,
                dlv.c.source == source,
                dlv.c.state == DeliveryState.QUARANTINED.value,
                dlv.c.dossier_no.in_(list(dossier_nos)),
            )
            .values(content_hash=REOPENED, updated_at=now)
        )
        requeued = conn.execute(
            ob.update()
            .where(
                ob.c.partner == partner,
                ob.c.state == OutboxState.DEAD.value,
                ob.c.dossier_no.in_(list(dossier_nos)),
            )
            .values(state=OutboxState.PENDING.value, attempts=0, next_attempt_at=now, batch_id=None, updated_at=now)
        ).rowcount
    return int(requeued or 0)


def replay(store: HubStore, gate: QualityGate, *, source: str, dossier_nos: Sequence[str]) -> Replay:
    """Reopen the dossiers, run the sync plan, and say which are queued and which broke a rule again."""
    requeued = reopen(store, partner=portal_sync.PARTNER, source=source, dossier_nos=dossier_nos)
    report = portal_sync.plan(store, gate, source=source)
    still: dict[str, list[str]] = {}
    for entry in store.open_quarantine(source):
        if entry["dossier_no"] in dossier_nos:
            still.setdefault(entry["dossier_no"], []).append(entry["rule"])
    return Replay(list(dossier_nos), requeued, report.dossier_batches, still)


def delivery_states(store: HubStore, partner: str, dossier_nos: Sequence[str]) -> dict[str, str]:
    """Where each dossier stands with the partner now (what a replay reports at the end)."""
    dlv = t.delivery
    query = sa.select(dlv.c.dossier_no, dlv.c.state).where(
        dlv.c.partner == partner, dlv.c.dossier_no.in_(list(dossier_nos))
    )
    with store.engine.connect() as conn:
        return dict(conn.execute(query).all())


def entries_of(store: HubStore, dossier_no: str) -> list[dict]:
    """Every quarantine entry of one dossier, open or resolved, with the record as it was held."""
    q = t.quarantine
    query = sa.select(q).where(q.c.dossier_no == dossier_no).order_by(q.c.resolved_at.is_not(None), q.c.rule)
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
