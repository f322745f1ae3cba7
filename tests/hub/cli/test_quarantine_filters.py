"""`hub quarantine list` read by a script or a person copying numbers: full values when piped,
filters that name nothing refused with what exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.store import HubStore, QuarantineItem

LONG = "000.00.03.H26-20261120-0122"  # a malformed number, longer than the rest
OTHERS = [f"000.00.{n:02d}.H26-261120-{n:04d}" for n in range(1, 40)]


def hub(*args: str, columns: int = 60):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})  # narrow, as a pipe is


@pytest.fixture
def held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubStore:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = HubStore(url)
    store.create_schema()
    reason = "Mã hồ sơ sai định dạng {mã cơ quan}-{YYMMDD}-{NNNN}: phần ngày phải gồm đúng 6 chữ số YYMMDD"
    store.quarantine.add(
        [QuarantineItem("city", no, "dossier_no.format", reason, "h", {}) for no in [LONG, *OTHERS]]
        + [QuarantineItem("city", OTHERS[0], "population.not_found", "CSDL quốc gia về dân cư: không có", "h", {})]
    )
    monkeypatch.setenv("HUB_STORE_URL", url)
    return store


def test_piped_the_list_is_tab_separated_with_every_value_whole(held: HubStore) -> None:
    result = hub("quarantine", "list", "--rule", "dossier_no.format", "--limit", "100")
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0] == ["dossier", "source", "rule", "reason", "seen"]
    assert {row[0] for row in rows[1:]} == {LONG, *OTHERS}  # nothing cut to fit 60 columns
    assert all(len(row) == 5 and row[3].endswith("YYMMDD") for row in rows[1:])
    shown = hub("quarantine", "show", rows[1][0], columns=200)  # the copied number finds its dossier
    assert shown.exit_code == 0 and "dossier_no.format" in shown.output


def test_an_unknown_rule_or_source_is_refused_with_the_known_ones(held: HubStore) -> None:
    result = hub("quarantine", "list", "--rule", "dossier_number.format")
    assert result.exit_code == 1
    assert "unknown --rule 'dossier_number.format'" in result.output
    assert "dossier_no.format, population.not_found" in result.output
    result = hub("quarantine", "list", "--source", "ministry:civil")
    assert result.exit_code == 1 and "under city" in result.output
    result = hub("quarantine", "replay", "--rule", "nope", "--no-send")
    assert result.exit_code == 1 and "unknown --rule 'nope'" in result.output
