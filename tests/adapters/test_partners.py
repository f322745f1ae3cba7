"""The partner registry against everything that must follow it: a partner declared in
adapters/partners.py and missing anywhere else (client factory, sandbox, dev PKI, deployment files)
fails here, with a message naming the file and the partner. The pools are written from the
registry by ``hub airflow-init`` (tests/hub/cli/test_airflow_init.py)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from adapters import hooks, partners
from adapters.hooks import PartnerHook
from adapters.partners import PARTNERS, Partner, partner_ids
from adapters.soap.client import SoapTransport
from dags.common import ALERTS_CONN_ID
from hub.connections import sandbox_connections
from sandbox.runner import _credentials
from signing.pki import DevPki
from tests.support.conformance import CASES

ROOT = Path(__file__).resolve().parents[2]
CONNECTION = re.compile(r"AIRFLOW_CONN_[A-Z0-9_]+")
OWN_CONNECTIONS = {f"AIRFLOW_CONN_{ALERTS_CONN_ID.upper()}"}  # the hub's own, not a partner's


def ids(specs: tuple[Partner, ...] = PARTNERS) -> list[str]:
    return [spec.id for spec in specs]


# -- the registry itself -------------------------------------------------------------------------------


def test_ids_are_unique_connection_and_file_names() -> None:
    assert len(set(partner_ids())) == len(PARTNERS)
    for spec in PARTNERS:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", spec.id), spec.id  # Connection id, pool, PKI file name
        assert spec.connection_variable == f"AIRFLOW_CONN_{spec.id.upper()}"
        assert spec.name_vi and spec.name_en and spec.flows, spec.id


def test_queries_answer_by_flow_in_declaration_order() -> None:
    assert partners.carriers() == ("vnpost", "viettel_post")
    assert partners.ministries() == (
        "business_registration", "civil_status", "driving_licence", "land_registration", "unemployment_benefit",
        "certification",
    )  # fmt: skip
    assert [p for p in partners.ministries() if partners.partner(p).pushes] == ["civil_status"]
    assert partners.of_flow("portal") == ("national_portal",)
    assert not partners.partner("viettel_post").signed  # outside the signing regime
    assert partners.of_flow("payment") == ("payment_platform",)
    with pytest.raises(KeyError, match=r"no partner 'tax_authority'.*known: city_system"):
        partners.partner("tax_authority")


def test_the_partners_declared_read_only_are_those_the_conformance_cases_find_only_read() -> None:
    """``read_only`` lets the message log resolve a lost call at once, so it must never cover a
    partner the hub writes to: the conformance cases that write (a portal sync, a push, an order)
    and those that say why they only read must split the registry the same way."""
    assert {c.name for c in CASES} == set(partner_ids())
    declared = {spec.id for spec in PARTNERS if spec.read_only}
    assert declared == {c.name for c in CASES if c.read_only and c.write is None}
    assert not declared & {"national_portal", "civil_status", *partners.carriers()}


# -- code that reads it ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", PARTNERS, ids=ids())
def test_every_partner_has_a_client_factory_in_its_own_adapter_package(spec: Partner) -> None:
    factory = spec.factory()
    assert list(inspect.signature(factory).parameters) == ["transport", "login", "password", "extras"], spec.id
    assert factory.__module__.startswith("adapters.") and factory.__module__ != hooks.__name__, spec.client_factory
    hook = PartnerHook(spec.id)
    assert hook.conn_id == spec.id and hook.partner is spec


def test_every_partner_but_the_citizen_registers_has_a_probe_in_its_adapter_package() -> None:
    """``hub connections test`` calls the probe; only partners whose every call reads a person lack one."""
    for spec in PARTNERS:
        probe = spec.probe_call()
        if spec.flows == {"identity"}:
            assert probe is None, f"{spec.id}: a probe would look up a citizen nobody asked about"
            continue
        assert probe is not None, spec.id
        assert list(inspect.signature(probe).parameters) == ["client"], spec.probe
        assert probe.__module__ == spec.factory().__module__, f"{spec.id}: the probe belongs beside its client"


@pytest.mark.parametrize("spec", PARTNERS, ids=ids())
def test_every_partner_has_a_sandbox_double(spec: Partner) -> None:
    double = spec.sandbox_double()
    assert callable(double) and list(inspect.signature(double).parameters) == ["context"], spec.sandbox


def test_sandbox_credentials_make_every_partners_connection_buildable(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the runner hands out becomes a Connection the hook builds every partner's client from, without
    a missing extra or login, on the transport its entry calls for (the servers themselves are
    tests/sandbox/test_runner.py's)."""
    credentials = _credentials("000.00.00.H26")
    assert set(credentials) == set(partner_ids())
    state = {name: {"url": f"http://127.0.0.1:9/{name}", **login} for name, login in credentials.items()}
    variables = sandbox_connections(state)
    assert set(variables) == {spec.connection_variable for spec in PARTNERS}
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    for spec in PARTNERS:
        client = PartnerHook(spec.id).get_client()
        transport = client.transport
        assert transport.partner == spec.id
        assert isinstance(transport, SoapTransport) == (spec.transport == "SOAP"), spec.id
        if not spec.signed:  # whatever the Connection's extras say
            assert transport.signatures.identity is transport.signatures.trust is None, spec.id


def test_the_dev_pki_issues_every_partner(dev_pki: DevPki) -> None:
    missing = set(partner_ids()) - set(dev_pki.signers)
    assert not missing, f"the dev PKI has no certificate for {sorted(missing)}"
    for name in partner_ids():
        assert dev_pki.cert_path(name).is_file(), name


# -- deployment files --------------------------------------------------------------------------------------


def connections_example() -> set[str]:
    lines = (ROOT / "connections.env.example").read_text(encoding="utf-8").splitlines()
    return {line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")}


# The one deployment file naming the partners: the operator's list of Connections to fill in. Compose
# hands the filled-in copy to the Airflow containers whole and Kubernetes makes one Secret of it
# (tests/deploy/ checks both), so no other deployment file lists partners.
DEPLOYMENT_FILES = {"connections.env.example": (connections_example, PARTNERS)}
ENUMERATING_NOTHING = (
    ".env.example",
    "docker-compose.yml",
    "deploy/compose/sandbox.yml",
    "deploy/helm/values.yaml",
    "deploy/helm/webhooks.yaml",
    "Dockerfile",
)


@pytest.mark.parametrize("path", DEPLOYMENT_FILES)
def test_deployment_file_defines_exactly_the_partner_connections(path: str) -> None:
    read, expected = DEPLOYMENT_FILES[path]
    defined = {name for name in read() if CONNECTION.fullmatch(name)} - OWN_CONNECTIONS
    problems = [f"{path}: no Connection for partner {s.id!r}" for s in expected if s.connection_variable not in defined]
    known = {spec.connection_variable for spec in PARTNERS}
    problems += [f"{path}: {name} is no partner's Connection" for name in sorted(defined - known)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ENUMERATING_NOTHING)
def test_no_other_deployment_file_names_a_partner_connection(path: str) -> None:
    named = set(CONNECTION.findall((ROOT / path).read_text(encoding="utf-8"))) - OWN_CONNECTIONS
    assert not named, f"{path} lists {sorted(named)}: partner Connections belong in connections.env.example only"


def test_the_deployment_check_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail, and says where: a partner only the registry knows is reported."""
    newcomer = Partner(
        id="tax_authority",
        name_vi="Cơ quan thuế",
        name_en="Tax authority",
        flows=frozenset({"portal"}),
        transport="REST",
        client_factory="adapters.tax_authority.client:from_connection",
        sandbox="sandbox.tax_authority.app:double",
        login="token",
    )
    monkeypatch.setitem(DEPLOYMENT_FILES, "connections.env.example", (connections_example, (*PARTNERS, newcomer)))
    missing = r"connections\.env\.example: no Connection for partner 'tax_authority'"
    with pytest.raises(AssertionError, match=missing):
        test_deployment_file_defines_exactly_the_partner_connections("connections.env.example")
