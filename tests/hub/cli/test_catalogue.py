"""`hub catalogue check` as an operator types it, against a portal whose catalogue drifted."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from sandbox.server import RunningServer
from tests.support.drifted_portal import AGENCY, PASSWORD, USERNAME, WITHDRAWN, drifted_portal  # noqa: F401

VARIABLE = "AIRFLOW_CONN_NATIONAL_PORTAL"


def hub(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_drift_is_listed_and_strict_fails(drifted_portal: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    host = drifted_portal.url.partition("://")[2]
    monkeypatch.setenv(VARIABLE, f"http://{USERNAME}:{PASSWORD}@{host}?madonvi={AGENCY}")

    relaxed = hub("catalogue", "check", "--day", "2026-11-20")
    strict = hub("catalogue", "check", "--day", "2026-11-20", "--strict")

    assert relaxed.exit_code == 0, relaxed.output
    assert "2 rows differ" in relaxed.output and WITHDRAWN in relaxed.output
    assert "procedure_not_on_portal" in relaxed.output and "agency_name_differs" in relaxed.output
    assert PASSWORD not in relaxed.output
    assert strict.exit_code == 3


def test_a_missing_connection_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    result = hub("catalogue", "check")
    assert result.exit_code == 2
    assert "cannot build the national_portal client from its Airflow Connection" in result.output
    assert "Traceback" not in result.output


def test_a_bad_day_is_refused() -> None:
    result = hub("catalogue", "check", "--day", "20-11-2026")
    assert result.exit_code == 2 and "is not a date" in result.output
