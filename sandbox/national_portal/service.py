"""The business side of the portal simulator: what each LGSP service does with a request body.

Kept apart from the HTTP layer (``app.py``) so the rules (session, ``madonvi``, limits, one answer
per call, idempotent storage) read in one place and run in a worker thread, away from the event loop
that is busy injecting latency and timeouts.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sandbox.national_portal.catalogue import Catalogue
from sandbox.national_portal.sessions import SessionRegistry
from sandbox.national_portal.stats import Stats
from sandbox.national_portal.store import NewDossier, PortalStore, canonical_json, entry_hash
from sandbox.national_portal.validation import Rejection, validate_dossier, validate_progress

__all__ = ["INTEGRATION", "MAX_DOSSIERS_PER_CALL", "MAX_PROGRESS_PER_CALL", "SHARE", "PortalService"]

log = logging.getLogger(__name__)

VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
MAX_DOSSIERS_PER_CALL = 1000  # the hub's old limit, kept as the double's: no public maximum exists
MAX_PROGRESS_PER_CALL = 10

# Codes are strings, as T-R reads them. "0" and "-3" + "đã tồn tại" are public (ledger 2.3); the
# others are the double's own (assumptions): a client must read them from the message, not the code.
CODE_OK = "0"
CODE_REFUSED = "-1"  # a record is invalid: the message names it and the field
CODE_NOT_FOUND = "-2"
CODE_EXISTS = "-3"
CODE_SESSION = "100"
CODE_UNKNOWN_UNIT = "106"
CODE_MALFORMED = "300"
CODE_INTERNAL = "500"

MSG_SESSION = "Phiên làm việc không hợp lệ hoặc đã hết hạn, vui lòng đăng nhập lại"

# Which services each endpoint answers (O-T / O-I: integration vs sharing).
INTEGRATION = "integration"
SHARE = "share"

Reply = dict[str, Any]


def _reply(code: str, message: str, **extra: Any) -> Reply:
    return {"error_code": code, "message": message, **extra}


def _now() -> str:
    return datetime.now(VN_TZ).isoformat(timespec="seconds")


def _today() -> date:
    return datetime.now(VN_TZ).date()


def _key(record: Any) -> str:
    key = record.get("MaHoSo") if isinstance(record, dict) else None
    return key if isinstance(key, str) else ""


class PortalService:
    """Answers the authentication, integration and sharing endpoints; owns the rules of the double.

    A call answers once, ``{error_code, message}``, with no per-record results, as the real portal
    does (ledger 2.3); a call with a refused record stores nothing and names that record.
    """

    def __init__(
        self,
        store: PortalStore,
        catalogue: Catalogue,
        sessions: SessionRegistry,
        agencies: Iterable[str],
        stats: Stats,
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        self.sessions = sessions
        self.agencies = frozenset(agencies)
        self.stats = stats
        self._services: dict[str, tuple[str, Callable[[dict[str, Any], str], Reply]]] = {
            "DongBoHoSoMC": (INTEGRATION, self._dong_bo),
            "CapNhatTienDoHoSoMC": (INTEGRATION, self._tien_do),
            "TraCuuHoSo": (INTEGRATION, self._tra_cuu),
            "LayThuTuc": (INTEGRATION, self._thu_tuc),
            "LayDanhSachTTHC": (SHARE, self._danh_sach_thu_tuc),
            "LayDanhMucCoQuan": (SHARE, self._co_quan),
        }

    # -- authentication ----------------------------------------------------------------------------

    def auth(self, raw: bytes) -> Reply:
        body = _parse(raw)
        if body is None:
            self.stats.call("auth", "malformed")
            return _reply(CODE_MALFORMED, "Dữ liệu đăng nhập không hợp lệ (cần JSON {username, password})")
        token = self.sessions.login(body.get("username"), body.get("password"))
        if token is None:
            self.stats.call("auth", "denied")
            return _reply(CODE_SESSION, "Tên đăng nhập hoặc mật khẩu không đúng")
        self.stats.call("auth", "ok")
        return {"error_code": CODE_OK, "message": "Đăng nhập thành công", "session": token}

    # -- integration and sharing -------------------------------------------------------------------

    def service(self, raw: bytes, endpoint: str = INTEGRATION, request_id: str | None = None) -> Reply:
        body = _parse(raw)
        name = body.get("service") if isinstance(body, dict) else None
        label = name if isinstance(name, str) and name in self._services else "unknown"
        try:
            reply = self._dispatch(body, name, endpoint)
        except Exception as exc:  # the contract promises an error_code, even for our own bugs
            log.exception("portal simulator failed on %s", label)
            reply = _reply(CODE_INTERNAL, f"Lỗi hệ thống: {type(exc).__name__}")
        code = reply["error_code"]
        self.stats.call(label, "ok" if code == CODE_OK else f"error_{code}", request_id)
        return reply

    def _dispatch(self, body: dict[str, Any] | None, name: object, endpoint: str) -> Reply:
        if body is None:
            return _reply(CODE_MALFORMED, "Yêu cầu không phải đối tượng JSON hợp lệ")
        if not self.sessions.valid(body.get("session")):
            return _reply(CODE_SESSION, MSG_SESSION)
        madonvi = body.get("madonvi")
        if not isinstance(madonvi, str) or madonvi not in self.agencies:
            return _reply(CODE_UNKNOWN_UNIT, f"Mã đơn vị '{madonvi}' không tồn tại hoặc chưa được cấp quyền kết nối")
        served = self._services.get(name) if isinstance(name, str) else None
        if served is None or served[0] != endpoint:
            return _reply(CODE_MALFORMED, f"Dịch vụ '{name}' không được hỗ trợ tại điểm kết nối này")
        return served[1](body, madonvi)

    def _dong_bo(self, body: dict[str, Any], madonvi: str) -> Reply:
        is_updating = body.get("isUpdating")
        data = body.get("data")
        if is_updating not in ("True", "False"):
            return _reply(CODE_MALFORMED, "Tham số isUpdating phải là chuỗi 'True' hoặc 'False'")
        if not isinstance(data, list) or not data:
            return _reply(CODE_MALFORMED, "Tham số data phải là danh sách hồ sơ")
        if len(data) > MAX_DOSSIERS_PER_CALL:
            return _reply(
                CODE_MALFORMED,
                f"Số lượng hồ sơ ({len(data)}) vượt quá giới hạn {MAX_DOSSIERS_PER_CALL} hồ sơ mỗi lần gọi",
            )
        valid: list[NewDossier] = []
        for record in data:
            try:
                submitted = validate_dossier(record, self.catalogue)
            except Rejection as rejection:
                self.stats.records("DongBoHoSoMC", Counter(invalid=1))
                return _reply(CODE_REFUSED, f"Hồ sơ {_key(record)}: {rejection.message}")
            valid.append(NewDossier(_key(record), record, submitted))
        reply, outcomes = self._store_dossiers(valid, madonvi, updating=is_updating == "True")
        self.stats.records("DongBoHoSoMC", outcomes)
        return reply

    def _store_dossiers(self, valid: list[NewDossier], madonvi: str, *, updating: bool) -> tuple[Reply, Counter[str]]:
        """All or nothing: a create of a held dossier or an update of an unknown one refuses the call."""
        outcomes: Counter[str] = Counter()
        with self.store.db.transaction() as conn:
            held = self.store.existing_bodies(conn, (d.ma_ho_so for d in valid))
            for dossier in valid:
                key = dossier.ma_ho_so
                if not updating and key in held:
                    outcomes["duplicate"] += 1
                    return _reply(CODE_EXISTS, f"Hồ sơ {key} đã tồn tại trên hệ thống"), outcomes
                if updating and key not in held:
                    outcomes["not_found"] += 1
                    return _reply(CODE_NOT_FOUND, f"Không tìm thấy hồ sơ {key} để cập nhật"), outcomes
            latest = {d.ma_ho_so: d for d in valid}  # the last of repeated numbers wins, as in sequence
            inserts = [d for d in latest.values() if d.ma_ho_so not in held]
            updates = [d for d in latest.values() if d.ma_ho_so in held and held[d.ma_ho_so] != d.body]
            outcomes.update(
                stored=len(inserts), updated=len(updates), unchanged=len(latest) - len(inserts) - len(updates)
            )
            now = _now()
            if inserts:
                self.store.insert(conn, madonvi, inserts, now)
            if updates:
                self.store.update(conn, updates, now)
        verb = "Cập nhật" if updating else "Thêm mới"
        return _reply(CODE_OK, f"{verb} {len(valid)} hồ sơ thành công"), outcomes

    def _tien_do(self, body: dict[str, Any], madonvi: str) -> Reply:
        data = body.get("data")
        if not isinstance(data, list) or not data:
            return _reply(CODE_MALFORMED, "Tham số data phải là danh sách tiến độ xử lý")
        if len(data) > MAX_PROGRESS_PER_CALL:
            return _reply(
                CODE_MALFORMED,
                f"Số lượng bản ghi tiến độ ({len(data)}) vượt quá giới hạn {MAX_PROGRESS_PER_CALL} mỗi lần gọi",
            )
        for entry in data:
            try:
                validate_progress(entry)
            except Rejection as rejection:
                self.stats.records("CapNhatTienDoHoSoMC", Counter(invalid=1))
                return _reply(CODE_REFUSED, f"Hồ sơ {_key(entry)}: {rejection.message}")
        outcomes: Counter[str] = Counter()
        with self.store.db.transaction() as conn:
            known = self.store.existing_bodies(conn, (e["MaHoSo"] for e in data))
            unknown = next((e["MaHoSo"] for e in data if e["MaHoSo"] not in known), None)
            if unknown is not None:
                self.stats.records("CapNhatTienDoHoSoMC", Counter(not_found=1))
                return _reply(CODE_NOT_FOUND, f"Không tìm thấy hồ sơ {unknown}")
            hashed = [(e, entry_hash(e)) for e in data]
            seen = self.store.existing_progress(conn, ((e["MaHoSo"], h) for e, h in hashed))
            rows: list[tuple[str, str, str, str]] = []
            for entry, digest in hashed:
                if (entry["MaHoSo"], digest) in seen:
                    outcomes["duplicate"] += 1
                    continue
                seen.add((entry["MaHoSo"], digest))
                rows.append((entry["MaHoSo"], digest, entry["ThoiDiemXuLy"], canonical_json(entry)))
                outcomes["stored"] += 1
            if rows:
                self.store.insert_progress(conn, rows, _now())
        self.stats.records("CapNhatTienDoHoSoMC", outcomes)
        return _reply(CODE_OK, f"Cập nhật {len(data)} bản ghi tiến độ xử lý thành công")

    def _tra_cuu(self, body: dict[str, Any], madonvi: str) -> Reply:
        key = body.get("mahoso")
        if not isinstance(key, str) or not key:
            return _reply(CODE_MALFORMED, "Thiếu tham số mahoso")
        found = self.store.get(key)
        return _reply(CODE_OK, "Tra cứu hồ sơ thành công", result=[] if found is None else [found[0]])

    def _thu_tuc(self, body: dict[str, Any], madonvi: str) -> Reply:
        code = body.get("maTTHC")
        if not isinstance(code, str) or not code:
            return _reply(CODE_MALFORMED, "Thiếu tham số maTTHC")
        return _reply(CODE_OK, "Thành công", result=self.catalogue.procedure(code, _today()))

    def _danh_sach_thu_tuc(self, body: dict[str, Any], madonvi: str) -> Reply:
        return _reply(CODE_OK, "Thành công", result=self.catalogue.procedures(_today()))

    def _co_quan(self, body: dict[str, Any], madonvi: str) -> Reply:
        return _reply(CODE_OK, "Thành công", result=self.catalogue.agencies(_today()))


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None
