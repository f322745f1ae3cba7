"""How the LGSP SOAP partners' factories read a Connection: one account, one agency, one officer.

The population database and the SOAP ministries take the same three things from their Airflow
Connection -- the LGSP account as a WS-Security UsernameToken, the agency the hub speaks for
(``MaDVC``, extra ``madonvi``, required because every request names it) and the officer who asks
(``MaCanBo``, extra ``macanbo``, by default the account) -- so their ``from_connection`` factories
share this reading and only add their contract and client class.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.soap.client import SoapClient, SoapTransport
from adapters.soap.contract import load_contract
from adapters.soap.envelope import Credentials
from adapters.transport import HttpTransport


def lgsp_soap(
    transport: HttpTransport, wsdl: Path, login: str, password: str, extras: Mapping[str, Any]
) -> tuple[SoapClient, str, str]:
    """The :class:`SoapClient` for the contract ``wsdl``, the agency code and the officer id.

    A login-less Connection sends no UsernameToken (a partner reached through a gateway that
    authenticates the channel instead); a plain HTTP transport is refused because the signatures
    of these partners live inside the XML, which only :class:`SoapTransport` writes and checks.
    """
    if not isinstance(transport, SoapTransport):
        raise TypeError(f"{transport.partner} is reached through a SoapTransport")
    if not extras.get("madonvi"):
        raise ValueError("extra 'madonvi' (the agency code, MaDVC) is required")
    credentials = Credentials(login, password) if login else None
    soap = SoapClient(transport, load_contract(wsdl), credentials)
    return soap, extras["madonvi"], extras.get("macanbo") or login
