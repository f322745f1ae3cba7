"""What every carrier client checks the same way: the receiver's address before an order leaves,
and the outer shape of a callback.

Kept apart from the clients so a third carrier gets the same refusals with the same words.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from adapters.errors import PermanentError
from adapters.postal.carrier import WebhookRejected
from mappings.code_tables import CodeTables, commune_problem
from mappings.postal.order import OrderRequest

__all__ = ["checked_addresses", "webhook_document"]


def checked_addresses(partner: str, order: OrderRequest, tables: CodeTables, on: date) -> None:
    """Refuse (permanently) an order whose receiver or sender names a commune not valid on ``on``."""
    for role, address in (("receiver", order.receiver), ("sender", order.sender)):
        problem = commune_problem(tables, address.commune_code, address.province_code, on)
        if problem is not None:
            raise PermanentError(partner, "create_order", f"{order.reference}: {role} address: {problem}")


def webhook_document(body: bytes) -> dict[str, Any]:
    """The callback body as a JSON object, or a 400 saying why it is not one."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(400, "body is not JSON") from None
    if not isinstance(document, dict):
        raise WebhookRejected(400, "body is not a JSON object")
    return document
