"""Where a dossier stands with a partner the hub delivers to.

Written by the store as the pipeline settles deliveries and read by the reconciliation as it
classifies differences, so the states live below both.
"""

from enum import StrEnum


class DeliveryState(StrEnum):
    """Where the current version of a dossier stands with one partner.

    The four states partition the staged dossiers, which is what lets the summary prove that
    extracted = delivered + pending + quarantined + out of scope.
    """

    PENDING = "pending"
    DELIVERED = "delivered"
    QUARANTINED = "quarantined"
    OUT_OF_SCOPE = "out_of_scope"
