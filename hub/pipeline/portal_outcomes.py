"""Find out what became of portal requests whose outcome the message log could not record.

A process killed while the portal worked on its request leaves that request in the log with
outcome "unknown" (``hub.pipeline.message_log``). The portal may or may not have acted on it; the
next delivery run asks, and records the answer beside the chain (``MessageLog.resolve``):

- ``DongBoHoSoMC``: ``TraCuuHoSo`` per dossier the call carried -- does the portal hold each one,
  and as the call sent it? (That a result item repeats the fields sent is an assumption, ledger
  2.8.) The lookups are exchanges like any other, so they are chained too.
- ``CapNhatTienDoHoSoMC``: ``TraCuuHoSo`` shows no processing history (ledger 2.8), so
  the answer is the idempotent resend: the entries stay claimed in the outbox, the retried batch
  sends them again (the portal keeps one copy per entry), and the call is resolved once every entry
  it carried is settled.
- anything else (login, lookups, catalogues) reads and changes nothing at the portal.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from adapters.errors import AdapterError
from adapters.national_portal.client import NationalPortalClient
from hub.pipeline.portal_sync import PARTNER, PROGRESS_OPERATION, SYNC_OPERATION
from hub.store import HubStore, OpenIntent, OutboxState
from signing.digests import content_hash

log = logging.getLogger(__name__)


def resolve_unknown_outcomes(store: HubStore, client: NationalPortalClient) -> int:
    """Resolve what can be resolved of the portal's unknown outcomes now; how many were.

    Called inside the delivery's ``recorded`` block, before the batch is sent (so a lookup sees
    what the lost call did, not the resend) and after it (so a resent progress call is settled).
    A portal that does not answer the lookups leaves the rest for the next run.
    """
    resolutions: dict[str, str] = {}
    for intent in store.message_log.unknown_outcomes(PARTNER):
        try:
            resolution = _resolution(store, client, intent)
        except AdapterError as exc:
            log.warning("could not resolve unknown portal outcomes yet (%s); the next run tries again", exc)
            break
        if resolution is not None:
            resolutions[intent.exchange_id] = resolution
    resolved = store.message_log.resolve(resolutions)
    if resolved:
        log.info("resolved %d portal requests whose outcome was unknown", resolved)
    return resolved


def _records(intent: OpenIntent) -> list[dict[str, Any]]:
    try:
        body = json.loads(intent.request_body or b"")
    except ValueError:
        return []
    data = body.get("data") if isinstance(body, dict) else None
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def _resolution(store: HubStore, client: NationalPortalClient, intent: OpenIntent) -> str | None:
    if intent.operation == SYNC_OPERATION:
        return _looked_up(client, _records(intent))
    if intent.operation == PROGRESS_OPERATION:
        return _resent(store, _records(intent))
    return f"{intent.operation} reads and changes nothing at the portal"


def _looked_up(client: NationalPortalClient, records: list[dict[str, Any]]) -> str:
    """Ask the portal for each dossier the call carried and compare what it holds with what was sent."""
    as_sent = other = absent = 0
    for record in records:
        held = client.lookup(str(record.get("MaHoSo")))
        if held is None:
            absent += 1
        elif all(held.get(key) == value for key, value in record.items()):
            as_sent += 1
        else:
            other += 1
    return (
        f"TraCuuHoSo: the portal holds {as_sent} of {len(records)} dossiers as this call sent them, "
        f"{other} in another version, {absent} not at all"
    )


def _resent(store: HubStore, entries: list[dict[str, Any]]) -> str | None:
    """Resolved once every entry the call carried is settled in the outbox (None: not yet); each
    entry is found inside its dossier's history message."""
    states = store.outbox.record_states(PARTNER, PROGRESS_OPERATION, [str(e.get("MaHoSo")) for e in entries])
    found = [states.get((str(entry.get("MaHoSo")), content_hash(entry))) for entry in entries]
    acknowledged = sum(1 for state in found if state is OutboxState.ACKNOWLEDGED)
    refused = sum(1 for state in found if state is OutboxState.DEAD)
    if acknowledged + refused < len(entries):
        return None
    return (
        f"idempotent resend: the portal acknowledged {acknowledged} of {len(entries)} entries this call "
        f"carried, {refused} refused and quarantined"
    )
