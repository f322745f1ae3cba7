"""The VBDLIS land system's callbacks, folded into the land dossiers the pull-back stages.

The receiver (``hub.webhooks.ministry``) only keeps what VBDLIS sent (``hub.store.ministry_callbacks``).
At the end of each land pull-back this folds the callbacks not folded yet into the land system's
own record of each dossier and stages it like a listed one -- the same contract map
(``mappings.ministry_records``), the same ``ministry_pullbacks`` suite, the same source and key
(``ministry:land_registration``, the receipt number ``SoBienNhan``) -- so a dossier VBDLIS both
lists and calls back is one staged dossier: never counted twice, and the reconciliation reads it
like any other. How a callback changes the record:

- ``TiepNhanHoSoChoMotCua`` (received at the land office's own desk) gives the record's keys the
  listing also has; a record already staged from the listing keeps its own values. A dossier known
  only from this callback has no submission time or status in the public shape: it is taken as
  submitted when received and as accepted (status 2) -- ASSUMPTIONS, docs/interfaces.md 7.7 --, and
  it has no one-stop unit code (``MaDonViMotCua``), so the suite quarantines it under the unit rule
  until the listing brings the full record (counted, nothing lost).
- ``KetThucHoSo`` sets ``NgayKetThuc`` and ``TrangThaiKetThuc``; the status changes only if the
  record's status disagrees with the end's outcome (0 -> resolved, status 9, as the public one-stop
  handler sets it; otherwise closed unresolved, status 7 -- an ASSUMPTION), so a listed final
  status that agrees is kept and the next listing stages nothing new.

An end with no record yet (neither listed nor received by callback) waits, unfolded, for the next
pull-back. Counts: ``dossiers = staged_new + unchanged + quarantined + waiting``.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from adapters.ministry.callbacks import ENDED, RECEIVED, dotnet_time
from hub.pipeline.ministry_exchange import Ministry, stage_page
from hub.store import HubStore
from hub.store.ministry_callbacks import MinistryCallbacks, StoredCallback
from mappings.code_tables import CodeTables
from mappings.ministry_records import map_record
from quality.gate import QualityGate

__all__ = ["CallbackFold", "as_dict", "fold_callbacks", "fold_record"]

# The keys of a land dossier's record a TiepNhanHoSoChoMotCua callback brings (the listing's).
_RECEIVED_KEYS = (
    "SoBienNhan",
    "TinhId",
    "HuyenId",
    "XaId",
    "NguoiTiepNhan",
    "NgayTiepNhan",
    "NgayHenTra",
    "ThongTinNguoiNopDon",
    "ThongTinQuyTrinh",
)
ACCEPTED, RESOLVED, CLOSED_UNRESOLVED = "2", "9", "7"


@dataclass
class CallbackFold:
    """What one fold did, per dossier (see the module docstring for the identity)."""

    dossiers: int = 0
    staged_new: int = 0
    unchanged: int = 0
    quarantined: int = 0
    waiting: int = 0

    @property
    def holds(self) -> bool:
        return self.dossiers == self.staged_new + self.unchanged + self.quarantined + self.waiting


def _outcome(status: Any, on: date, tables: CodeTables) -> str | None:
    row = tables.statuses.get(str(status), on) if status is not None else None
    return row.outcome if row is not None else None


def fold_record(base: dict[str, Any], callbacks: list[StoredCallback], tables: CodeTables) -> dict[str, Any] | None:
    """The land system's record of one dossier after its callbacks (``base``: the record staged
    from the listing, or empty); None while only an end is known."""
    record = dict(base)
    for callback in callbacks:
        body = callback.body
        if callback.operation == RECEIVED:
            for key in _RECEIVED_KEYS:
                record.setdefault(key, body[key])
            record.setdefault("MaHoSoMotCua", None)
            record.setdefault("NgayNopHoSo", body["NgayTiepNhan"])
            record.setdefault("TrangThaiHoSo", ACCEPTED)
        elif callback.operation == ENDED:
            record["NgayKetThuc"] = body["NgayKetThuc"]
            record["TrangThaiKetThuc"] = body["TrangThaiKetThuc"]
            ended = dotnet_time(body["NgayKetThuc"])
            assert ended is not None  # the receiver refuses an end without a readable time
            implied = RESOLVED if body["TrangThaiKetThuc"] == 0 else CLOSED_UNRESOLVED
            on = ended.date()
            if _outcome(record.get("TrangThaiHoSo"), on, tables) != _outcome(implied, on, tables):
                record["TrangThaiHoSo"] = implied
    return record if "NgayTiepNhan" in record else None


def fold_callbacks(store: HubStore, ministry: Ministry, gate: QualityGate, tables: CodeTables) -> CallbackFold:
    """Fold every unfolded callback of ``ministry`` into its dossier and stage it (see the module docstring)."""
    callbacks = MinistryCallbacks(store)
    unfolded = callbacks.unfolded(ministry.partner)
    fold = CallbackFold(dossiers=len(unfolded))
    if not unfolded or ministry.contract.record is None:
        fold.waiting = len(unfolded)
        return fold
    staged = callbacks.staged_payloads(ministry.source, list(unfolded))
    records, folded = [], []
    for dossier_no, stored in unfolded.items():
        base = (staged.get(dossier_no) or {}).get("BanGhiBo") or {}
        record = fold_record(base, stored, tables)
        if record is None:
            fold.waiting += 1
            continue
        records.append(map_record(record, ministry.contract.record, tables))
        folded.extend(callback.key for callback in stored)
    batch_id = f"{ministry.source}-callbacks-{uuid.uuid4().hex[:8]}"
    fold.staged_new, fold.unchanged, fold.quarantined = stage_page(store, ministry, gate, records, batch_id)
    callbacks.mark_folded(folded)
    return fold


def as_dict(fold: CallbackFold) -> dict[str, Any]:
    return {**asdict(fold), "holds": fold.holds}
