"""`hub connections test` against the sandbox partners on loopback, as an operator pointing the hub at
new endpoints runs it: every configured partner's cheapest read call, the refusals named."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from adapters.partners import PARTNERS, partner
from hub.cli import connections
from hub.cli.main import app
from hub.connections import sandbox_connections
from hub.processes import free_port
from sandbox import runner

pytestmark = pytest.mark.timeout(300)
ONE_ATTEMPT = {"max_attempts": 1, "timeout": 10}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("sandbox")
    state = runner.up(folder, day=date(2026, 11, 20), scale=0.01, seed=3, fresh=True)
    yield state
    runner.down(folder)


@pytest.fixture
def connect(sandbox: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every partner's Connection in the environment, as Airflow reads them; returned to be spoilt."""
    monkeypatch.setattr(connections, "console", Console(width=300))  # one line per row, whatever the terminal
    variables = sandbox_connections(sandbox, ONE_ATTEMPT)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


def run(*args: str) -> tuple[int, dict[str, str], str]:
    """Exit code, each partner row's result, and the whole output."""
    result = CliRunner().invoke(app, ["connections", "test", *args])
    rows = {}
    for line in result.output.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 4 and cells[0] in {p.id for p in PARTNERS}:
            rows[cells[0]] = cells[1]
    return result.exit_code, rows, result.output


def test_every_configured_partner_answers_its_cheapest_read(connect: dict[str, str], sandbox: dict[str, Any]) -> None:
    code, rows, output = run()
    assert code == 0, output
    assert rows == {p.id: "works" if p.probe else "not called" for p in PARTNERS}
    assert "logged in; LayDanhMucCoQuan listed" in output
    assert re.search(r"service-results listed \d+ provinces", output)
    secrets = [sandbox[p.id][k] for p in PARTNERS for k in ("password", "token") if k in sandbox[p.id]]
    assert secrets and not [s for s in secrets if s in output]


def test_a_refused_login_and_a_missing_connection_fail_by_name(
    connect: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = partner("national_portal").connection_variable
    wrong = re.sub(r":[^:@/]+@", ":not-the-password@", connect[portal])
    monkeypatch.setenv(portal, wrong)
    monkeypatch.delenv(partner("vnpost").connection_variable)
    code, rows, output = run("national_portal", "vnpost")
    assert code == 1
    assert rows == {"national_portal": "fails", "vnpost": "not configured"}
    assert "login refused" in output and "AIRFLOW_CONN_VNPOST" in output
    assert "not-the-password" not in output


def test_a_partner_that_does_not_answer_fails_and_the_others_still_run(
    connect: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    city = partner("city_system").connection_variable
    closed = free_port()  # nothing listens there
    monkeypatch.setenv(city, re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{closed}", connect[city]))
    code, rows, output = run("city_system", "civil_status")
    assert code == 1
    assert rows == {"city_system": "fails", "civil_status": "works"}
    assert "list_changes" in output  # the operation that could not reach the partner


def test_a_connection_the_client_refuses_is_reported_not_raised(
    connect: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = partner("national_portal").connection_variable
    monkeypatch.setenv(portal, connect[portal] + "&retries_please=3")  # an extra no client knows
    code, rows, output = run("national_portal")
    assert code == 1 and rows == {"national_portal": "fails"}
    assert "the Connection is refused" in output and "retries_please" in output


def test_an_unknown_partner_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["connections", "test", "national_portl"])
    assert result.exit_code == 2
    assert "unknown partner national_portl" in result.output and "national_portal" in result.output
