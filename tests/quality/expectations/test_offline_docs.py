"""GX Data Docs read where only the partners are reachable: nothing fetched from another host, an
index that lists every suite and validation without JavaScript."""

from __future__ import annotations

import re
from pathlib import Path

from quality.expectations.offline_docs import ValidationEntry, make_offline, offline_page

GX_PAGE = """<html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<style>.navbar-brand { background: url('https://great-expectations-web-assets.s3.amazonaws.com/logo.png') 0 0; }</style>
<link rel="shortcut icon" href="./static/images/favicon.ico"/>
</head><body><img src="https://great-expectations-web-assets.s3.amazonaws.com/logo-long.png?d=1">
<table><tr><td>expect_column_values_to_not_be_null</td></tr></table>
<script>$('#table').bootstrapTable({data: []})</script></body></html>"""
FETCHED = re.compile(r"""(?:src|href)="https?://|url\(\s*['"]?https?://""")


def test_a_page_keeps_its_content_and_loses_everything_fetched_from_elsewhere() -> None:
    page = offline_page(GX_PAGE, "../static/styles/hub-offline.css")
    assert not FETCHED.search(page)
    assert "<script" not in page  # the inline ones drive jQuery, which cannot load
    assert "<td>expect_column_values_to_not_be_null</td>" in page
    assert 'href="./static/images/favicon.ico"' in page  # local assets stay
    assert '<link rel="stylesheet" href="../static/styles/hub-offline.css">\n</head>' in page


def test_the_index_lists_suites_and_validations_newest_first_with_links_that_resolve(tmp_path: Path) -> None:
    older = ValidationEntry("city_dossiers", "__none__", "20261120T010000Z", "batch-1", True, 13, 13)
    newer = ValidationEntry("postal_orders", "__none__", "20261120T020000Z", "batch-2", False, 5, 4)
    for page in (Path("expectations/city_dossiers.html"), older.page, newer.page):
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).write_text(GX_PAGE, encoding="utf-8")

    index = make_offline(tmp_path, ["city_dossiers"], [older, newer])

    text = index.read_text(encoding="utf-8")
    assert "<script" not in text and not FETCHED.search(text)
    assert text.index("batch-2") < text.index("batch-1")
    assert '<span class="fail">failed</span></td><td>4/5</td>' in text
    links = re.findall(r'href="([^"]+)"', text)
    assert all((tmp_path / link).is_file() for link in links), links
    assert "validations/postal_orders/__none__/20261120T020000Z/batch-2.html" in links
    assert "static/styles/hub-offline.css" in links
    nested = (tmp_path / newer.page).read_text(encoding="utf-8")
    assert not FETCHED.search(nested) and 'href="../../../../static/styles/hub-offline.css"' in nested


def test_a_page_made_offline_by_an_earlier_build_is_left_as_it_is(tmp_path: Path) -> None:
    """A build renders only new validations; the pages of earlier builds are not styled twice."""
    entry = ValidationEntry("city_dossiers", "__none__", "20261120T010000Z", "batch-1", True, 13, 13)
    (tmp_path / entry.page).parent.mkdir(parents=True)
    (tmp_path / entry.page).write_text(GX_PAGE, encoding="utf-8")
    make_offline(tmp_path, [], [entry])
    first = (tmp_path / entry.page).read_text(encoding="utf-8")

    make_offline(tmp_path, [], [entry])

    assert (tmp_path / entry.page).read_text(encoding="utf-8") == first
    assert first.count("hub-offline.css") == 1


def test_the_index_counts_every_kept_validation_when_it_lists_only_some(tmp_path: Path) -> None:
    newest = ValidationEntry("city_dossiers", "__none__", "20261120T020000Z", "batch-2", True, 13, 13)

    text = make_offline(tmp_path, [], [newest], total=1_624).read_text(encoding="utf-8")

    assert "The 1 newest of 1624 validations are listed" in text
