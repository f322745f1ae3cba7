"""Which Iceberg catalog the warehouse is written to: a local SQL catalog under ``var/`` unless configured.

The default is a pyiceberg ``SqlCatalog`` on SQLite (``var/warehouse/catalog.db``) with its data
and metadata files under ``var/warehouse/`` -- nothing to run, private like the rest of ``var/``.
Production points the same code at any Iceberg REST catalog and object store through pyiceberg's
own configuration, so no hub setting duplicates it: ``PYICEBERG_CATALOG__HUB__TYPE=rest``,
``PYICEBERG_CATALOG__HUB__URI=...``, ``PYICEBERG_CATALOG__HUB__S3__ENDPOINT=...`` and so on, or the
``catalog: hub:`` entry of ``.pyiceberg.yaml`` (docs/operations.md, "The analytics warehouse").
``HUB_WAREHOUSE_CATALOG`` names another catalog of that configuration than ``hub``.

The configuration is read at each call rather than at import (pyiceberg's ``load_catalog`` reads
the environment once per process), so a worker, a test or the demo that sets it later is obeyed.
"""

from __future__ import annotations

import os
from typing import Any

from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.utils.config import Config

from hub.paths import var_dir

DEFAULT_CATALOG = "hub"


def catalog_name() -> str:
    return os.environ.get("HUB_WAREHOUSE_CATALOG") or DEFAULT_CATALOG


def local_catalog_properties() -> dict[str, str]:
    """The default catalog: SQLite catalog database and file warehouse under ``var/warehouse``."""
    root = var_dir() / "warehouse"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {"type": "sql", "uri": f"sqlite:///{root / 'catalog.db'}", "warehouse": root.as_uri()}


def catalog_properties(name: str | None = None) -> dict[str, Any]:
    """The configured properties of catalog ``name`` (env/``.pyiceberg.yaml``), else the local default's."""
    configured = Config().get_catalog_config(name or catalog_name())
    return dict(configured) if configured else local_catalog_properties()


def open_catalog(name: str | None = None) -> Catalog:
    """The warehouse's catalog, as configured (see the module's docstring)."""
    name = name or catalog_name()
    return load_catalog(name, **catalog_properties(name))


def describe(catalog: Catalog) -> str:
    """Where the catalog is, for a log line or the CLI: its type and URI, never a credential."""
    props = catalog.properties
    uri = str(props.get("uri", ""))
    return f"{props.get('type', 'custom')} catalog {catalog.name!r} at {uri.split('@')[-1]}"
