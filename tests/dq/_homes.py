"""Node homes made the real way (`fedaudit node init`) and sample files with planted flaws."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from fedaudit.cli import main
from tests.data._samples import (
    BENEFIT_HEADER,
    INSURED_HEADER,
    benefit_rows,
    insured_rows,
    make_id,
    write_csv,
)

#: Months of the planted benefit file: March, May and June 2024 are missing.
BENEFIT_MONTHS = ["2024-01", "2024-02", "2024-04", "2024-07"]


def run_cli(*args) -> object:
    """Runs `fedaudit ARGS...` in-process; returns click's result."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def make_home(federation: Path, folder: Path, party: str = "gd") -> Path:
    """A node home initialised from the shared federation's kit of `party`."""
    result = run_cli("node", "init", "--kit", federation / party, "--home", folder)
    assert result.exit_code == 0, result.output
    return folder


def wrong_check_char(id_no: str) -> str:
    """The same number with another check character, so its MOD 11-2 check fails."""
    return id_no[:-1] + ("1" if id_no[-1] == "0" else "0")


def planted_benefit_csv(path: Path) -> Path:
    """24 payments over BENEFIT_MONTHS with 3 unusable IDs and 3 empty pay dates.

    Rows 1 and 9 carry a wrong check character and row 5 no ID at all, so 3 rows can never
    be tokenised and one id_no is NULL. Rows 0, 2 and 4 have no pay_date (optional). The
    file has no bank_acct_hash, data_as_of or load_batch_id column: NULL in all 24 rows.
    """
    rows = benefit_rows(24, BENEFIT_MONTHS)
    rows[1][1] = wrong_check_char(rows[1][1])
    rows[9][1] = wrong_check_char(rows[9][1])
    rows[5][1] = ""
    for i in (0, 2, 4):
        rows[i][6] = ""
    return write_csv(path, BENEFIT_HEADER, rows)


def planted_insured_csv(path: Path) -> Path:
    """8 insured persons (data as of 2024-06-30), one ID born on 30 February, 2 without gender."""
    rows = insured_rows()
    rows[3][0] = make_id("110105", "19990230", 3)
    rows[0][2] = rows[1][2] = ""
    return write_csv(path, INSURED_HEADER, rows)


def broken_benefit_csv(path: Path) -> Path:
    """A benefit file with an amount that is not a number: ingest must reject it whole."""
    rows = benefit_rows(6)
    rows[2][7] = "abc"
    return write_csv(path, BENEFIT_HEADER, rows)
