"""What the social-insurance simulator holds: the households of the city's citizen applicants.

Every citizen applicant of a generated city day (``sandbox.population_db.registry.applicants_of``:
same day, scale and seed as the city simulator, NFC name, sex and birth date as the population
register holds them) is an insured person with a social-insurance number, heading a household of
one to four people; the other members are drawn from the city generator's people module, seeded
by the applicant's ID. So a dossier the hub stages can be looked up here by its applicant, and the
three simulators agree on who that applicant is.

ASSUMPTION: the social-insurance number is derived from the citizen ID (a hash; real numbers are
issued by the insurer and unrelated to the ID) -- it only has to be stable and 10 digits.
"""

from __future__ import annotations

import json
import random
import sqlite3
import unicodedata
import zlib
from datetime import date
from pathlib import Path
from typing import Any

from sandbox.city_system.people import make_person
from sandbox.ministry_dossiers import LOADED_DAYS_SCHEMA, load_days
from sandbox.population_db.registry import applicants_of, birth_date_for
from sandbox.sqlite_store import SqliteDatabase
from sandbox.tables import tables

__all__ = ["SocialInsuranceStore", "insurance_number", "name_key"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS insured (
    ma_so_bhxh   TEXT PRIMARY KEY,
    household    TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    so_dinh_danh TEXT,
    ngay_sinh    TEXT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_insured_name ON insured (name_key, ngay_sinh);
CREATE TABLE IF NOT EXISTS households (
    ma_ho TEXT PRIMARY KEY,
    body  TEXT NOT NULL
)
"""

_STREETS = ("Nguyễn Chí Thanh", "Đội Cấn", "Minh Khai", "Lạc Long Quân", "Trường Chinh", "Phạm Văn Đồng")
_RELATIONS = ("Vợ", "Chồng", "Con", "Con", "Mẹ", "Bố")


def insurance_number(citizen_id: str) -> str:
    """The social-insurance number of a citizen ID: province ``01`` (Hanoi) + 8 hashed digits."""
    return f"01{zlib.crc32(f'bhxh:{citizen_id}'.encode()) % 10**8:08d}"


def name_key(name: str) -> str:
    """How names are compared: NFC (inputs arrive in NFC and NFD), case and spacing folded."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _member(citizen_id: str, name: str, sex: str, birth: date, relation: str) -> dict[str, Any]:
    return {
        "MaSoBhxh": insurance_number(citizen_id),
        "HoVaTen": name,
        "NgaySinh": birth.isoformat(),
        "GioiTinh": 1 if sex == "male" else 2,
        "SoDinhDanh": citizen_id,
        "QuanHeVoiChuHo": relation,
    }


class SocialInsuranceStore:
    """SQLite-backed households and insured people of the simulator."""

    def __init__(self, path: str | Path) -> None:
        self.db = SqliteDatabase(path, f"{SCHEMA};{LOADED_DAYS_SCHEMA}")
        self._provinces = sorted(tables().provinces.valid_codes(date.today()))

    def load_days(self, first: date, last: date, scale: float, seed: int) -> int:
        """Households of the citizen applicants of every day in ``[first, last]`` not held yet."""
        return load_days(self.db, first, last, scale, seed, self._write_day)

    def _write_day(self, conn: sqlite3.Connection, day: date, scale: float, seed: int) -> int:
        households, insured = [], []
        for applicant in applicants_of(day, scale, seed):
            rng = random.Random(f"bhxh-household:{applicant.citizen_id}")
            members = [_member(applicant.citizen_id, applicant.name, applicant.sex, applicant.birth_date, "Chủ hộ")]
            for _ in range(rng.randint(0, 3)):
                person = make_person(rng, day, self._provinces, nfd_share=0.0)
                relation = rng.choice(_RELATIONS)
                members.append(
                    _member(person.citizen_id, person.name, person.sex, birth_date_for(person.citizen_id), relation)
                )
            code = f"HGD{members[0]['MaSoBhxh']}"
            household = {
                "MaHoGiaDinh": code,
                "TenChuHo": applicant.name,
                "DiaChi": f"Số {rng.randint(1, 300)} {rng.choice(_STREETS)}, Hà Nội",
                "MaTinh": "01",
                "ThanhVien": members,
            }
            households.append((code, json.dumps(household, ensure_ascii=False)))
            insured += [
                (m["MaSoBhxh"], code, name_key(m["HoVaTen"]), m["SoDinhDanh"], m["NgaySinh"], json.dumps(m))
                for m in members
            ]
        conn.executemany("INSERT OR IGNORE INTO households VALUES (?,?)", households)
        conn.executemany("INSERT OR IGNORE INTO insured VALUES (?,?,?,?,?,?)", insured)
        return len(households)

    def household(self, number: str) -> dict[str, Any] | None:
        """The household of an insured person, or None."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT h.body FROM insured i JOIN households h ON h.ma_ho = i.household WHERE i.ma_so_bhxh=?",
                (number,),
            ).fetchone()
        return json.loads(row[0]) if row is not None else None

    def find(self, name: str, birth: date | None, citizen_id: str | None) -> list[dict[str, Any]]:
        """Insured people with this name (compared by :func:`name_key`) and the given birth date / ID."""
        clauses, params = ["name_key = ?"], [name_key(name)]
        if birth is not None:
            clauses.append("ngay_sinh = ?")
            params.append(birth.isoformat())
        if citizen_id is not None:
            clauses.append("so_dinh_danh = ?")
            params.append(citizen_id)
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT body FROM insured WHERE {' AND '.join(clauses)} ORDER BY ma_so_bhxh LIMIT 50", params
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def any_numbers(self, limit: int) -> list[str]:
        """Some insured numbers, heads of household first (tests and the demo pick people with it)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT ma_so_bhxh FROM insured WHERE 'HGD' || ma_so_bhxh = household ORDER BY ma_so_bhxh LIMIT ?",
                (limit,),
            ).fetchall()
        return [number for (number,) in rows]
