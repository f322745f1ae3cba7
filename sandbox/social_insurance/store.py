"""What the social-insurance simulator holds: the households of the city's citizen applicants.

Every citizen applicant of a generated city day (``sandbox.population_db.registry.applicants_of``:
same day, scale and seed as the city simulator, NFC name, sex and birth date as the population
register holds them) is an insured person with a social-insurance number, heading a household of
one to four people; the other members are drawn from the city generator's people module, seeded
by the applicant's ID. So a dossier the hub stages can be looked up here by its applicant, and the
three simulators agree on who that applicant is.

Members are kept in the insurer's own terms (docs/interfaces.md 7.4, public guide QB ``apiBHXH``):
camelCase, ``ngaySinh`` as ``yyyyMMdd`` -- or ``yyyy`` / ``yyyyMM`` with ``loaiNgaySinh`` 1 / 2 for
people whose exact date is unknown (one household member in twenty here) -- and ``gioiTinh`` 1 male,
2 female, 3 other (one in a hundred members here), ``maTinhKs`` / ``maHuyenKs`` / ``maXaKs`` the
statistics office's codes of the place of birth registration.

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

__all__ = ["SocialInsuranceStore", "birth_fields", "insurance_number", "name_key"]

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


def insurance_number(citizen_id: str) -> str:
    """The social-insurance number of a citizen ID: province ``01`` (Hanoi) + 8 hashed digits."""
    return f"01{zlib.crc32(f'bhxh:{citizen_id}'.encode()) % 10**8:08d}"


def name_key(name: str) -> str:
    """How names are compared: NFC (inputs arrive in NFC and NFD), case and spacing folded."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def birth_fields(birth: date, kind: str) -> dict[str, str]:
    """``ngaySinh`` and ``loaiNgaySinh`` as the insurer writes them: 0 full date, 1 year, 2 year and month."""
    text = {"0": f"{birth:%Y%m%d}", "1": f"{birth:%Y}", "2": f"{birth:%Y%m}"}[kind]
    return {"ngaySinh": text, "loaiNgaySinh": kind}


def _member(citizen_id: str, name: str, sex: str, birth: date, head: bool) -> dict[str, Any]:
    roll = zlib.crc32(f"bhxh-member:{citizen_id}".encode()) % 100
    kind = "0" if head or roll >= 5 else ("1" if roll < 3 else "2")  # the applicant's own date is known
    gender = "3" if not head and roll == 99 else ("1" if sex == "male" else "2")
    return {
        "maSoBhxh": insurance_number(citizen_id),
        "hoTen": name,
        "soSoCu": "",
        **birth_fields(birth, kind),
        "gioiTinh": gender,
        "maTinhKs": citizen_id[1:3],
        "maHuyenKs": "",
        "maXaKs": "",
        "trangThai": "1",
        "soDinhDanh": citizen_id,
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
            members = [_member(applicant.citizen_id, applicant.name, applicant.sex, applicant.birth_date, True)]
            for _ in range(rng.randint(0, 3)):
                person = make_person(rng, day, self._provinces, nfd_share=0.0)
                members.append(
                    _member(person.citizen_id, person.name, person.sex, birth_date_for(person.citizen_id), False)
                )
            code = f"HGD{members[0]['maSoBhxh']}"
            households.append((code, json.dumps(members, ensure_ascii=False)))
            insured += [
                (
                    m["maSoBhxh"],
                    code,
                    name_key(m["hoTen"]),
                    m["soDinhDanh"],
                    m["ngaySinh"],
                    json.dumps(m, ensure_ascii=False),
                )
                for m in members
            ]
        conn.executemany("INSERT OR IGNORE INTO households VALUES (?,?)", households)
        conn.executemany("INSERT OR IGNORE INTO insured VALUES (?,?,?,?,?,?)", insured)
        return len(households)

    def household(self, number: str) -> list[dict[str, Any]] | None:
        """The members of an insured person's household (as the insurer answers them), or None."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT h.body FROM insured i JOIN households h ON h.ma_ho = i.household WHERE i.ma_so_bhxh=?",
                (number,),
            ).fetchone()
        if row is None:
            return None
        return [
            {k: v for k, v in member.items() if k not in ("maSoBhxh", "soDinhDanh")} for member in json.loads(row[0])
        ]

    def find(self, name: str, birth: str, gender: str) -> list[dict[str, Any]]:
        """Insured people with this name (compared by :func:`name_key`), birth date text and sex;
        a year-only or year-and-month date matches the full dates it contains."""
        clauses = ["name_key = ?", "substr(ngay_sinh, 1, ?) = ?", "json_extract(body, '$.gioiTinh') = ?"]
        params: list[Any] = [name_key(name), len(birth), birth, gender]
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
