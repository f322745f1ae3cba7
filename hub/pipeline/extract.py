"""Extract changed dossiers from the city system into staging snapshots."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from adapters.city_system.client import CitySystemClient
from hub.store import HubStore, JsonText, StagedRecord
from mappings.code_tables import load_code_tables
from mappings.facts import city_facts
from mappings.sources import CITY_SOURCE
from mappings.text import storable
from signing.digests import canonical_json


@dataclass(frozen=True)
class ExtractResult:
    window_from: datetime
    window_to: datetime
    records: int
    new_versions: int
    unchanged: int
    batch_ids: list[str]


def extraction_window(store: HubStore, source: str, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The data interval, widened back to the watermark when earlier intervals were missed.

    A re-run of an interval the watermark has passed reads the interval again; staging by
    content hash makes that harmless.
    """
    mark = store.staging.watermark(source)
    return (min(mark, start) if mark is not None else start), end


def record_key(record: dict) -> str:
    """The dossier number when there is one; a record without it is still kept, under its city id."""
    return str(record.get("ma_ho_so") or f"city-id:{record.get('id')}")


def staged_record(record: dict) -> StagedRecord:
    """A city record ready to stage, serialised once: the canonical JSON its content hash is taken
    over (``signing.digests.content_hash``: SHA-256 of ``canonical_json``) is also what is stored,
    with the facts reconciliation counts by and the city's own id of the record (two records with
    one number and different ids are two dossiers, never versions of one: ``hub.store.staging``).
    Characters a store refuses are escaped first (``mappings.text.storable``): the gate quarantines
    the record for them, on either store."""
    record = storable(record)
    text = canonical_json(record)
    city_id = record.get("id")
    return StagedRecord(
        record_key(record),
        hashlib.sha256(text).hexdigest(),
        JsonText(text.decode()),
        _updated_at(record),
        city_facts(record, load_code_tables()),
        record_id=None if city_id is None or not record.get("ma_ho_so") else str(city_id),
    )


def _updated_at(record: dict) -> datetime | None:
    try:
        return datetime.fromisoformat(record["cap_nhat_luc"])
    except (KeyError, TypeError, ValueError):
        return None  # the quality gate names the problem; staging keeps the record regardless


def extract_city_dossiers(
    client: CitySystemClient,
    store: HubStore,
    start: datetime,
    end: datetime,
    *,
    page_size: int = 1000,
    source: str = CITY_SOURCE,
) -> ExtractResult:
    """Stage every record changed in the window, one bulk write per page, then advance the watermark."""
    window_from, window_to = extraction_window(store, source, start, end)
    records = new_versions = unchanged = 0
    batch_ids: list[str] = []
    for page in client.iter_changes(window_from, window_to, page_size=page_size):
        batch_id = f"{source}-{window_to:%Y%m%dT%H%M}-{uuid.uuid4().hex[:8]}"
        staged = [staged_record(r) for r in page]
        counts = store.staging.stage(source, staged, batch_id)
        records += len(page)
        new_versions += counts.new_versions
        unchanged += counts.unchanged
        batch_ids.append(batch_id)
    store.staging.advance_watermark(source, window_to)
    return ExtractResult(window_from, window_to, records, new_versions, unchanged, batch_ids)
