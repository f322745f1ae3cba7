"""Ministry callbacks on the hub's receiver: the VBDLIS land system's, at
``POST /webhooks/vbdlis/<Operation>/<securityCode>`` (the hub gives VBDLIS's operator the base
``.../webhooks/vbdlis/``; VBDLIS appends the operation and the code, as it does for a one-stop
system: docs/interfaces.md 7.7).

Like the carriers' callbacks: the parser authenticates and validates
(``adapters.ministry.callbacks.LandCallbacks``), the route only stores -- insert-or-ignore by the
callback's key, so a repeat changes nothing -- and answers in VBDLIS's shape ``{Result, Message}``:
1 once stored; 0 with HTTP 401 (wrong code), 404 (an operation the hub does not take) or 400 (a
body that is not the operation's), nothing stored. The pull-back folds what was stored
(``hub.pipeline.ministry_callbacks``). Logs name the operation and receipt number, never the body
(it carries the applicant's ID and phone numbers).
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.ministry.callbacks import LandCallbacks
from adapters.postal.carrier import WebhookRejected
from hub.store import HubStore, MinistryCallbacks
from hub.webhooks.app import limited_body
from mappings.masking import mask_personal_data

__all__ = ["VBDLIS_PATH", "land_callback_routes"]

log = logging.getLogger(__name__)
VBDLIS_PATH = "/webhooks/vbdlis"


def land_callback_routes(store: HubStore, callbacks: LandCallbacks) -> list[Route]:
    """The route VBDLIS calls back on, storing into ``store`` (give it to ``create_app``)."""
    kept = MinistryCallbacks(store)

    async def receive(request: Request) -> JSONResponse:
        operation = request.path_params["operation"]
        try:  # the carriers' limits: the body bounded while it streams, parsed only when shallow
            callback = callbacks.parse(operation, request.path_params["code"], await limited_body(request))
        except WebhookRejected as rejection:
            reason = mask_personal_data(rejection.reason)
            log.warning("VBDLIS %s callback rejected (%d): %s", operation, rejection.status, reason)
            return JSONResponse({"Result": 0, "Message": reason}, status_code=rejection.status)
        added = await run_in_threadpool(kept.add, [callback])
        log.info("VBDLIS %s for %s stored (%s)", operation, callback.dossier_no, "new" if added else "repeat")
        return JSONResponse({"Result": 1, "Message": ""})

    return [Route(VBDLIS_PATH + "/{operation}/{code}", receive, methods=["POST"])]
