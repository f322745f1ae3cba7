"""The citizen notifications of a period as an accounting identity:
planned = sent + pending + refused + too old.

The hub counts them in its outbox (``hub.store.notifications``) by the day each event happened, and
the reconciliation prints them beside its other identities, in the report's words, so an official
sees how many citizens were told on iHaNoi what became of their dossier, how many are still to be
told (the app was down), how many could not be (the app refused, or the retries ran out) and how
many were not told because the hub first saw them after they stopped being news (older than the
notification age limit, ``HUB_NOTIFY_MAX_AGE_DAYS``).
"""

from __future__ import annotations

from collections.abc import Mapping

from quality.reconcile.model import Identity

TERMS = (
    "notifications_planned",
    "notifications_sent",
    "notifications_pending",
    "notifications_refused",
    "notifications_too_old",
)


def notification_identity(counts: Mapping[str, int]) -> Identity:
    """The identity over ``counts`` (``planned``, ``sent``, ``pending``, ``refused``, ``too_old``)."""
    planned, *outcomes = TERMS
    return Identity(
        key="notifications",
        formula="notifications planned = sent + pending + refused + too old",
        terms={term: int(counts[term.removeprefix("notifications_")]) for term in TERMS},
        left_term=planned,
        right_terms=tuple(outcomes),
    )
