"""The chaos suite's short version (``make chaos`` runs the long one): a small sync day whose task
instances are SIGKILLed a few times while every partner of the day injects 5xx, held replies and
cut bodies, then a completion run -- and nothing lost, doubled or unlogged at the partners."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import chaos

pytestmark = pytest.mark.timeout(600)

KILLS, SEED, SCALE = 4, 5, 0.005


def test_a_day_killed_and_faulted_still_adds_up_at_every_partner(tmp_path: Path) -> None:
    result = chaos.chaos_day(tmp_path, kills=KILLS, seed=SEED, scale=SCALE)

    failed = [f"{c.name}: expected {c.expected}, found {c.found}" for c in result.checks if not c.ok]
    assert not failed, failed
    assert result.tally["SIGKILLs"] == KILLS
    names = {check.name for check in result.checks}
    # Every partner of the day was checked in its own store, and the log with it.
    assert {"portal: delivered dossiers held", "portal: dossiers held twice", "carriers: orders held"} <= names
    assert {"civil_status: pushed dossiers held", "requests with no recorded outcome"} <= names
    assert sum(result.faults.values()) > 0, "the portal served no fault: the chaos runs ran without chaos"


def test_a_check_fails_when_a_partner_holds_a_dossier_twice() -> None:
    """The checks can fail: a portal export listing one number twice is a duplicate."""
    holds = chaos.Check("portal: dossiers held twice", "0", "1", False)
    result = chaos.ChaosResult(tally=chaos.Counter(), faults=chaos.Counter(), checks=[holds], chaos_runs=1, seconds=1)
    assert not result.ok
