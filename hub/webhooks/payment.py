"""The payment platform's confirmations on the hub's receiver, at ``POST /webhooks/payment_platform/confirm``.

Hardened as the carriers' and VBDLIS's callbacks are (issue 17): the body is bounded while it
streams (``limited_body``) and parsed only when shallow; the checksum is verified
(``hmac.compare_digest``) before any field is trusted (``ConfirmationParser``); each callback is
committed on its own before it is answered. A paid confirmation is kept once: one naming a
``MaGiaoDich`` or ``MaThamChieu`` already confirmed is a replay, refused and changing nothing.
A failed one (``MaLoi`` other than "00") is acknowledged and changes nothing either: the
platform's list and QUERY say what became of that transaction.

Answers take the platform's shape ``{MaLoi, MoTaLoi}`` (H answers a confirmation with its
``ConfirmDvcPaymentResponse``): "00" and HTTP 200 once kept; refusals with HTTP 401 (checksum or
partner code, ``MaLoi`` "01"), 409 (replay, "02"), 400 (not a confirmation, "03") or 413 (too
large, "03"); 503 when the store cannot keep it now ("99": the platform sends it again). The codes
are the hub's, an ASSUMPTION (no public list). Logs name the reference and the outcome, reasons
masked; the body is never logged.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.payment_platform.callbacks import ConfirmationParser
from adapters.postal.carrier import WebhookRejected
from hub.store import HubStore, PaymentRecords
from hub.webhooks.app import limited_body
from mappings.masking import mask_personal_data
from mappings.text import storable_text

__all__ = ["PAYMENT_PATH", "payment_callback_routes"]

log = logging.getLogger(__name__)
PAYMENT_PATH = "/webhooks/payment_platform/confirm"  # two segments: /webhooks/{carrier} takes one
REFUSED = {401: "01", 409: "02", 400: "03", 413: "03"}


def payment_callback_routes(store: HubStore, parser: ConfirmationParser) -> list[Route]:
    """The route the platform posts confirmations to, keeping them in ``store`` (give it to ``create_app``)."""
    records = PaymentRecords(store)

    async def receive(request: Request) -> JSONResponse:
        try:
            confirmation = parser.parse(await limited_body(request))
            if confirmation.paid and not await run_in_threadpool(records.confirm, confirmation):
                raise WebhookRejected(409, f"transaction {confirmation.transaction_id} was already confirmed")
        except WebhookRejected as rejection:
            reason = storable_text(mask_personal_data(rejection.reason))
            log.warning("payment confirmation refused (%d): %s", rejection.status, reason)
            return JSONResponse({"MaLoi": REFUSED[rejection.status], "MoTaLoi": reason}, status_code=rejection.status)
        except Exception:  # the store's failure, not the platform's: it sends the confirmation again
            log.exception("payment confirmation not stored")
            return JSONResponse({"MaLoi": "99", "MoTaLoi": "not stored now; send it again"}, status_code=503)
        outcome = "paid" if confirmation.paid else f"not paid (MaLoi {confirmation.error_code})"
        log.info("payment confirmation %s kept: %s", confirmation.reference, outcome)
        return JSONResponse({"MaLoi": "00", "MoTaLoi": "", "MaThamChieu": confirmation.reference})

    return [Route(PAYMENT_PATH, receive, methods=["POST"])]
