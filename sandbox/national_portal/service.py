"""The business side of the portal simulator: what each LGSP service does with a request body.

Kept apart from the HTTP layer (``app.py``) so the rules (session, ``madonvi``, limits, per-record
codes, idempotent storage) read in one place and run in a worker thread, away from the event loop
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

__all__ = ["MAX_DOSSIERS_PER_CALL", "MAX_PROGRESS_PER_CALL", "PortalService"]

log = logging.getLogger(__name__)

VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
MAX_DOSSIERS_PER_CALL = 1000
MAX_PROGRESS_PER_CALL = 10

CODE_OK = 0
CODE_EXISTS = 2
CODE_SESSION = 100
CODE_UNKNOWN_UNIT = 106
CODE_NOT_FOUND = 201
CODE_MALFORMED = 300
CODE_INTERNAL = 500

MSG_SESSION = "Phiên làm việc không hợp lệ hoặc đã hết hạn, vui lòng đăng nhập lại"

Reply = dict[str, Any]


def _reply(code: int, message: str, **extra: Any) -> Reply:
    return {"error_code": code, "message": message, **extra}


def _now() -> str:
    return datetime.now(VN_TZ).isoformat(timespec="seconds")


def _catalogue_day(body: dict[str, Any]) -> date:
    """Day the catalogue is asked for: ``NgayHieuLuc`` (yyyyMMdd[HHmmss]) if given, else today in Hanoi."""
    value = body.get("NgayHieuLuc")
    if value in (None, ""):
        return datetime.now(VN_TZ).date()
    if not isinstance(value, str) or len(value) not in (8, 14) or not value.isdigit():
        raise ValueError("Tham số NgayHieuLuc phải có dạng yyyyMMdd hoặc yyyyMMddHHmmss")
    return datetime.strptime(value[:8], "%Y%m%d").date()


class PortalService:
    """Answers ``/auth`` and ``/service`` bodies; owns the rules of docs/interfaces.md section 2."""

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
        self._services: dict[str, Callable[[dict[str, Any], str], Reply]] = {
            "DongBoHoSoMC": self._dong_bo,
            "CapNhatTienDoHoSoMC": self._tien_do,
            "TraCuuHoSo": self._tra_cuu,
            "LayDanhSachTTHC": self._thu_tuc,
            "LayThuTuc": self._thu_tuc,
            "LayDanhMucCoQuan": self._co_quan,
        }

    # -- /auth -------------------------------------------------------------------------------------

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
        ttl = self.sessions.ttl_s()
        return {"error_code": CODE_OK, "message": "Đăng nhập thành công", "session": token, "expires_in": int(ttl)}

    # -- /service ----------------------------------------------------------------------------------

    def service(self, raw: bytes) -> Reply:
        body = _parse(raw)
        name = body.get("service") if isinstance(body, dict) else None
        label = name if isinstance(name, str) and name in self._services else "unknown"
        try:
            reply = self._dispatch(body, name)
        except Exception as exc:  # the contract promises an error_code, even for our own bugs
            log.exception("portal simulator failed on %s", label)
            reply = _reply(CODE_INTERNAL, f"Lỗi hệ thống: {type(exc).__name__}")
        code = reply["error_code"]
        self.stats.call(label, "ok" if code == CODE_OK else f"error_{code}")
        return reply

    def _dispatch(self, body: dict[str, Any] | None, name: object) -> Reply:
        if body is None:
            return _reply(CODE_MALFORMED, "Yêu cầu không phải đối tượng JSON hợp lệ")
        if not self.sessions.valid(body.get("session")):
            return _reply(CODE_SESSION, MSG_SESSION)
        madonvi = body.get("madonvi")
        if not isinstance(madonvi, str) or madonvi not in self.agencies:
            return _reply(CODE_UNKNOWN_UNIT, f"Mã đơn vị '{madonvi}' không tồn tại hoặc chưa được cấp quyền kết nối")
        handler = self._services.get(name) if isinstance(name, str) else None
        if handler is None:
            return _reply(CODE_MALFORMED, f"Dịch vụ '{name}' không được hỗ trợ")
        return handler(body, madonvi)

    def _dong_bo(self, body: dict[str, Any], madonvi: str) -> Reply:
        is_updating = body.get("isUpdating")
        data = body.get("data")
        if not isinstance(is_updating, bool):
            return _reply(CODE_MALFORMED, "Tham số isUpdating phải là true hoặc false")
        if not isinstance(data, list):
            return _reply(CODE_MALFORMED, "Tham số data phải là danh sách hồ sơ")
        if len(data) > MAX_DOSSIERS_PER_CALL:
            return _reply(
                CODE_MALFORMED,
                f"Số lượng hồ sơ ({len(data)}) vượt quá giới hạn {MAX_DOSSIERS_PER_CALL} hồ sơ mỗi lần gọi",
            )
        results: list[dict[str, Any] | None] = [None] * len(data)
        outcomes: Counter[str] = Counter()
        valid: list[tuple[int, NewDossier]] = []
        for i, record in enumerate(data):
            key = record.get("MaHoSo") if isinstance(record, dict) else None
            key = key if isinstance(key, str) else ""
            try:
                submitted = validate_dossier(record, self.catalogue)
            except Rejection as rejection:
                outcomes["invalid" if rejection.code == 3 else "unknown_procedure"] += 1
                results[i] = {"MaHoSo": key, "error_code": rejection.code, "message": rejection.message}
                continue
            valid.append((i, NewDossier(key, record, submitted)))

        now = _now()
        with self.store.db.transaction() as conn:
            held = self.store.existing_bodies(conn, (d.ma_ho_so for _, d in valid))
            inserts: list[NewDossier] = []
            updates: list[NewDossier] = []
            for i, dossier in valid:
                key, text = dossier.ma_ho_so, dossier.body
                current = held.get(key)
                if not is_updating:
                    if current is not None:
                        outcomes["duplicate"] += 1
                        results[i] = _rec(key, CODE_EXISTS, f"Hồ sơ {key} đã tồn tại trên hệ thống")
                        continue
                    inserts.append(dossier)
                    held[key] = text
                    outcomes["stored"] += 1
                    results[i] = _rec(key, CODE_OK, "Thêm mới hồ sơ thành công")
                elif current is None:
                    outcomes["not_found"] += 1
                    results[i] = _rec(key, CODE_NOT_FOUND, f"Không tìm thấy hồ sơ {key} để cập nhật")
                elif current == text:
                    outcomes["unchanged"] += 1
                    results[i] = _rec(key, CODE_OK, "Cập nhật hồ sơ thành công (không có thay đổi)")
                else:
                    updates.append(dossier)
                    held[key] = text
                    outcomes["updated"] += 1
                    results[i] = _rec(key, CODE_OK, "Cập nhật hồ sơ thành công")
            if inserts:
                self.store.insert(conn, madonvi, inserts, now)
            if updates:
                self.store.update(conn, updates, now)
        self.stats.records("DongBoHoSoMC", outcomes)
        ok = sum(1 for r in results if r is not None and r["error_code"] == CODE_OK)
        return _reply(CODE_OK, f"Đã xử lý {len(data)} hồ sơ, thành công {ok}", result=results)

    def _tien_do(self, body: dict[str, Any], madonvi: str) -> Reply:
        data = body.get("data")
        if not isinstance(data, list):
            return _reply(CODE_MALFORMED, "Tham số data phải là danh sách tiến độ xử lý")
        if len(data) > MAX_PROGRESS_PER_CALL:
            return _reply(
                CODE_MALFORMED,
                f"Số lượng bản ghi tiến độ ({len(data)}) vượt quá giới hạn {MAX_PROGRESS_PER_CALL} mỗi lần gọi",
            )
        results: list[dict[str, Any] | None] = [None] * len(data)
        outcomes: Counter[str] = Counter()
        valid: list[tuple[int, dict[str, Any]]] = []
        for i, entry in enumerate(data):
            key = entry.get("MaHoSo") if isinstance(entry, dict) else None
            key = key if isinstance(key, str) else ""
            try:
                validate_progress(entry)
            except Rejection as rejection:
                outcomes["invalid"] += 1
                results[i] = _rec(key, rejection.code, rejection.message)
                continue
            valid.append((i, entry))
        now = _now()
        with self.store.db.transaction() as conn:
            known = self.store.existing_bodies(conn, (e["MaHoSo"] for _, e in valid))
            hashed = [(i, e, entry_hash(e)) for i, e in valid if e["MaHoSo"] in known]
            seen = self.store.existing_progress(conn, ((e["MaHoSo"], h) for _, e, h in hashed))
            rows: list[tuple[str, str, str, str]] = []
            for i, entry in valid:
                key = entry["MaHoSo"]
                if key not in known:
                    outcomes["not_found"] += 1
                    results[i] = _rec(key, CODE_NOT_FOUND, f"Không tìm thấy hồ sơ {key}")
            for i, entry, digest in hashed:
                key = entry["MaHoSo"]
                if (key, digest) in seen:
                    outcomes["duplicate"] += 1
                    results[i] = _rec(key, CODE_OK, "Tiến độ đã được ghi nhận trước đó")
                    continue
                seen.add((key, digest))
                rows.append((key, digest, entry["ThoiDiemXuLy"], canonical_json(entry)))
                outcomes["stored"] += 1
                results[i] = _rec(key, CODE_OK, "Cập nhật tiến độ xử lý thành công")
            if rows:
                self.store.insert_progress(conn, rows, now)
        self.stats.records("CapNhatTienDoHoSoMC", outcomes)
        return _reply(CODE_OK, f"Đã xử lý {len(data)} bản ghi tiến độ", result=results)

    def _tra_cuu(self, body: dict[str, Any], madonvi: str) -> Reply:
        key = body.get("MaHoSo")
        if not isinstance(key, str) or not key:
            return _reply(CODE_MALFORMED, "Thiếu tham số MaHoSo")
        found = self.store.get(key)
        if found is None:
            return _reply(CODE_NOT_FOUND, f"Không tìm thấy hồ sơ {key}")
        record, progress = found
        return _reply(CODE_OK, "Tra cứu hồ sơ thành công", result=record, progress=progress)

    def _thu_tuc(self, body: dict[str, Any], madonvi: str) -> Reply:
        try:
            day = _catalogue_day(body)
        except ValueError as exc:
            return _reply(CODE_MALFORMED, str(exc))
        return _reply(CODE_OK, "Thành công", result=self.catalogue.procedures(day))

    def _co_quan(self, body: dict[str, Any], madonvi: str) -> Reply:
        try:
            day = _catalogue_day(body)
        except ValueError as exc:
            return _reply(CODE_MALFORMED, str(exc))
        return _reply(CODE_OK, "Thành công", result=self.catalogue.agencies(day))


def _rec(key: str, code: int, message: str) -> dict[str, Any]:
    return {"MaHoSo": key, "error_code": code, "message": message}


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None
