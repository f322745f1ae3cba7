"""The partner registry against everything that must follow it: a partner declared in
adapters/partners.py and missing anywhere else (hooks, sandbox, dev PKI, pools, deployment files)
fails here, with a message naming the file and the partner."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters import hooks, partners
from adapters.partners import PARTNERS, Partner, partner_ids
from adapters.soap.client import SoapTransport
from dags.common import ALERTS_CONN_ID
from hub.connections import sandbox_connections
from sandbox.runner import _credentials
from signing.pki import DevPki

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
    assert set(partners.ministries()) == {"civil_status", "business_registration"}
    assert [p for p in partners.ministries() if partners.partner(p).pushes] == ["civil_status"]
    assert partners.of_flow("portal") == ("national_portal",)
    assert not partners.partner("viettel_post").signed  # outside the signing regime
    with pytest.raises(KeyError, match=r"no partner 'driving_licence'.*known: city_system"):
        partners.partner("driving_licence")


# -- code that reads it ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", PARTNERS, ids=ids())
def test_every_partner_has_a_hook_bound_to_its_entry(spec: Partner) -> None:
    hook = spec.hook_class()
    assert hook.default_conn_name == hook.partner == spec.id, f"{spec.hook}: bound to {hook.default_conn_name!r}"
    assert hook.client_extras == spec.extras
    assert issubclass(hook.transport_class, SoapTransport) == (spec.transport == "SOAP")
    assert hook.signed is spec.signed
    assert hook().conn_id == spec.id


def test_every_hook_class_is_some_partners() -> None:
    public = {
        f"{hooks.__name__}:{name}"
        for name, cls in inspect.getmembers(hooks, inspect.isclass)
        if cls.__module__ == hooks.__name__ and not name.startswith("_")
    }
    assert public - {spec.hook for spec in PARTNERS} == set(), "hooks no partner names in adapters/partners.py"


@pytest.mark.parametrize("spec", PARTNERS, ids=ids())
def test_every_partner_has_a_sandbox_double(spec: Partner) -> None:
    double = spec.sandbox_double()
    assert callable(double) and list(inspect.signature(double).parameters) == ["context"], spec.sandbox


def test_sandbox_credentials_make_every_partners_connection_buildable(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the runner hands out becomes a Connection every hook builds its client from, without a
    missing extra or login (the servers themselves are tests/sandbox/test_runner.py's)."""
    credentials = _credentials("000.00.00.H26")
    assert set(credentials) == set(partner_ids())
    state = {name: {"url": f"http://127.0.0.1:9/{name}", **login} for name, login in credentials.items()}
    variables = sandbox_connections(state)
    assert set(variables) == {spec.connection_variable for spec in PARTNERS}
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    for spec in PARTNERS:
        assert spec.hook_class()().get_client() is not None, spec.id


def test_the_dev_pki_issues_every_partner(dev_pki: DevPki) -> None:
    missing = set(partner_ids()) - set(dev_pki.signers)
    assert not missing, f"the dev PKI has no certificate for {sorted(missing)}"
    for name in partner_ids():
        assert dev_pki.cert_path(name).is_file(), name


# -- deployment files --------------------------------------------------------------------------------------


def test_pools_file_holds_every_partner_pool_as_declared() -> None:
    declared = partners.pools()
    written: dict[str, Any] = json.loads((ROOT / "config" / "pools.json").read_text(encoding="utf-8"))
    problems = [f"config/pools.json: no pool for partner {name!r}" for name in declared if name not in written]
    problems += [f"config/pools.json: pool {name!r} is no partner's" for name in written if name not in declared]
    for name in declared.keys() & written.keys():
        want = {"slots": declared[name].slots, "description": declared[name].description, "include_deferred": False}
        if written[name] != want:
            problems.append(f"config/pools.json: pool {name!r} is {written[name]}, adapters/partners.py says {want}")
    assert not problems, "\n".join(problems)


def env_example() -> set[str]:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    return {line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")}


def compose_environment() -> set[str]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return set(document["x-airflow-common"]["environment"])


def helm_secrets() -> set[str]:
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text(encoding="utf-8"))
    return {entry["envName"] for entry in values["secret"]}


def webhook_receiver_environment() -> set[str]:
    documents = yaml.safe_load_all((ROOT / "deploy" / "helm" / "webhooks.yaml").read_text(encoding="utf-8"))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {entry["name"] for entry in container["env"]}


DEPLOYMENT_FILES = {
    ".env.example": (env_example, PARTNERS),
    "docker-compose.yml": (compose_environment, PARTNERS),
    "deploy/helm/values.yaml": (helm_secrets, PARTNERS),
    # The receiver needs the carriers' callback secrets only.
    "deploy/helm/webhooks.yaml": (
        webhook_receiver_environment,
        tuple(partners.partner(p) for p in partners.carriers()),
    ),
}


@pytest.mark.parametrize("path", DEPLOYMENT_FILES)
def test_deployment_file_defines_exactly_the_partner_connections(path: str) -> None:
    read, expected = DEPLOYMENT_FILES[path]
    defined = {name for name in read() if CONNECTION.fullmatch(name)} - OWN_CONNECTIONS
    problems = [f"{path}: no Connection for partner {s.id!r}" for s in expected if s.connection_variable not in defined]
    known = {spec.connection_variable for spec in PARTNERS}
    problems += [f"{path}: {name} is no partner's Connection" for name in sorted(defined - known)]
    assert not problems, "\n".join(problems)


def test_the_deployment_check_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail, and says where: a partner only the registry knows is reported."""
    newcomer = Partner(
        id="driving_licence",
        name_vi="Giấy phép lái xe",
        name_en="Driving licences",
        flows=frozenset({"ministry_pull"}),
        transport="REST",
        hook="adapters.hooks:DrivingLicenceHook",
        sandbox="sandbox.driving_licence.app:double",
        login="token",
    )
    monkeypatch.setitem(DEPLOYMENT_FILES, "deploy/helm/values.yaml", (helm_secrets, (*PARTNERS, newcomer)))
    with pytest.raises(AssertionError, match=r"deploy/helm/values\.yaml: no Connection for partner 'driving_licence'"):
        test_deployment_file_defines_exactly_the_partner_connections("deploy/helm/values.yaml")
