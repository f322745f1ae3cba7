"""The SOAP template every XML partner (population database, ministries) is built on.

``contract`` loads a WSDL/XSD once per process; ``envelope`` is the SOAP 1.1 framing shared with
the sandbox; ``client`` holds :class:`SoapTransport` (the JSON transport's retries, timeouts,
breaker and exchange reports, plus XMLDSig on both directions and fault mapping) and
:class:`SoapClient`; ``connection`` reads an LGSP SOAP partner's Airflow Connection. See
docs/interfaces.md, "SOAP partners".
"""

from adapters.soap.client import RecordNotFound, SoapClient, SoapTransport, fault_error
from adapters.soap.connection import lgsp_soap
from adapters.soap.contract import Operation, SoapContract, load_contract
from adapters.soap.envelope import Credentials, Fault

__all__ = [
    "Credentials",
    "Fault",
    "Operation",
    "RecordNotFound",
    "SoapClient",
    "SoapContract",
    "SoapTransport",
    "fault_error",
    "lgsp_soap",
    "load_contract",
]
