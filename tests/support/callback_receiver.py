"""The carrier clients the webhook receiver tests check callbacks with, and the credentials they hold.

Callbacks never make a client call out, so their transports point at a closed port.
"""

from __future__ import annotations

from adapters.oauth import ClientCredentials
from adapters.postal.carrier import Carrier
from adapters.postal.viettel_post import ViettelPostClient
from adapters.postal.vnpost import VNPostClient
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from mappings.postal.s10 import ItemCodeRange

VNPOST_SECRET = "vnpost-callback-secret"
VIETTEL_TOKEN = "viettel-callback-token"


def _transport(partner: str) -> HttpTransport:
    settings = TransportSettings(base_url="http://127.0.0.1:9", sign_requests=False, verify_replies=False)
    return HttpTransport(partner, settings)


def callback_carriers() -> dict[str, Carrier]:
    """Both carriers' clients, as the receiver holds them, keyed by the path they are served on."""
    return {
        "vnpost": VNPostClient(
            _transport("vnpost"),
            ClientCredentials(_transport("vnpost"), "lgsp-key", "lgsp-secret"),
            "HNPVHCC",
            ItemCodeRange.parse("RH10000000-RH10000999"),
            VNPOST_SECRET,
        ),
        "viettel_post": ViettelPostClient(_transport("viettel_post"), "hub", "secret", VIETTEL_TOKEN),
    }
