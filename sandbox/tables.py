"""Access to the project's code tables (``mappings.code_tables``) for the simulators.

The simulators never keep their own copy of procedures, agencies or states: they read the same
versioned tables the hub maps with, so a code that is valid for the hub on a date is valid for the
sandbox on that date. This module only smooths over the row type (object or mapping).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["row_value", "tables"]


@lru_cache(maxsize=1)
def tables() -> Any:
    """The project's default code tables, loaded once per process (import deferred on purpose)."""
    from mappings.code_tables import load_code_tables

    return load_code_tables()


def row_value(row: Any, key: str, default: Any = None) -> Any:
    """``row[key]`` for mapping rows, ``row.key`` for dataclass/pydantic rows."""
    if isinstance(row, dict):
        return row.get(key, default)
    return getattr(row, key, default)
