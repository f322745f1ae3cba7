"""The one error a mapping raises, so the quality gate can quarantine the record by rule name."""

from __future__ import annotations


class MappingError(ValueError):
    """A record that cannot be mapped; ``rule`` is dotted (``city.unknown_local_state``) and
    ``message`` is safe for reports (no full ID or phone numbers)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
