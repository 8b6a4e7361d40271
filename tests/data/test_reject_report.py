"""A rejected ingest reports exactly what `validate` reports for the same file."""

from __future__ import annotations

import pytest

from node.ingest import IngestRejected, ingest_file, validate_file
from tests.data._samples import BENEFIT_HEADER, benefit_rows, write_csv

BREAKAGES = {
    "bad code": (3, "scheme_code", "999"),
    "unparsable amount": (5, "amount", "12,30"),
    "month not on the 1st": (7, "period", "2024-03-15"),
    "missing required value": (9, "psn_no", ""),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_rejected_ingest_and_validate_agree(tmp_path, breakage):
    rows = benefit_rows(30)
    row, column, value = BREAKAGES[breakage]
    rows[row][BENEFIT_HEADER.index(column)] = value
    rows[row + 10][BENEFIT_HEADER.index("amount")] = "abc"  # a second problem, elsewhere
    path = write_csv(tmp_path / "broken.csv", BENEFIT_HEADER, rows)
    validated = validate_file("benefit_payment", path)
    assert not validated.accepted
    with pytest.raises(IngestRejected) as caught:
        ingest_file(tmp_path / "data", "benefit_payment", path)
    assert caught.value.report.to_dict() == validated.to_dict()
    assert not (tmp_path / "data" / "catalog.json").exists()
