"""The canonical postal order: one dossier result to one receiver, as every carrier client accepts it.

Carrier-neutral on purpose: planning (``mappings.postal.dispatch``) builds it from the dossier and
each carrier client (``adapters.postal``) translates it into its own API, so it belongs with the
mappings and the carriers depend on it, not the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Address:
    """A receiver or sender; codes are the versioned commune/province codes valid on the order date."""

    name: str
    phone: str
    street: str
    commune_code: str
    province_code: str


@dataclass(frozen=True)
class OrderRequest:
    """One delivery of one dossier result.

    ``reference`` (``f"{dossier_no}/KQ"``) is the idempotency key the carrier stores as its
    order reference: sending the same request twice must give the same order, never a second
    parcel the city pays for.
    """

    reference: str
    dossier_no: str
    sender: Address
    receiver: Address
    weight_grams: int
    cod_amount: int
    content: str
    item_code: str | None = None
    """The S10 code the hub allocated from the carrier's block, for a carrier that takes the
    code from its customer (VNPost); None where the carrier assigns it (Viettel Post)."""
