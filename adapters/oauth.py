"""OAuth 2 client-credentials tokens, fetched through a partner's transport and renewed before they expire.

LGSP gateways (WSO2 API managers) issue bearer tokens to a consumer key and secret
(``grant_type=client_credentials``, the key and secret as HTTP Basic credentials) with an
``expires_in`` lifetime. A token used after it expired costs a refused call and a retry, so the
token is renewed once less than ``margin`` of its life is left; a 401 on a business call still
drops it (a gateway may revoke early) and the caller asks once more. The token call goes through
the partner's own transport: timeouts, retries, the breaker and the message log apply, and the
issued token is blanked in the kept reply.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from adapters.transport import HttpTransport

__all__ = ["ClientCredentials"]

TOKEN_OPERATION = "token"


class _Issued(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    access_token: str = Field(min_length=1)
    token_type: str = "Bearer"
    expires_in: float = Field(gt=0)


class ClientCredentials:
    """The current bearer token of one consumer key at one token endpoint. Thread-safe."""

    def __init__(
        self,
        transport: HttpTransport,
        client_id: str,
        client_secret: str,
        *,
        path: str = "/token",
        margin_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (client_id and client_secret):
            raise ValueError("OAuth client credentials need a client id and a client secret")
        self.transport = transport
        self.path = path
        self.margin_s = margin_s
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self._clock = clock
        self._lock = threading.Lock()
        self._header: str | None = None
        self._renew_at = 0.0

    def authorization(self) -> str:
        """The ``Authorization`` header value to send now (fetching a token when none is fresh)."""
        with self._lock:
            if self._header is None or self._clock() >= self._renew_at:
                self._fetch()
            assert self._header is not None
            return self._header

    def drop(self, header: str) -> None:
        """Forget ``header`` after the partner refused it (a later caller fetches a new one)."""
        with self._lock:
            if self._header == header:
                self._header = None

    def _fetch(self) -> None:
        asked_at = self._clock()
        issued = self.transport.post_form(
            self.path,
            {"grant_type": "client_credentials"},
            operation=TOKEN_OPERATION,
            parse=_Issued.model_validate,
            headers={"Authorization": f"Basic {self._basic}"},
            redact_keys=frozenset({"access_token", "refresh_token"}),
        )
        # Renew with ``margin_s`` to spare, but never later than at nine tenths of a short life.
        spare = min(self.margin_s, issued.expires_in / 10)
        self._renew_at = asked_at + issued.expires_in - spare
        self._header = f"{issued.token_type.capitalize()} {issued.access_token}"
