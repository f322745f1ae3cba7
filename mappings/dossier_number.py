"""Dossier numbers ``{agency code}-{YYMMDD}-{NNNN}`` (Circular 01/2018/TT-VPCP art. 19).

The agency code follows QCVN 102:2016 (``000.00.12.H26``); the sequence is per agency and
restarts every day, so an agency can issue at most 9999 numbers a day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

MAX_SEQ = 9999
AGENCY_CODE = re.compile(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}")
_YYMMDD = re.compile(r"[0-9]{6}")
_SEQ = re.compile(r"[0-9]{4}")


class DossierNumberError(ValueError):
    """Why a string is not a dossier number; ``reason`` is one of ``separators``,
    ``agency_code``, ``date``, ``sequence``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SequenceExhaustedError(RuntimeError):
    """An agency has used all 9999 numbers of a day; a wrap-around would duplicate numbers."""


def _check_agency(agency: str) -> None:
    if not AGENCY_CODE.fullmatch(agency):
        raise DossierNumberError("agency_code", f"mã cơ quan '{agency}' không đúng dạng QCVN 102:2016 (NNN.NN.NN.Hxx)")


def _check_day(day: date) -> None:
    if not 2000 <= day.year <= 2099:
        raise DossierNumberError("date", f"năm {day.year} không biểu diễn được bằng YY (2000-2099)")


def _check_seq(seq: int) -> None:
    if not 1 <= seq <= MAX_SEQ:
        raise DossierNumberError("sequence", f"số thứ tự {seq} ngoài khoảng 0001-{MAX_SEQ}")


@dataclass(frozen=True, slots=True)
class DossierNumber:
    agency: str
    day: date
    seq: int

    def __post_init__(self) -> None:
        _check_agency(self.agency)
        _check_day(self.day)
        _check_seq(self.seq)

    def format(self) -> str:
        return f"{self.agency}-{self.day:%y%m%d}-{self.seq:04d}"

    def __str__(self) -> str:
        return self.format()


def parse_dossier_number(s: str) -> DossierNumber:
    """Parse and validate the format; raises :class:`DossierNumberError` naming what is wrong."""
    parts = s.split("-")
    if len(parts) != 3:
        raise DossierNumberError(
            "separators", f"'{s}' không có dạng {{mã cơ quan}}-{{YYMMDD}}-{{NNNN}} (ngăn cách bằng '-')"
        )
    agency, yymmdd, seq = parts
    _check_agency(agency)
    if not _YYMMDD.fullmatch(yymmdd):
        raise DossierNumberError("date", f"phần ngày '{yymmdd}' phải gồm đúng 6 chữ số YYMMDD")
    try:
        day = date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))
    except ValueError:
        raise DossierNumberError("date", f"ngày '{yymmdd}' (YYMMDD) không tồn tại") from None
    if not _SEQ.fullmatch(seq):
        raise DossierNumberError("sequence", f"số thứ tự '{seq}' phải gồm đúng 4 chữ số")
    if seq == "0000":
        raise DossierNumberError("sequence", "số thứ tự 0000 không hợp lệ, bắt đầu từ 0001")
    return DossierNumber(agency, day, int(seq))


def is_valid_dossier_number(s: str) -> bool:
    try:
        parse_dossier_number(s)
    except ValueError:
        return False
    return True


class DossierNumberAllocator:
    """Issues one agency's numbers for one day; ``last_seq`` resumes after a restart."""

    def __init__(self, agency: str, day: date, last_seq: int = 0) -> None:
        _check_agency(agency)
        _check_day(day)
        if not 0 <= last_seq <= MAX_SEQ:
            raise ValueError(f"last_seq must be in 0..{MAX_SEQ}, got {last_seq}")
        self.agency = agency
        self.day = day
        self.last_seq = last_seq

    def next(self) -> DossierNumber:
        if self.last_seq >= MAX_SEQ:
            raise SequenceExhaustedError(
                f"{self.agency} has issued all {MAX_SEQ} dossier numbers for {self.day.isoformat()}"
            )
        self.last_seq += 1
        return DossierNumber(self.agency, self.day, self.last_seq)
