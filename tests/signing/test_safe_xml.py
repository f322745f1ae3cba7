"""The one XML parser: the classic XML attacks are refused before they do anything (no file read,
no connection made, no expansion), ordinary SOAP with namespaces and Vietnamese text parses, and
nothing else in the project parses XML behind its back."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from signing import safe_xml
from signing.errors import SigningError, UnsafeXml
from signing.safe_xml import parse_xml, parse_xml_text, zeep_settings

REPO = Path(__file__).resolve().parents[2]

SOAP = """<?xml version="1.0" encoding="UTF-8"?>
<!-- reply from the civil-status system -->
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
                  xmlns:ht="urn:hotich:gov:vn:v1">
  <soapenv:Header><ht:MaGiaoDich>GD-2026-000123</ht:MaGiaoDich></soapenv:Header>
  <soapenv:Body>
    <ht:TraCuuKhaiSinhResponse>
      <ht:HoTen>Nguyễn Thị Ánh Tuyết</ht:HoTen>
      <ht:NoiSinh>Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội</ht:NoiSinh>
      <ht:GhiChu><![CDATA[<!DOCTYPE html><p>Bản sao trích lục & ghi chú</p>]]></ht:GhiChu>
      <ht:KetQua ma="00">Thành công</ht:KetQua>
    </ht:TraCuuKhaiSinhResponse>
  </soapenv:Body>
</soapenv:Envelope>
"""
ENV = "{http://schemas.xmlsoap.org/soap/envelope/}"
HT = "{urn:hotich:gov:vn:v1}"


def _reason(data: bytes, **kw: int) -> str:
    with pytest.raises(UnsafeXml) as info:
        parse_xml(data, **kw)
    assert isinstance(info.value, SigningError)
    return info.value.reason


@pytest.fixture
def listener() -> Iterator[tuple[int, socket.socket]]:
    """A listening socket on a free loopback port: whatever connects to it is recorded by the kernel."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.3)
    try:
        yield sock.getsockname()[1], sock
    finally:
        sock.close()


def _assert_no_connection(sock: socket.socket) -> None:
    with pytest.raises(TimeoutError):
        conn, _ = sock.accept()
        conn.close()


# --- accepted -------------------------------------------------------------------------------------------------


def test_soap_envelope_with_namespaces_and_vietnamese_text_parses() -> None:
    root = parse_xml(SOAP.encode("utf-8"))
    assert root.tag == f"{ENV}Envelope"
    response = root.find(f"{ENV}Body/{HT}TraCuuKhaiSinhResponse")
    assert response is not None
    assert response.findtext(f"{HT}HoTen") == "Nguyễn Thị Ánh Tuyết"
    assert response.findtext(f"{HT}NoiSinh") == "Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội"
    assert response.find(f"{HT}KetQua").get("ma") == "00"  # type: ignore[union-attr]
    # an HTML page inside CDATA is text, not a DOCTYPE: only the prolog is scanned
    assert response.findtext(f"{HT}GhiChu") == "<!DOCTYPE html><p>Bản sao trích lục & ghi chú</p>"
    # comments are kept (signatures may cover them; evidence keeps documents as received)
    assert isinstance(root.getprevious(), etree._Comment)


def test_utf16_and_str_input_parse_too() -> None:
    utf16 = SOAP.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert parse_xml(utf16).find(f".//{HT}HoTen").text == "Nguyễn Thị Ánh Tuyết"  # type: ignore[union-attr]
    assert parse_xml_text(SOAP).find(f".//{HT}HoTen").text == "Nguyễn Thị Ánh Tuyết"  # type: ignore[union-attr]
    with pytest.raises(TypeError):
        parse_xml(SOAP)  # type: ignore[arg-type]


def test_harmless_processing_instructions_are_allowed() -> None:
    root = parse_xml(b'<?xml version="1.0"?><?hub-batch id="42"?><x/>')
    assert root.tag == "x"


# --- refused: the brief's attacks ----------------------------------------------------------------------------


def test_xxe_file_entity_is_refused_and_the_file_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("CCCD 001090012345")
    for target in (f"file://{secret}", "file:///etc/passwd"):
        doc = f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY x SYSTEM "{target}">]><x>&x;</x>'.encode()
        reason = _reason(doc)
        assert (
            reason
            == "document type declaration (<!DOCTYPE ...>) refused: it declares entities (XXE / entity expansion)"
        )
        assert "001090012345" not in reason


def test_xxe_url_entity_is_refused_without_any_connection(listener: tuple[int, socket.socket]) -> None:
    port, sock = listener
    doc = f'<!DOCTYPE x [<!ENTITY x SYSTEM "http://127.0.0.1:{port}/x">]><x>&x;</x>'.encode()
    assert "declares entities" in _reason(doc)
    parameter = f'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p;]><x/>'.encode()
    assert "declares entities" in _reason(parameter)
    _assert_no_connection(sock)


def test_external_dtd_is_refused_without_any_connection(listener: tuple[int, socket.socket]) -> None:
    port, sock = listener
    doc = f'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:{port}/x.dtd"><x/>'.encode()
    assert _reason(doc) == "document type declaration (<!DOCTYPE ...>) refused: it references an external DTD"
    public = f'<!DOCTYPE x PUBLIC "-//X//DTD X//EN" "http://127.0.0.1:{port}/x.dtd"><x/>'.encode()
    assert "external DTD" in _reason(public)
    _assert_no_connection(sock)


def test_billion_laughs_is_refused_at_once() -> None:
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    doc = f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{entities}]><lolz>&lol9;</lolz>'.encode()
    started = time.perf_counter()
    assert "declares entities" in _reason(doc)
    assert time.perf_counter() - started < 0.1


def test_doctype_without_entities_is_refused_too() -> None:
    assert _reason(b"<!DOCTYPE x><x/>") == "document type declaration (<!DOCTYPE ...>) refused: DTDs are not accepted"
    assert "DOCTYPE" in _reason(b"<!-- hidden after a comment --><!doctype x><x/>")


def test_oversized_document_is_refused_before_parsing() -> None:
    doc = b"<x>" + b"a" * 2000 + b"</x>"
    assert parse_xml(doc, max_bytes=len(doc)).text == "a" * 2000
    assert _reason(doc, max_bytes=len(doc) - 1) == (
        f"document is {len(doc)} bytes, over the {len(doc) - 1}-byte limit; refused before parsing"
    )
    big = b"<x>" + b"a" * (10 * 1024 * 1024) + b"</x>"
    started = time.perf_counter()
    assert "over the 10485760-byte limit" in _reason(big)
    assert time.perf_counter() - started < 0.05


# --- refused: the rest -------------------------------------------------------------------------------------------


def test_doctype_in_utf16_is_seen() -> None:
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e "a">]><x>&e;</x>'
    assert "declares entities" in _reason(doc.encode("utf-16"))  # with BOM
    assert "declares entities" in _reason(doc.encode("utf-16-be"))  # without BOM


def test_entity_declaration_outside_a_doctype_and_smuggling_pis_are_refused() -> None:
    assert "entity declaration" in _reason(b'<!ENTITY x "y"><x/>')
    assert "carrying declarations" in _reason(b'<?note <!ENTITY x SYSTEM "file:///etc/passwd">?><x/>')
    assert "fetch external resources" in _reason(b'<?xml-stylesheet type="text/xsl" href="http://evil/x.xsl"?><x/>')


def test_not_well_formed_input_is_refused_with_the_parser_message() -> None:
    assert _reason(b"<x><y></x>").startswith("not well-formed XML: Opening and ending tag mismatch")
    assert "Entity 'nbsp' not defined" in _reason(b"<x>&nbsp;</x>")
    assert _reason(b"   ") == "empty document"
    assert "EBCDIC" in _reason(b"\x4c\x6f\xa7\x94\x93@")


def test_deep_nesting_hits_libxml2s_limit_not_python_recursion() -> None:
    reason = _reason(b"<a>" * 5000 + b"</a>" * 5000)
    assert "Excessive depth" in reason


# --- the second and third layers alone ----------------------------------------------------------------------------


def test_parser_options_alone_neither_read_files_nor_connect(
    tmp_path: Path, listener: tuple[int, socket.socket]
) -> None:
    """If the prolog scan were bypassed, lxml's options still keep entities and the network out,
    and the tree check still refuses the document."""
    port, sock = listener
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-MARKER")
    doc = (
        f'<!DOCTYPE x SYSTEM "http://127.0.0.1:{port}/x.dtd" [<!ENTITY f SYSTEM "file://{secret}">'
        f'<!ENTITY u SYSTEM "http://127.0.0.1:{port}/u">]><x>&f;&u;</x>'
    ).encode()
    root = etree.fromstring(doc, parser=etree.XMLParser(**safe_xml._PARSER_OPTIONS))
    assert b"SECRET-MARKER" not in etree.tostring(root)
    with pytest.raises(UnsafeXml, match="document type declaration refused"):
        safe_xml._check_tree(root)
    _assert_no_connection(sock)


def test_tree_check_refuses_stylesheet_pi_after_the_root() -> None:
    root = etree.fromstring(b'<x/><?xml-stylesheet href="http://evil/x.xsl"?>', parser=etree.XMLParser())
    with pytest.raises(UnsafeXml, match="fetch external resources"):
        safe_xml._check_tree(root)
    assert "fetch external resources" in _reason(b'<x/><?xml-stylesheet href="http://evil/x.xsl"?>')


# --- zeep, and nobody else parsing XML ---------------------------------------------------------------------------


def test_zeep_settings_forbid_dtd_entities_and_external_fetches() -> None:
    settings = zeep_settings()
    assert settings.forbid_dtd and settings.forbid_entities and settings.forbid_external
    assert settings.strict and not settings.xml_huge_tree


_PARSE_CALLS = re.compile(
    r"etree\.(fromstring|XML|parse|iterparse|XMLParser|HTMLParser|fromstringlist|XMLPullParser)\s*\("
    r"|\bimport\s+xml\.(etree|dom|sax)|from\s+xml\.(etree|dom|sax)|\bminidom\b|\bxmltodict\b|\bdefusedxml\b"
)
_ALLOWED = {Path("signing/safe_xml.py")}


def test_no_other_module_parses_xml() -> None:
    """parse_xml is the only door: any other XML parser in the shipped code is a finding."""
    offenders = []
    for folder in ("adapters", "hub", "sandbox", "mappings", "quality", "signing", "dags", "bench", "scripts"):
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO)
            if relative in _ALLOWED:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _PARSE_CALLS.search(line) and not line.lstrip().startswith("#"):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "XML parsed outside signing.safe_xml:\n" + "\n".join(offenders)
