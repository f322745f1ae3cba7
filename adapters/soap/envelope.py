"""SOAP 1.1 envelopes as the hub and its SOAP partners exchange them: one definition for both sides.

The population database's double builds and reads envelopes with these same functions, so
the hub's client and the simulators cannot drift apart on framing. The shape is deliberately
narrow, which is what makes the signature rules simple:

- ``soap:Body`` holds exactly **one** element: the business payload (or a ``soap:Fault``).
  A second element would be unsigned content beside a signed one -- the raw material of a
  signature-wrapping attack -- so it is refused, not skipped;
- the payload is signed as its own document (enveloped XMLDSig, the signature its last child),
  so :func:`signing.xmldsig.verify_enveloped` can check it with its whole-document rules;
- ``soap:Header`` is never written and never read as data (the population register's double
  refuses one with content, as no public client sends it);
- faults carry the LGSP error code in ``detail/loi:LoiNghiepVu/MaLoi`` (100 authentication,
  101 IP not allowed, 106 unknown agency, 201 not found, 300 malformed request, 500 internal).

Parsing goes through :func:`signing.safe_xml.parse_xml` (the project's one XML parser).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from lxml import etree
from lxml.etree import _Element

from signing.safe_xml import parse_xml

__all__ = [
    "FAULT_AGENCY",
    "FAULT_AUTH",
    "FAULT_INTERNAL",
    "FAULT_IP",
    "FAULT_MALFORMED",
    "FAULT_NOT_FOUND",
    "SOAP_NS",
    "EnvelopeError",
    "Fault",
    "build_envelope",
    "fault_element",
    "payload_bytes",
    "read_envelope",
    "read_fault",
    "standalone",
]

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
LOI_NS = "urn:lgsp:hanoi:loi:v1"

FAULT_AUTH = 100
FAULT_IP = 101
FAULT_AGENCY = 106
FAULT_NOT_FOUND = 201
FAULT_MALFORMED = 300
FAULT_INTERNAL = 500

_ENVELOPE = f"{{{SOAP_NS}}}Envelope"
_HEADER = f"{{{SOAP_NS}}}Header"
_BODY = f"{{{SOAP_NS}}}Body"
_FAULT = f"{{{SOAP_NS}}}Fault"


class EnvelopeError(ValueError):
    """The bytes are XML but not an envelope of the agreed shape (the reason says which rule)."""


@dataclass(frozen=True, slots=True)
class Fault:
    """A ``soap:Fault``: ``faultcode`` is ``soap:Client`` (the caller's fault) or ``soap:Server``;
    ``code`` is the LGSP error code from the detail, when the partner gave one."""

    faultcode: str
    message: str
    code: int | None = None

    @property
    def server_side(self) -> bool:
        return self.faultcode.rpartition(":")[2] == "Server"


def standalone(element: _Element) -> _Element:
    """A copy of ``element`` as the root of its own document (what signing and verifying need)."""
    return copy.deepcopy(element)


def payload_bytes(payload: _Element) -> bytes:
    """The payload serialised on its own: the bytes whose signature the receiver verifies."""
    return etree.tostring(payload, encoding="utf-8")


def build_envelope(payload: _Element) -> bytes:
    """``soap:Envelope`` around ``payload``, with no header (public clients send none: 5.1).

    The payload is copied in unchanged, its signature included; exclusive C14N makes the
    envelope's own namespace declarations irrelevant to the payload's digest.
    """
    envelope = etree.Element(_ENVELOPE, nsmap={"soap": SOAP_NS})
    etree.SubElement(envelope, _BODY).append(standalone(payload))
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def fault_element(fault: Fault) -> _Element:
    """The ``soap:Fault`` element for ``fault`` (the sandbox answers it with HTTP 500, as SOAP 1.1 says)."""
    element = etree.Element(_FAULT, nsmap={"soap": SOAP_NS})
    etree.SubElement(element, "faultcode").text = fault.faultcode
    etree.SubElement(element, "faultstring").text = fault.message
    if fault.code is not None:
        detail = etree.SubElement(element, "detail")
        error = etree.SubElement(detail, f"{{{LOI_NS}}}LoiNghiepVu", nsmap={"loi": LOI_NS})
        etree.SubElement(error, f"{{{LOI_NS}}}MaLoi").text = str(fault.code)
        etree.SubElement(error, f"{{{LOI_NS}}}MoTa").text = fault.message
    return element


def read_envelope(data: bytes) -> tuple[etree._Element | None, _Element]:
    """Parse an envelope safely; return ``(header or None, the single Body element)``.

    Raises :class:`signing.errors.UnsafeXml` for XML that is unsafe or not well-formed, and
    :class:`EnvelopeError` for XML that is not a SOAP 1.1 envelope with exactly one Body element.
    """
    root = parse_xml(data)
    if root.tag != _ENVELOPE:
        raise EnvelopeError(f"root element is {root.tag}, not a SOAP 1.1 Envelope")
    header = root.find(_HEADER)
    body = root.find(_BODY)
    if body is None:
        raise EnvelopeError("the Envelope has no Body")
    children = [child for child in body if isinstance(child.tag, str)]
    if len(children) != 1:
        raise EnvelopeError(f"the Body holds {len(children)} elements; exactly one payload (or Fault) is expected")
    return header, children[0]


def read_fault(element: _Element) -> Fault | None:
    """The fault ``element`` describes, or None when it is not a ``soap:Fault``."""
    if element.tag != _FAULT:
        return None
    code_text = element.findtext(f"detail/{{{LOI_NS}}}LoiNghiepVu/{{{LOI_NS}}}MaLoi")
    code_text = (code_text or "").strip()
    # ASCII digits only: "²" passes str.isdigit() yet int() refuses it (found by the chaos fuzz)
    code = int(code_text) if code_text.isascii() and code_text.isdigit() else None
    return Fault(
        faultcode=(element.findtext("faultcode") or "").strip(),
        message=(element.findtext("faultstring") or "").strip(),
        code=code,
    )
