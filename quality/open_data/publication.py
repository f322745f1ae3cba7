"""The month's open datasets as files and a DCAT description: what the city data portal receives.

Each table becomes a CSV file (UTF-8, header row, ``<5`` for a hidden count) and all of them one
JSON document; the dataset (a CKAN package) carries its DCAT description twice: as the package's
own fields, named as ckanext-dcat's DCAT-AP schemas name them (``temporal_coverage``,
``spatial_coverage``, ``publisher``, ``frequency``, ``conforms_to``, ``issued``/``modified``,
``language``; docs/interfaces.md 12.2), and as a DCAT-AP style JSON-LD file among its resources,
so a catalogue that does not run ckanext-dcat still gets it.
"""

from __future__ import annotations

import csv
import io
import json
from calendar import monthrange
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.city_data_portal.client import UploadFile
from quality.open_data.datasets import MonthDatasets
from quality.open_data.suppression import RULE_EN, RULE_VI, SUPPRESSED

PUBLISHER = "Ủy ban nhân dân Thành phố Hà Nội"
PUBLISHER_URL = "https://hanoi.gov.vn"
# GeoNames' feature for Hà Nội (the capital, first-order administrative division). ASSUMPTION: the
# city portal may prefer its own gazetteer URI; docs/interfaces.md 12.2.
HANOI_URI = "https://sws.geonames.org/1581130/"
MONTHLY = "http://publications.europa.eu/resource/authority/frequency/MONTHLY"
LICENSE_ID = "cc-by"  # CKAN's default licence list id for Creative Commons Attribution
DCAT_AP = "http://data.europa.eu/r5r/"  # DCAT-AP's namespace, what a description "conforms to"
DECISION_766 = "https://vanban.chinhphu.vn/?pageid=27160&docid=206004"  # Quyết định 766/QĐ-TTg (2022)
CSV_TYPE, JSON_TYPE, JSONLD_TYPE = "text/csv", "application/json", "application/ld+json"


@dataclass(frozen=True)
class Publication:
    """A month ready to publish: the package's fields and its files."""

    package: dict[str, Any]
    files: tuple[UploadFile, ...]
    rows: int
    cells_suppressed: int

    @property
    def name(self) -> str:
        return str(self.package["name"])


def package_name(month: str) -> str:
    """The dataset's name on the portal (CKAN: 2-100 of ``a-z0-9-_``): one per month."""
    return f"ho-so-tthc-ha-noi-{month}"


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({c: ("" if row.get(c) is None else row[c]) for c in columns} for row in rows)
    return out.getvalue().encode("utf-8")


def _description(month: str) -> str:
    return (
        f"Số liệu mở hằng tháng ({month}) về hồ sơ thủ tục hành chính của Thành phố Hà Nội: số hồ sơ theo cơ quan, "
        "thủ tục và kênh tiếp nhận, tỷ lệ giải quyết đúng hạn và các chỉ số theo Quyết định 766/QĐ-TTg. "
        "Số liệu là số đếm tổng hợp, không chứa thông tin cá nhân.\n\n"
        f"Quy tắc ẩn ô nhỏ: {RULE_VI}\n\n"
        f"Monthly open data ({month}) on the City of Hanoi's administrative-procedure dossiers: counts by agency, "
        "procedure and channel, on-time rates and the Decision 766 indicators. Aggregate counts only, "
        f"no personal data.\n\nSmall-cell rule: {RULE_EN}"
    )


def build_publication(datasets: MonthDatasets, *, owner_org: str, modified: datetime) -> Publication:
    """The package fields and the files of ``datasets`` (``modified``: when its figures were made)."""
    month = datasets.month
    year, number = (int(part) for part in month.split("-"))
    files = [
        UploadFile(
            f"{table.name}.csv",
            f"{table.name}-{month}.csv",
            CSV_TYPE,
            "CSV",
            f"{table.title_vi} / {table.title_en}",
            _csv(table.columns, table.rows),
        )
        for table in datasets.tables
    ]
    document = {
        "month": month,
        "suppression_rule": {"vi": RULE_VI, "en": RULE_EN},
        "tables": {
            table.name: {"title_vi": table.title_vi, "title_en": table.title_en, "rows": table.rows}
            for table in datasets.tables
        },
    }
    files.append(
        UploadFile(
            "du-lieu.json",
            f"ho-so-tthc-ha-noi-{month}.json",
            JSON_TYPE,
            "JSON",
            "Toàn bộ các bảng trong một tệp JSON / All tables in one JSON file",
            json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"),
        )
    )
    package: dict[str, Any] = {
        "name": package_name(month),
        "title": f"Hồ sơ thủ tục hành chính Thành phố Hà Nội, tháng {number:02d}/{year}",
        "notes": _description(month),
        "owner_org": owner_org,
        "license_id": LICENSE_ID,
        "private": False,
        "language": ["vi"],
        "publisher": [
            {"name": PUBLISHER, "url": PUBLISHER_URL, "type": "http://purl.org/adms/publishertype/RegionalAuthority"}
        ],
        "temporal_coverage": [{"start": f"{month}-01", "end": _last_day(year, number)}],
        "spatial_coverage": [{"uri": HANOI_URI, "text": "Hà Nội"}],
        "frequency": MONTHLY,
        "conforms_to": [DCAT_AP, DECISION_766],
        "modified": modified.isoformat(timespec="seconds"),
    }
    files.append(_dcat_file(package, files))
    rows = sum(len(table.rows) for table in datasets.tables)
    # Cells the files show as "<5" (counts and the shares they would give away), each table once.
    hidden = sum(value == SUPPRESSED for table in datasets.tables for row in table.rows for value in row.values())
    return Publication(package, tuple(files), rows, hidden)


def _last_day(year: int, number: int) -> str:
    """The month's last day (ISO)."""
    return f"{year}-{number:02d}-{monthrange(year, number)[1]:02d}"


def _dcat_file(package: dict[str, Any], files: list[UploadFile]) -> UploadFile:
    """The package's description as DCAT-AP style JSON-LD (the distributions are the other files)."""
    (coverage,) = package["temporal_coverage"]
    (place,) = package["spatial_coverage"]
    (publisher,) = package["publisher"]
    description = {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@type": "dcat:Dataset",
        "dct:identifier": package["name"],
        "dct:title": {"@value": package["title"], "@language": "vi"},
        "dct:description": {"@value": package["notes"], "@language": "vi"},
        "dct:publisher": {
            "@type": "foaf:Organization",
            "foaf:name": publisher["name"],
            "foaf:homepage": publisher["url"],
        },
        "dct:temporal": {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": {"@value": coverage["start"], "@type": "xsd:date"},
            "dcat:endDate": {"@value": coverage["end"], "@type": "xsd:date"},
        },
        "dct:spatial": {"@id": place["uri"], "dct:title": place["text"]},
        "dct:license": "http://www.opendefinition.org/licenses/cc-by",
        "dct:accrualPeriodicity": {"@id": package["frequency"]},
        "dct:conformsTo": [{"@id": uri} for uri in package["conforms_to"]],
        "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/VIE"},
        "dct:modified": {"@value": package["modified"], "@type": "xsd:dateTime"},
        "dcat:distribution": [
            {
                "@type": "dcat:Distribution",
                "dct:title": file.name,
                "dct:description": file.description,
                "dcat:mediaType": f"https://www.iana.org/assignments/media-types/{file.media_type}",
                "dct:format": file.format,
                "dcat:byteSize": {"@value": str(len(file.content)), "@type": "xsd:nonNegativeInteger"},
            }
            for file in files
        ],
    }
    return UploadFile(
        "dcat.jsonld",
        f"{package['name']}.dcat.jsonld",
        JSONLD_TYPE,
        "JSON-LD",
        "Mô tả DCAT của bộ dữ liệu / The dataset's DCAT description",
        json.dumps(description, ensure_ascii=False, indent=1).encode("utf-8"),
    )
