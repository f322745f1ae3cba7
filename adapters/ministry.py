"""What the SOAP ministry clients (civil status, social insurance) share, so each only speaks its
ministry's terms: the :class:`~adapters.soap.SoapClient` it calls through, the agency (``MaDVC``)
and officer (``MaCanBo``) it acts for -- every request names them, which is what the ministries log
for audit -- and "not found" (LGSP error 201) read as an answer, not a failure.
"""

from __future__ import annotations

import uuid
from typing import Any

from adapters.soap import RecordNotFound, SoapClient, SoapTransport

__all__ = ["MinistryClient"]


class MinistryClient:
    """Base of the SOAP ministry clients. Thread-safe."""

    def __init__(self, soap: SoapClient, agency_code: str, officer: str) -> None:
        if not (agency_code and officer):
            raise ValueError(f"{soap.partner} needs the agency code (MaDVC) and the officer id (MaCanBo) it acts for")
        self.soap = soap
        self.agency_code = agency_code
        self.officer = officer

    @property
    def transport(self) -> SoapTransport:
        """The transport (the hooks close it when the Connection changes)."""
        return self.soap.transport

    def asker(self, correlation: str | None = None) -> dict[str, str]:
        """Who asks: a correlation id (random unless given), the agency and the officer."""
        return {"MaYeuCau": correlation or uuid.uuid4().hex, "MaDVC": self.agency_code, "MaCanBo": self.officer}

    def call_or_none(self, operation: str, values: dict[str, Any]) -> dict[str, Any] | None:
        """``operation`` with the asker's fields added; None when the ministry answers 201 (not found)."""
        try:
            return self.soap.call(operation, {**self.asker(), **values})
        except RecordNotFound:
            return None
