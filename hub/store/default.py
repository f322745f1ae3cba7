"""The store the jobs, the CLI and the alerts share: one per process and ``HUB_STORE_URL``.

It lives with the store, not with a job module, so nothing above the store imports it upward.
The jobs create the store on first use (a first DAG run starts from nothing); an operator's
command only reads one, so it asks for :func:`existing_store`, which refuses to create an empty
store where the operator expected data -- a wrong ``HUB_STORE_URL`` or a store never filled -- and
says where it looked instead of answering from an empty table.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from hub.paths import store_url
from hub.store.schema import staged_dossier
from hub.store.store import HubStore


class StoreMissing(LookupError):
    """No hub store at the configured URL: nothing has been written there yet."""


@lru_cache(maxsize=4)
def store_for(url: str) -> HubStore:
    """One engine (connection pool) per process and URL; the schema is created on first use."""
    store = HubStore(url)
    store.create_schema()
    return store


def hub_store() -> HubStore:
    return store_for(store_url())


def store_exists(url: str) -> bool:
    """Whether a hub store is already at ``url``: the SQLite file exists, or the server's database
    holds the store's tables. Looking creates nothing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return bool(parsed.database) and parsed.database != ":memory:" and Path(parsed.database).is_file()
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).has_table(staged_dossier.name)
    finally:
        engine.dispose()


def store_location(url: str) -> str:
    """The URL as a message may show it: without its password."""
    return make_url(url).render_as_string(hide_password=True)


def existing_store() -> HubStore:
    """The store of ``HUB_STORE_URL`` (default ``var/hub.db``, where ``hub demo`` and the DAGs write),
    or :class:`StoreMissing` naming where it looked and what fills it."""
    url = store_url()
    if not store_exists(url):
        raise StoreMissing(
            f"there is no hub store at {store_location(url)} yet, so there is nothing to show; "
            "run `make demo` (or the DAGs) to fill it, or set HUB_STORE_URL to the store to read"
        )
    return store_for(url)
