"""Access to the project's code tables (``mappings.code_tables``) for the simulators.

The simulators never keep their own copy of procedures, agencies or states: they read the same
versioned tables the hub maps with, so a code that is valid for the hub on a date is valid for the
sandbox on that date.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mappings.code_tables import CodeTables

__all__ = ["tables"]


def tables() -> CodeTables:
    """The project's default code tables (cached by ``mappings``; import deferred on purpose)."""
    from mappings.code_tables import load_code_tables

    return load_code_tables()
