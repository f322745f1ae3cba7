"""The portal client's own Connection extras (beside the transport's), checked once at start.

Public clients configure the LGSP adapter's URL and three paths apart -- authentication,
integration (DongBoHoSoMC, CapNhatTienDoHoSoMC, TraCuuHoSo, LayThuTuc) and sharing (the
catalogues) -- and send a ``dstcode`` header on every call (ledger 2.2, O-T / O-I). The path
defaults are the sandbox's: the real ones come from the LGSP operator.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Why 10: every public automatic client sends ONE dossier per DongBoHoSoMC call (O-P, T-S), an
# operator's manual sync a handful (O-I), progress goes in chunks of 10 (T-S), and nothing public
# states a maximum (ledger 2.4, 2.9). Ten stays within "a few", keeps a failing call's halving to
# at most 19 calls, and is a Connection extra, so an operator can set 1 to match public practice.
DEFAULT_BATCH_SIZE = 10
MAX_BATCH_SIZE = 1000  # the hub's old, unverified limit: an upper bound, not a target


class PortalOptions(BaseModel):
    """Extras of the ``national_portal`` Connection (``madonvi`` is passed apart: it is required)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auth_endpoint: str = "/auth"
    integration_endpoint: str = "/service"
    share_endpoint: str = "/share"
    dstcode: str = Field(default="", description="routing code issued by the LGSP operator (meaning: assumption)")
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, le=MAX_BATCH_SIZE)

    @field_validator("auth_endpoint", "integration_endpoint", "share_endpoint")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or "?" in value or "://" in value:
            raise ValueError("an endpoint is a path appended to the adapter URL, starting with '/'")
        return value.rstrip("/") or "/"

    @classmethod
    def from_extras(cls, extras: Mapping[str, Any]) -> PortalOptions:
        """Connection query parameters are strings; pydantic converts ``batch_size``."""
        return cls.model_validate({key: value for key, value in extras.items() if key != "madonvi"})


def is_loopback(url: str) -> bool:
    """A sandbox on this machine: ``localhost`` or a loopback address."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def province_problem(url: str, agency_code: str, suffix: str) -> str | None:
    """Why the client must not start (None when it may): against a real portal, ``madonvi`` must be
    one of the configured province's units, or the hub would report another province's dossiers."""
    if is_loopback(url) or agency_code.endswith(f".{suffix}"):
        return None
    return (
        f"madonvi {agency_code!r} does not end in the configured province code .{suffix} "
        f"(HUB_PROVINCE_SUFFIX) and {urlsplit(url).hostname} is not a loopback sandbox; "
        "fix the Connection's madonvi or the province setting"
    )
