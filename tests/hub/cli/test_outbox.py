"""`hub outbox status`: a partner the registry does not know is refused, and no store is conjured."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.partners import partner_ids
from hub.cli.main import app


def hub(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_an_unknown_partner_is_refused_with_the_known_ones() -> None:
    result = hub("outbox", "status", "--partner", "national-portal")
    assert result.exit_code == 1
    assert "unknown --partner 'national-portal'" in result.output
    assert all(name in result.output for name in partner_ids())


def test_a_missing_store_is_said_not_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_STORE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    result = hub("outbox", "status")
    assert result.exit_code == 1 and "there is no hub store at" in result.output
    assert not (tmp_path / "hub.db").exists()
