"""The project's one XML parser: no DTD, no entities, no network, bounded size.

Everything the hub receives as XML (SOAP replies from ministries, signed documents, partner
callbacks) is parsed here and nowhere else, so one reviewed function stands between the network
and libxml2. Refused with :class:`signing.errors.UnsafeXml` and a reason an operator can act on:

- input over ``max_bytes`` -- before any parsing, so a 2 GB reply costs nothing but its length;
- any document type declaration (``<!DOCTYPE``), internal subset or not: DTDs are how entities
  are declared (XXE file/URL disclosure, SSRF, "billion laughs" expansion) and how external
  files are fetched. No partner contract uses them; SOAP 1.1/1.2 forbid them outright;
- other markup declarations in the prolog (``<!ENTITY`` outside a DOCTYPE, ``<![CDATA[`` before
  the root), and processing instructions that try to smuggle declarations
  (``<?x <!ENTITY ...?>``) or make a later consumer fetch code (``<?xml-stylesheet?>``);
- text that is not well-formed XML (``not well-formed XML: <libxml2's message>``);
- encodings outside the ASCII-compatible family and UTF-16/32 (EBCDIC...), which the prolog scan
  could not read reliably.

Three layers, so that a mistake in one is caught by the next:

1. a scan of the *prolog* only (the bytes before the root element's start tag), decoded with the
   document's own encoding family. A DOCTYPE can only legally appear there, so an HTML page
   carried inside a CDATA section (``<![CDATA[<!DOCTYPE html>...]]>``) is *not* a false alarm;
2. an lxml parser that would not act on a DTD even if one got through:
   ``resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
   huge_tree=False`` (libxml2 keeps its depth and text-size limits);
3. a check of the parsed tree's ``docinfo`` (``doctype``, internal and external DTD) and of the
   prolog/epilog siblings of the root.

Comments are kept (``remove_comments=False``): callers that verify signatures canonicalise with
or without comments as the signature says, and the evidence log keeps documents as received.
XInclude and XSLT are never applied to received documents.

zeep (the SOAP adapters) parses replies with its own lxml parser. The project configures every
zeep ``Client`` with :func:`zeep_settings` -- ``forbid_dtd=True, forbid_entities=True,
forbid_external=True, xml_huge_tree=False, strict=True`` -- and loads WSDL/XSD from the files
kept beside each adapter (never fetched at run time). Where a SOAP reply carries a signature,
the adapter hands the raw reply bytes to :func:`signing.xmldsig.verify_enveloped` (which parses
them here) *before* letting zeep map the element into Python objects.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Any

from lxml import etree

from signing.errors import UnsafeXml

if TYPE_CHECKING:
    import zeep

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
"""10 MiB: far above any dossier message (a few KB; a batch of 500 is a few hundred KB), far below
what would hurt a worker. Attachments travel as URLs, not inside the XML."""

_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": False,
    "remove_pis": False,
    "attribute_defaults": False,
    "recover": False,
}

_FORBIDDEN_PI_TARGETS = frozenset({"xml-stylesheet"})


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse untrusted XML bytes and return the root element, or raise :class:`UnsafeXml`.

    The encoding comes from the document (BOM or XML declaration), as XML intends; Vietnamese
    text in UTF-8, the norm, needs nothing special.
    """
    if isinstance(data, str):
        raise TypeError("parse_xml takes bytes as received; use parse_xml_text for a str")
    data = bytes(data)
    if len(data) > max_bytes:
        raise UnsafeXml(f"document is {len(data)} bytes, over the {max_bytes}-byte limit; refused before parsing")
    if not data.strip():
        raise UnsafeXml("empty document")
    _check_prolog(_decode_for_scan(data))
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(f"not well-formed XML: {exc}") from None
    _check_tree(root)
    return root


def parse_xml_text(text: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """:func:`parse_xml` for XML already decoded to ``str`` (encoded back to UTF-8 for libxml2).

    An XML declaration's ``encoding`` no longer applies to decoded text, so it is dropped.
    """
    if len(text) > max_bytes:
        raise UnsafeXml(f"document is over the {max_bytes}-byte limit; refused before parsing")
    text = text.removeprefix("\ufeff")
    stripped = text.lstrip()
    if stripped.startswith("<?xml") and stripped[5:6].isspace():
        end = stripped.find("?>")
        if end != -1:
            text = stripped[end + 2 :]
    return parse_xml(text.encode("utf-8"), max_bytes=max_bytes)


def zeep_settings() -> zeep.Settings:
    """The ``zeep.Settings`` every SOAP client of the project is built with (same rules as :func:`parse_xml`)."""
    import zeep

    return zeep.Settings(strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True)


# --- layer 1: the prolog, before libxml2 sees anything ---------------------------------------------------

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_NO_BOM_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
)


def _decode_for_scan(data: bytes) -> str:
    """Text good enough to scan the prolog: exact for UTF-16/32, byte-for-byte for ASCII-compatible.

    UTF-8, ISO-8859-x and the Windows code pages (windows-1258 for Vietnamese) write every
    markup character as its ASCII byte, so Latin-1 decoding finds ``<!DOCTYPE`` wherever libxml2
    would. Anything else (EBCDIC) is refused: libxml2 could read a DOCTYPE this scan cannot see.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    for signature, encoding in _NO_BOM_SIGNATURES:
        if data.startswith(signature):
            return data.decode(encoding, errors="replace")
    if data.startswith(b"\x4c\x6f\xa7\x94"):  # "<?xm" in EBCDIC
        raise UnsafeXml("EBCDIC-encoded XML is not accepted")
    return data.decode("latin-1")


def _check_prolog(text: str) -> None:
    """Walk the prolog item by item; stop at the root element's start tag."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if ch != "<":
            return  # not well-formed; libxml2 reports it with line and column
        if text.startswith("<?", i):
            end = text.find("?>", i + 2)
            if end == -1:
                return
            _check_pi(text[i + 2 : end])
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end == -1:
                return
            i = end + 3
        elif text.startswith("<!", i):
            head = text[i : i + 9].upper()
            if head.startswith("<!DOCTYPE"):
                raise UnsafeXml(_doctype_reason(text[i : i + 400]))
            if head.startswith("<!ENTITY"):
                raise UnsafeXml("entity declaration (<!ENTITY ...>) refused: entities are not accepted in any form")
            raise UnsafeXml(f"markup declaration {text[i : i + 9]!r} before the root element refused")
        else:
            return  # the root element's start tag: the prolog is over


def _check_pi(body: str) -> None:
    target = body.split(None, 1)[0] if body.strip() else ""
    if target.lower() == "xml":
        return  # the XML declaration
    if target.lower() in _FORBIDDEN_PI_TARGETS:
        raise UnsafeXml(f"processing instruction <?{target} ...?> refused: it makes consumers fetch external resources")
    upper = body.upper()
    if "<!ENTITY" in upper or "<!DOCTYPE" in upper:
        raise UnsafeXml(f"processing instruction <?{target} ...?> carrying declarations refused")


def _doctype_reason(snippet: str) -> str:
    upper = snippet.upper()
    if "<!ENTITY" in upper:
        detail = "it declares entities (XXE / entity expansion)"
    elif " SYSTEM" in upper or " PUBLIC" in upper:
        detail = "it references an external DTD"
    else:
        detail = "DTDs are not accepted"
    return f"document type declaration (<!DOCTYPE ...>) refused: {detail}"


# --- layer 3: what libxml2 built -------------------------------------------------------------------------


def _check_tree(root: etree._Element) -> None:
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXml("document type declaration refused (found in the parsed document)")
    siblings = [*root.itersiblings(preceding=True), *root.itersiblings()]
    for node in siblings:
        if isinstance(node, etree._ProcessingInstruction):
            _check_pi(f"{node.target} {node.text or ''}")
        elif isinstance(node, etree._Entity):
            raise UnsafeXml("entity reference outside the root element refused")
