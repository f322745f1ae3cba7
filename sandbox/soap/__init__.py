"""Building blocks of the XML partner doubles (the population database's): the shared fault
injector with the SOAP-only faults, the store of received envelopes, the sandbox controls."""

from sandbox.soap.app import mount_sandbox_controls
from sandbox.soap.faults import SoapFaults
from sandbox.soap.store import SoapMessageStore

__all__ = ["SoapFaults", "SoapMessageStore", "mount_sandbox_controls"]
