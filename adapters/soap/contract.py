"""A partner's WSDL/XSD contract, loaded once per process and shared by every client and simulator.

Why a separate object: parsing a WSDL with zeep costs tens of milliseconds and builds a large
type graph; a task that verifies a thousand applicants must not pay that a thousand times. So
:func:`load_contract` caches one :class:`SoapContract` per WSDL path for the life of the process
(``load_contract.cache_info()`` shows it), and both sides use it:

- the hub's client renders requests with zeep's types (``build``) and maps verified replies to
  plain dicts (``read``) -- zeep never sends anything and never parses bytes from the network;
- the same XSD, compiled by lxml from bytes read through :func:`signing.safe_xml.parse_xml`,
  checks outgoing requests before they are signed (a hub bug becomes a ``ContractViolation``
  here, not a partner refusal later) and incoming requests in the sandbox.

zeep reads the WSDL and the XSD it imports from the files beside the adapter, with the project's
safe settings (:func:`signing.safe_xml.zeep_settings`) and a loader that refuses any URL, so a
contract can never make the hub fetch something at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import zeep
from lxml import etree
from lxml.etree import _Element
from zeep.helpers import serialize_object

from signing.safe_xml import parse_xml, zeep_settings

__all__ = ["Operation", "SoapContract", "load_contract"]

_XS = "http://www.w3.org/2001/XMLSchema"
_QUOTED_VALUE = re.compile(r"The value '[^']*'")
_SIGNATURE_SLOT = "_value_1"  # zeep's name for the xs:any that holds the payload's ds:Signature


class _LocalFilesOnly(zeep.Transport):
    """zeep's loader for WSDL/XSD, restricted to local files: an import by URL is refused."""

    def load(self, url: str) -> bytes:
        if "://" in url and not url.startswith("file://"):
            raise ValueError(f"contract refers to {url}: only files beside the WSDL are loaded, never URLs")
        return Path(url.removeprefix("file://")).read_bytes()


@dataclass(frozen=True, slots=True)
class Operation:
    """One document/literal operation: its SOAPAction and request/reply element names."""

    name: str
    soap_action: str
    request: etree.QName
    reply: etree.QName


class SoapContract:
    """The WSDL (zeep) and XSD (lxml) of one partner. Thread-safe for reading; build it via :func:`load_contract`."""

    def __init__(self, wsdl: Path) -> None:
        self.wsdl = wsdl.resolve()
        self._client = zeep.Client(str(self.wsdl), transport=_LocalFilesOnly(), settings=zeep_settings())
        self.operations: dict[str, Operation] = {}
        for binding in self._client.wsdl.bindings.values():
            for name, operation in binding._operations.items():
                self.operations[name] = Operation(
                    name=name,
                    soap_action=operation.soapaction or "",
                    request=etree.QName(operation.input.body.qname),
                    reply=etree.QName(operation.output.body.qname),
                )
        if not self.operations:
            raise ValueError(f"{self.wsdl.name}: the WSDL defines no operations")

    @cached_property
    def schema_files(self) -> tuple[Path, ...]:
        """The XSD files the WSDL imports (``xs:import/@schemaLocation``), relative to the WSDL."""
        root = parse_xml(self.wsdl.read_bytes())
        locations = [el.get("schemaLocation") for el in root.iter(f"{{{_XS}}}import", f"{{{_XS}}}include")]
        return tuple((self.wsdl.parent / location).resolve() for location in locations if location)

    @cached_property
    def _schemas(self) -> dict[str, etree.XMLSchema]:
        """One compiled XSD per target namespace: a partner whose reply element lives in another
        namespace than its request (the population database) imports one XSD per namespace."""
        if not self.schema_files:
            raise ValueError(f"{self.wsdl.name}: the WSDL imports no XSD")
        schemas = {}
        for path in self.schema_files:
            document = parse_xml(path.read_bytes())
            schemas[document.get("targetNamespace", "")] = etree.XMLSchema(document)
        return schemas

    def operation(self, name: str) -> Operation:
        try:
            return self.operations[name]
        except KeyError:
            raise ValueError(f"{self.wsdl.name} has no operation {name!r}") from None

    def schema_errors(self, payload: _Element) -> str | None:
        """Why ``payload`` does not validate against the XSD (first errors, no values), or None."""
        namespace = etree.QName(payload).namespace or ""
        schema = self._schemas.get(namespace)
        if schema is None:
            return f"no schema of this contract declares the namespace of element {payload.tag}"
        if schema.validate(payload):
            return None
        # libxml2 quotes the offending value ("The value '0010...' is not accepted"): personal data.
        errors = [_QUOTED_VALUE.sub("The value", e.message) for e in list(schema.error_log)[:3]]
        return "; ".join(errors)

    def build(self, operation: str, values: dict[str, Any]) -> _Element:
        """The request payload of ``operation`` rendered by zeep from ``values``, as its own document."""
        return self.render(self.operation(operation).request, values)

    def render(self, qname: etree.QName, values: dict[str, Any]) -> _Element:
        """Any element of the contract rendered from ``values`` (the sandbox builds replies with it)."""
        element = self._client.get_element(qname.text)
        holder = etree.Element("holder")
        element.render(holder, element(**values))
        (payload,) = holder
        holder.remove(payload)
        return payload

    def read(self, qname: etree.QName, payload: _Element) -> dict[str, Any]:
        """Map an element (already verified and checked to be ``qname``) to plain Python values.

        zeep works on the element tree it is given; it parses no bytes. Unknown elements raise
        (strict settings), which the client reports as a contract violation.
        """
        element = self._client.get_element(qname.text)
        value = serialize_object(element.parse(payload, self._client.wsdl.types), dict)
        if not isinstance(value, dict):
            return {}
        value.pop(_SIGNATURE_SLOT, None)  # verified payloads come without it; unsigned ones never count
        return value


@cache
def load_contract(wsdl: Path) -> SoapContract:
    """The process-wide :class:`SoapContract` of ``wsdl`` (parsed on first use, then reused)."""
    return SoapContract(wsdl)
