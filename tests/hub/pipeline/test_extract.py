"""Extraction serialises a city record once: the stored payload is the text its hash covers."""

from __future__ import annotations

import json

from hub.pipeline.extract import staged_record
from signing.digests import content_hash


def test_staged_record_hash_is_the_content_hash_of_the_stored_text() -> None:
    record = {"ma_ho_so": "000.00.12.H26-261102-0001", "trich_yeu": "Cấp giấy phép", "id": 7, "b": [1, None]}
    staged = staged_record(record)
    assert staged.dossier_no == "000.00.12.H26-261102-0001"
    assert staged.content_hash == content_hash(record)
    assert json.loads(staged.payload) == record
