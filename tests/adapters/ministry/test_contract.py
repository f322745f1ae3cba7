"""The ministry contracts: every file validates, and a contract that contradicts itself is refused
with the reason, before any client is built on it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from adapters.ministry.contract import CONTRACTS, MinistryContract, contract_of, contract_partners
from adapters.partners import ministries, partner


def test_every_contract_validates_and_names_its_partner() -> None:
    assert set(contract_partners()) >= set(ministries())
    for name in contract_partners():
        contract = contract_of(name)
        assert contract.partner == name and partner(name).client_factory == "adapters.ministry.client:from_connection"
        assert contract.pushes == partner(name).pushes


def _civil() -> dict[str, Any]:
    return yaml.safe_load((CONTRACTS / "civil_status.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda c: c["operations"].pop("traDanhSachHoSo"), "not declared"),
        (lambda c: c.pop("record"), "record map"),
        (lambda c: c.pop("status"), "push and status"),
        (lambda c: c["errors"].pop("201"), "not-found"),
        (lambda c: c["pull"]["window"].update(days=5), "to_param"),
        (lambda c: c["errors"].update({"999": "explode"}), "999"),
    ],
)
def test_a_contradicting_contract_is_refused_with_the_reason(change: Any, error: str) -> None:
    contract = _civil()
    change(contract)
    with pytest.raises(ValidationError, match=error):
        MinistryContract.model_validate(contract)
