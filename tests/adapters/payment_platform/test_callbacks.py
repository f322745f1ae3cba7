"""Confirmations are read only once their checksum and partner code are right."""

from __future__ import annotations

import json

import pytest

from adapters.payment_platform.callbacks import ConfirmationParser
from adapters.payment_platform.checksum import CONFIRM_FIELDS, checksum
from adapters.postal.carrier import WebhookRejected
from tests.support.payment_platform import CODE, SECRET, golden

PARSER = ConfirmationParser(CODE, SECRET)


def _body(message: dict[str, object]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode()


def test_the_golden_confirmations_read_as_paid_and_not_paid() -> None:
    paid = PARSER.parse(_body(golden("confirm-01-paid.json")["request"]))
    assert (paid.paid, paid.transaction_id, paid.amount) == (True, "PP2611200000001", 70_000)
    failed = PARSER.parse(_body(golden("confirm-03-not-paid.json")["request"]))
    assert (failed.paid, failed.error_code, failed.transaction_id) == (False, "24", "")


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"SoTien": 700_000}, 401, "MaXacThuc does not match"),
        ({"MaXacThuc": None}, 401, "MaXacThuc does not match"),
        ({"MaXacThuc": "0" * 64}, 401, "MaXacThuc does not match"),
    ],
)
def test_a_forged_confirmation_is_refused_before_it_is_read(
    change: dict[str, object], status: int, reason: str
) -> None:
    message = golden("confirm-01-paid.json")["request"] | change
    with pytest.raises(WebhookRejected) as caught:
        PARSER.parse(_body(message))
    assert (caught.value.status, reason in caught.value.reason) == (status, True)


def test_another_partner_code_and_missing_fields_are_refused_even_when_signed() -> None:
    message = golden("confirm-01-paid.json")["request"] | {"MaDoiTac": "OTHER"}
    message["MaXacThuc"] = checksum(message, CONFIRM_FIELDS, SECRET)
    with pytest.raises(WebhookRejected, match="another partner code"):
        PARSER.parse(_body(message))
    message = golden("confirm-01-paid.json")["request"] | {"MaGiaoDich": "", "SoTien": "7x"}
    message["MaXacThuc"] = checksum(message, CONFIRM_FIELDS, SECRET)
    with pytest.raises(WebhookRejected) as caught:
        PARSER.parse(_body(message))
    assert (caught.value.status, "MaGiaoDich" in caught.value.reason) == (400, True)
    for body in (b"[1, 2]", b"{" * 100, b"not json"):
        with pytest.raises(WebhookRejected) as caught:
            PARSER.parse(body)
        assert caught.value.status == 400
