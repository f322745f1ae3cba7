"""The hub store: one database and the parts that work on it.

Every part takes or returns whole batches and runs one transaction per call, because per-record
commits are what makes a naive sync slow (see bench/); upserts make every write repeatable, so
re-running a task for the same data interval leaves the same rows behind. The flow tables
(``postal``, ``ministry``, ``population``, ``proofs``, ``validation``) are built on a store in the
same way and move their work through the same :class:`~hub.store.work_queue.WorkQueue`.
"""

from __future__ import annotations

from hub.store import schema as t
from hub.store.database import Database
from hub.store.deliveries import Deliveries
from hub.store.facts import add_missing_columns
from hub.store.message_log import MessageLog
from hub.store.outbox import Outbox
from hub.store.portal_scores import PortalScores
from hub.store.portal_snapshot import PortalSnapshots
from hub.store.quarantine import Quarantine
from hub.store.staging import Staging


class HubStore:
    """Composed, not inherited: ``store.staging.stage(...)``, ``store.outbox.enqueue(...)``,
    ``store.message_log.append(...)`` say which part of the architecture a call touches."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)
        self.staging = Staging(self.db)
        self.deliveries = Deliveries(self.db)
        self.quarantine = Quarantine(self.db)
        self.outbox = Outbox(self.db, self.deliveries, self.quarantine)
        self.message_log = MessageLog(self.db)
        self.portal_snapshots = PortalSnapshots(self.db)
        self.portal_scores = PortalScores(self.db)

    def create_schema(self) -> None:
        self.message_log.refuse_unchained()
        t.metadata.create_all(self.db.engine)
        add_missing_columns(self.db.engine)
