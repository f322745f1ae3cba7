"""How the LGSP SOAP partners' factories read a Connection (the hook's end-to-end cases are in each
partner's tests): what is refused, and the officer defaulting to the account."""

from __future__ import annotations

import pytest

from adapters.population_db.client import WSDL
from adapters.settings import TransportSettings
from adapters.soap import SoapTransport, lgsp_soap
from adapters.transport import HttpTransport

SETTINGS = TransportSettings(base_url="http://127.0.0.1:9")


def test_a_plain_http_transport_is_refused_because_the_signatures_live_in_the_xml() -> None:
    with pytest.raises(TypeError, match="population_db is reached through a SoapTransport"):
        lgsp_soap(HttpTransport("population_db", SETTINGS), WSDL, "user", "pw", {"madonvi": "000.00.00.H26"})


def test_the_agency_is_required_and_the_officer_defaults_to_the_account() -> None:
    transport = SoapTransport("population_db", SETTINGS)
    with pytest.raises(ValueError, match=r"extra 'madonvi' \(the agency code, MaDVC\) is required"):
        lgsp_soap(transport, WSDL, "user", "pw", {})
    soap, agency, officer = lgsp_soap(transport, WSDL, "user", "pw", {"madonvi": "000.00.00.H26"})
    assert (soap.transport, agency, officer) == (transport, "000.00.00.H26", "user")
    assert lgsp_soap(transport, WSDL, "user", "pw", {"madonvi": "A", "macanbo": "officer-7"})[2] == "officer-7"
