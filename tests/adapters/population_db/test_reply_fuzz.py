"""Hostile replies to the population client's parser (issue 17, item 8): whatever the register --
or whatever sits between it and the hub -- answers, the client reads it the way its transport does
(safe envelope parse, SOAP fault, then the payload against the XSD) and ends with the person, nobody,
or a clear adapter error; never an exception of another kind.

The golden replies (``golden/``) are the seeds: slices of them are replaced by hostile bytes
(entity declarations, deep nesting, broken UTF-8, digits of other scripts in a fault code, ...).
Seeded (``derandomize``); ``HUB_FUZZ_CASES`` sets the number of cases (``make chaos`` runs more).
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.errors import AdapterError
from adapters.population_db.client import LOOKUP, LgspAccount, Officer, PopulationDbClient, ResultCache
from adapters.soap.envelope import EnvelopeError, read_envelope, read_fault
from signing.errors import UnsafeXml

GOLDEN = Path(__file__).with_name("golden")
SEEDS = [(GOLDEN / name).read_bytes() for name in ("reply_found.xml", "reply_empty.xml")]
CASES = int(os.environ.get("HUB_FUZZ_CASES", "400"))
CLEAR = (AdapterError, UnsafeXml, EnvelopeError)
FAULT = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault>'
    b"<faultcode>soapenv:Server</faultcode><faultstring>x</faultstring><detail>"
    b'<l:LoiNghiepVu xmlns:l="urn:lgsp:hanoi:loi:v1"><l:MaLoi>004</l:MaLoi></l:LoiNghiepVu>'
    b"</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
)
JUNK = st.sampled_from(
    [
        b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
        b'<!DOCTYPE x SYSTEM "file:///etc/passwd">',
        b"<a>" * 3000,
        b"\xff\xfe\x00",
        b"\xe1\xba",
        "²".encode(),  # a digit to str.isdigit, not to int()
        "١٢".encode(),
        b"<![CDATA[",
        b"&#0;",
        b"&#xD800;",
        b"<ns1:CongDan><ns1:SoDinhDanh>1</ns1:SoDinhDanh></ns1:CongDan>",
        b"9" * 6000,
        b"",
    ]
) | st.binary(max_size=64)


def _client() -> PopulationDbClient:
    """A client whose parser is exercised without a network (its transport is never called)."""
    return PopulationDbClient(
        None,  # type: ignore[arg-type]
        LgspAccount("key", "secret", "partner"),
        Officer("canbo.01", "officer-secret", "000.00.00.H26"),
        cache=ResultCache(0),
    )


CLIENT = _client()
OPERATION = CLIENT.contract.operation(LOOKUP)


def read_reply(body: bytes) -> object:
    """What the client makes of a reply body: the transport's envelope and fault reading, then the
    client's own reading of the payload."""
    _header, element = read_envelope(body)
    fault = read_fault(element)
    if fault is not None:
        return fault
    return CLIENT._read(OPERATION, element)


@settings(
    max_examples=CASES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(seed=st.sampled_from([*SEEDS, FAULT]), data=st.data())
def test_a_hostile_reply_ends_as_a_person_nobody_or_a_clear_error(seed: bytes, data: st.DataObject) -> None:
    for _ in range(data.draw(st.integers(1, 3))):
        start = data.draw(st.integers(0, len(seed)))
        end = data.draw(st.integers(start, min(len(seed), start + 200)))
        seed = seed[:start] + data.draw(JUNK) + seed[end:]
    try:
        read_reply(seed)
    except CLEAR as exc:
        assert str(exc), "an error without a reason"


@settings(max_examples=max(CASES // 4, 50), deadline=None, derandomize=True)
@example(code="²").via("found by the chaos fuzz: isdigit() but not int()")
@example(code="١٢")
@given(code=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8))
def test_a_fault_code_of_any_text_is_a_code_or_none(code: str) -> None:
    """``MaLoi`` is a number in the register's faults; any other text -- digits of other scripts
    included ("²" passes ``str.isdigit``) -- reads as no code, never a crash."""
    body = FAULT.replace(b"004", code.replace("&", "&amp;").replace("<", "&lt;").encode())
    fault = read_reply(body)
    assert getattr(fault, "code", "no fault") is None or isinstance(fault.code, int)


def test_the_seeds_read_as_the_golden_tests_say() -> None:
    """The fuzz starts from replies the parser accepts (a person, nobody, a fault), so what it finds
    is what the hostile bytes did."""
    person, nobody, fault = (read_reply(body) for body in (*SEEDS, FAULT))
    assert getattr(person, "citizen_id", None) == "001190004217"
    assert nobody is None
    assert getattr(fault, "code", None) == 4
