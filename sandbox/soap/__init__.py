"""Building blocks of the SOAP partner simulators (population database, ministries).

``create_soap_app`` turns a contract and one handler per operation into a FastAPI app that
``sandbox.server.serve_in_thread`` serves on loopback; see docs/interfaces.md, "SOAP partners".
"""

from sandbox.soap.app import Handler, SoapFaultError, SoapRequest, create_soap_app, mount_sandbox_controls
from sandbox.soap.faults import SoapFaults
from sandbox.soap.store import SoapMessageStore

__all__ = [
    "Handler",
    "SoapFaultError",
    "SoapFaults",
    "SoapMessageStore",
    "SoapRequest",
    "create_soap_app",
    "mount_sandbox_controls",
]
