"""The store the jobs, the CLI and the alerts share: one per process and ``HUB_STORE_URL``.

It lives with the store, not with a job module, so nothing above the store imports it upward.
"""

from __future__ import annotations

from functools import lru_cache

from hub.paths import store_url
from hub.store.store import HubStore


@lru_cache(maxsize=4)
def store_for(url: str) -> HubStore:
    """One engine (connection pool) per process and URL; the schema is created on first use."""
    store = HubStore(url)
    store.create_schema()
    return store


def hub_store() -> HubStore:
    return store_for(store_url())
