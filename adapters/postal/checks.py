"""What every carrier client checks the same way: the receiver's address before an order leaves,
and the outer shape of a callback.

Kept apart from the clients so a third carrier gets the same refusals with the same words.

A callback reaches the hub from anyone who can reach the receiver, and both carriers carry their
credential *inside* the JSON body (Viettel Post's ``TOKEN``, VNPost's ``SignData``), so the body
must be parsed before it can be authenticated. What makes parsing expensive or fatal is nesting:
Python's JSON decoder recurses once per ``[`` or ``{`` and a body of 100,000 of them ends in a
RecursionError. So :func:`bounded_json` first measures the nesting of the raw bytes with one
linear scan (brackets inside strings do not count) and refuses anything deeper than a callback
ever is before the decoder sees it; the receiver has already bounded the body's size.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from adapters.errors import PermanentError
from adapters.postal.carrier import WebhookRejected
from mappings.code_tables import CodeTables, commune_problem
from mappings.postal.order import OrderRequest
from mappings.text import unstorable_characters

__all__ = ["MAX_JSON_DEPTH", "bounded_json", "checked_addresses", "nesting_depth", "webhook_document"]

MAX_JSON_DEPTH = 16
"""Deeper than any callback: Viettel's ``{DATA: {...}}`` is 2, VNPost's ``Data`` list of changes 2."""
# A JSON string, its closing quote optional (an unterminated one ends the scan instead of making the
# engine try again from every later quote): linear in the body's length.
_STRING = re.compile(rb'"(?:[^"\\]+|\\.)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_OPENING = frozenset(b"[{")


def checked_addresses(partner: str, order: OrderRequest, tables: CodeTables, on: date) -> None:
    """Refuse (permanently) an order whose receiver or sender names a commune not valid on ``on``."""
    for role, address in (("receiver", order.receiver), ("sender", order.sender)):
        problem = commune_problem(tables, address.commune_code, address.province_code, on)
        if problem is not None:
            raise PermanentError(partner, "create_order", f"{order.reference}: {role} address: {problem}")


def nesting_depth(raw: bytes, stop_above: int = MAX_JSON_DEPTH) -> int:
    """How deeply arrays and objects nest in the JSON text ``raw``, without parsing it: strings
    are cut out and the brackets left are counted. The count stops once the depth passes
    ``stop_above``, or where a bracket closes more than was opened (the decoder stops there too)."""
    depth = deepest = 0
    for bracket in _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS):
        if bracket in _OPENING:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_above:
                    break
        else:
            depth -= 1
            if depth < 0:
                break
    return deepest


def bounded_json(raw: bytes | str, what: str) -> Any:
    """``raw`` decoded as JSON once its nesting is known to be shallow, holding only text every
    store keeps; a 400 naming ``what`` and the reason otherwise (too deep, not JSON, not UTF-8, a
    number too long to convert, a NUL or a lone surrogate -- ``"\\ud800"`` decodes to one, which
    neither SQLite nor PostgreSQL stores and no UTF-8 signature covers)."""
    scanned = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if nesting_depth(scanned) > MAX_JSON_DEPTH:
        raise WebhookRejected(400, f"{what} nests arrays or objects deeper than {MAX_JSON_DEPTH} levels")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(400, f"{what} is not JSON ({type(exc).__name__})") from None
    unstorable = unstorable_characters(document, escaped=False)
    if unstorable:  # what no store keeps, and what no signature can be computed over
        listed = ", ".join(f"{field or what} ({code})" for field, code in unstorable[:5])
        raise WebhookRejected(400, f"{what} holds a NUL or a lone surrogate: {listed}")
    return document


def webhook_document(body: bytes) -> dict[str, Any]:
    """The callback body as a JSON object, or a 400 saying why it is not one."""
    document = bounded_json(body, "body")
    if not isinstance(document, dict):
        raise WebhookRejected(400, "body is not a JSON object")
    return document
