"""Push dossier notifications to iHaNoi, Hanoi's citizen app (REST/JSON, an API key).

No public contract exists for iHaNoi (EVIDENCE.md), so every operation and field here is an
ASSUMPTION, written down in docs/interfaces.md, "iHaNoi notifications", with what would confirm it (the app
operator's API documentation). The shape is the plainest REST push a city app would offer:

- ``POST /api/v1/notifications`` with the key in ``X-Api-Key`` and the body's idempotency key
  repeated in the ``Idempotency-Key`` header: ``202 {"status": "accepted", ...}`` when new,
  ``200 {"status": "duplicate", ...}`` when the key was accepted before (a resend is answered,
  never refused); refusals are 4xx ``{"error": <code>, "message": <text>}`` -- 400 a body the
  contract does not allow (an unknown event code), 404 no account for the recipient, 409 the key
  reused for another body;
- ``GET /api/v1/notifications/{key}``: what the app holds under a key (resolves a send whose reply
  was lost);
- ``GET /api/v1/event-codes``: the codes it accepts (the cheapest read: the probe).

The body never carries more than :func:`mappings.ihanoi.notification` builds. The key is
scrubbed from errors by the transport (``X-Api-Key`` is a secret header); the recipient's number
is masked in every log line by the hub's logging and never put in an error here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from adapters.transport import HttpTransport

PARTNER = "ihanoi"
NOTIFY = "notifications.create"
LOOKUP = "notifications.get"
EVENT_CODES = "event-codes.list"
PATH = "/api/v1/notifications"
_REPLY = ConfigDict(extra="allow", frozen=True)


class NotifyReply(BaseModel):
    """The app's answer to a push: ``accepted`` (new) or ``duplicate`` (held already under the key)."""

    model_config = _REPLY
    status: Literal["accepted", "duplicate"]
    idempotency_key: str
    notification_id: str


class HeldNotification(BaseModel):
    model_config = _REPLY
    idempotency_key: str
    notification_id: str
    event_code: str
    accepted_at: str


class _EventCodes(BaseModel):
    model_config = _REPLY
    event_codes: list[str]


class IHaNoiClient:
    """One API key's access to the notification API. Thread-safe (the transport is)."""

    def __init__(self, transport: HttpTransport, api_key: str) -> None:
        if not api_key:
            raise ValueError("iHaNoi needs the API key the app operator issued (the Connection's password)")
        self.transport = transport
        self._headers = {"X-Api-Key": api_key}

    def notify(self, body: Mapping[str, Any]) -> NotifyReply:
        """Push one notification; a key the app already holds is answered ``duplicate``, not refused.

        Raises ``PermanentError`` when the app refuses this notification (its ``message`` says why),
        ``AuthenticationError`` for a refused key, ``RetryableError`` when it is down.
        """
        headers = {**self._headers, "Idempotency-Key": str(body["idempotency_key"])}
        return self.transport.post_json(
            PATH, body, operation=NOTIFY, parse=NotifyReply.model_validate, headers=headers, record_count=1
        )

    def held(self, idempotency_key: str) -> HeldNotification:
        """What the app holds under ``idempotency_key`` (a ``PermanentError`` with status 404: nothing)."""
        return self.transport.get_json(
            f"{PATH}/{idempotency_key}", operation=LOOKUP, parse=HeldNotification.model_validate, headers=self._headers
        )

    def event_codes(self) -> list[str]:
        return self.transport.get_json(
            "/api/v1/event-codes", operation=EVENT_CODES, parse=_EventCodes.model_validate, headers=self._headers
        ).event_codes

    def close(self) -> None:
        self.transport.close()


def from_connection(transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]) -> IHaNoiClient:
    """``ihanoi`` Connection -> client: the API key is the password (no login, no extras)."""
    del login, extras
    return IHaNoiClient(transport, password)


def probe(client: IHaNoiClient) -> str:
    """The event codes the app accepts: the key works, and no citizen is named."""
    return f"accepts {len(client.event_codes())} event codes"
