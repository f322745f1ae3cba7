"""The one error a mapping raises, so the quality gate can quarantine the record by rule name."""

from __future__ import annotations

from mappings.masking import mask_personal_data


class MappingError(ValueError):
    """A record that cannot be mapped; ``rule`` is dotted (``city.unknown_local_state``).

    ``message`` goes straight into quarantine reports, and it may quote a bad value from the
    record, so it is masked here once instead of at every raise.
    """

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        self.message = mask_personal_data(message)
        super().__init__(f"{rule}: {self.message}")
