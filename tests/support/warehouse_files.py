"""Read every file of an Iceberg warehouse as the bytes a reader could find in it, and the
personal values of source records to look for there.

Parquet data is compressed and Avro manifests are deflated, so searching the raw bytes would find
nothing whatever they held: Parquet files are read back (every value as text, and the file's
key-value metadata), Avro files' blocks are inflated, metadata JSON is read as it is.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

# Fields that identify a person, in the city's records (docs/interfaces.md section 1) and the
# portal's (section 2).
PERSONAL_FIELDS = {
    "ho_ten",
    "so_giay_to",
    "dien_thoai",
    "email",
    "ngay_sinh",
    "dia_chi",
    "so",  # dinh_danh[].so: an identifier's number
    "ma_tai_khoan_dvcqg",
    "ChuHoSo",
    "SoGiayToChuHoSo",
    "SoDienThoai",
    "Email",
    "MaDoiTuong",
    "SoDinhDanh",
    "DiaChi",
}


def personal_values(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every non-empty value of a personal field anywhere in ``records`` (nested included)."""
    found: set[str] = set()

    def walk(value: Any, key: str | None) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif key in PERSONAL_FIELDS and isinstance(value, str) and value.strip():
            found.add(value)

    for record in records:
        walk(record, None)
    return found


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """An Avro long (zig-zag varint) at ``at``: its value and the offset after it."""
    shift = result = 0
    while True:
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), at


def avro_bytes(data: bytes) -> bytes:
    """An Avro container file's header and its blocks, inflated (codec null or deflate)."""
    assert data[:4] == b"Obj\x01", "not an Avro container file"
    at, meta = 4, {}
    while True:  # the header's metadata map, in blocks
        count, at = _varint(data, at)
        if count == 0:
            break
        if count < 0:
            count = -count
            _, at = _varint(data, at)
        for _ in range(count):
            size, at = _varint(data, at)
            key = data[at : at + size].decode()
            at += size
            size, at = _varint(data, at)
            meta[key] = data[at : at + size]
            at += size
    sync, at = data[at : at + 16], at + 16
    codec = meta.get("avro.codec", b"null")
    assert codec in (b"null", b"deflate"), f"Avro codec {codec!r} not read here"
    parts = [data[:at]]
    while at < len(data):
        _, at = _varint(data, at)  # objects in the block
        size, at = _varint(data, at)
        block = data[at : at + size]
        parts.append(zlib.decompress(block, -15) if codec == b"deflate" else block)
        at += size
        assert data[at : at + 16] == sync, "Avro block not followed by the file's sync marker"
        at += 16
    return b"".join(parts)


def parquet_bytes(path: Path) -> bytes:
    """Every value of a Parquet file as UTF-8 text, with its key-value metadata."""
    parquet = pq.ParquetFile(path)
    texts = [repr(parquet.schema_arrow.metadata or {})]
    table = parquet.read()
    texts += [str(value) for column in table.columns for value in column.to_pylist()]
    return "\n".join(texts).encode()


def warehouse_files(root: Path) -> Iterator[tuple[Path, bytes]]:
    """Each file under ``root`` and what a reader finds in it; the catalog's own database included."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            yield path, parquet_bytes(path)
        elif path.suffix == ".avro":
            yield path, avro_bytes(path.read_bytes())
        else:  # metadata JSON, the SQL catalog's SQLite file
            yield path, path.read_bytes()


def personal_data_found(root: Path, values: Iterable[str]) -> dict[str, list[str]]:
    """Which of ``values`` each file under ``root`` holds (files holding none left out)."""
    needles = {v: v.encode() for v in values}
    found = {}
    for path, content in warehouse_files(root):
        hits = sorted(v for v, needle in needles.items() if needle in content)
        if hits:
            found[str(path.relative_to(root))] = hits
    return found
