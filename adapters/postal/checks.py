"""What every carrier client checks the same way: the receiver's address before an order leaves,
the S10 item code of the reply, and the outer shape of a callback.

Kept apart from the clients so a third carrier gets the same refusals with the same words.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from adapters.errors import ContractViolation, PermanentError
from adapters.postal.carrier import WebhookRejected
from mappings.code_tables import CodeTables, commune_problem
from mappings.postal.order import OrderRequest
from mappings.postal.s10 import is_valid_s10

__all__ = ["accepted_item_code", "batches", "checked_addresses", "header", "webhook_document"]


def checked_addresses(partner: str, order: OrderRequest, tables: CodeTables, on: date) -> None:
    """Refuse (permanently) an order whose receiver or sender names a commune not valid on ``on``."""
    for role, address in (("receiver", order.receiver), ("sender", order.sender)):
        problem = commune_problem(tables, address.commune_code, address.province_code, on)
        if problem is not None:
            raise PermanentError(partner, "create_order", f"{order.reference}: {role} address: {problem}")


def accepted_item_code(partner: str, operation: str, reference: str, item_code: Any) -> str:
    """The reply's item code, if it is a valid S10 code; otherwise the reply breaks the contract."""
    if not isinstance(item_code, str) or not is_valid_s10(item_code):
        raise ContractViolation(partner, operation, f"{reference}: item code {item_code!r} fails the S10 check")
    return item_code


def batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value, whatever case the web framework or the sender used ("" when absent)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


def webhook_document(body: bytes) -> dict[str, Any]:
    """The callback body as a JSON object, or a 400 saying why it is not one."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(400, "body is not JSON") from None
    if not isinstance(document, dict):
        raise WebhookRejected(400, "body is not a JSON object")
    return document
