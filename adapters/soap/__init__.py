"""The SOAP layer of the one XML partner, the population database (docs/interfaces.md 5, 5.1).

``contract`` loads a WSDL/XSD once per process (zeep builds and reads the payloads); ``envelope``
is the SOAP 1.1 framing shared with the sandbox; ``client`` holds :class:`SoapTransport` (the JSON
transport's retries, timeouts, breaker and exchange reports, plus reply XMLDSig verification and
fault mapping) whose ``post_wrapped`` carries the envelope inside the LGSP's JSON envelope.
"""

from adapters.soap.client import RecordNotFound, SoapTransport, fault_error
from adapters.soap.contract import Operation, SoapContract, load_contract
from adapters.soap.envelope import Fault

__all__ = [
    "Fault",
    "Operation",
    "RecordNotFound",
    "SoapContract",
    "SoapTransport",
    "fault_error",
    "load_contract",
]
