"""The citizen notifications of a period as an accounting identity: planned = sent + pending + refused.

The hub counts them in its outbox (``hub.store.notifications``) by the day each event happened, and
the reconciliation prints them beside its other identities, in the report's words, so an official
sees how many citizens were told on iHaNoi what became of their dossier, how many are still to be
told (the app was down) and how many could not be (the app refused, or the retries ran out).
"""

from __future__ import annotations

from collections.abc import Mapping

from quality.reconcile.model import Identity

TERMS = ("notifications_planned", "notifications_sent", "notifications_pending", "notifications_refused")


def notification_identity(counts: Mapping[str, int]) -> Identity:
    """The identity over ``counts`` (``planned``, ``sent``, ``pending``, ``refused``)."""
    planned, *outcomes = TERMS
    return Identity(
        key="notifications",
        formula="notifications planned = sent + pending + refused",
        terms={term: int(counts[term.removeprefix("notifications_")]) for term in TERMS},
        left_term=planned,
        right_terms=tuple(outcomes),
    )
