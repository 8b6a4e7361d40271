"""dq.dataset_quality end to end: ingest planted files into a real home, run the model."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from analyses import load_library
from analyses._sql import partials_table, run_model_sql
from analyses.datasets import load_standard
from node.executor import ExecutionError, execute
from node.home import NodeHome
from node.runner import current_snapshots
from tests.dq._homes import (
    make_home,
    planted_benefit_csv,
    planted_insured_csv,
    run_cli,
)

MODEL = load_library().get("dq.dataset_quality")
AS_OF = dt.date(2024, 8, 1)


def run_model(home: Path, as_of: dt.date | None = AS_OF) -> pa.Table:
    """The model's province output at the node in home, on its current snapshots."""
    node = NodeHome.open(home)
    snapshots = current_snapshots(node, MODEL.datasets["province"])
    parameters = {} if as_of is None else {"as_of": as_of}
    return execute(MODEL, "province", parameters,
                   {name: path for name, (_, path) in snapshots.items()}, node.policy())


def by_column(table: pa.Table, dataset: str) -> dict[str, dict]:
    return {r["column_name"]: r for r in table.to_pylist() if r["dataset"] == dataset}


@pytest.fixture()
def home(federation: Path, tmp_path: Path) -> Path:
    """The gd node with a planted benefit_payment and insured_person ingested."""
    home = make_home(federation, tmp_path / "gd-home")
    benefit = planted_benefit_csv(tmp_path / "payments.csv")
    result = run_cli("node", "ingest", "benefit_payment", benefit, "--home", home,
                     "--as-of", "2024-07-31")
    assert result.exit_code == 0, result.output
    people = planted_insured_csv(tmp_path / "people.csv")
    assert run_cli("node", "ingest", "insured_person", people, "--home", home).exit_code == 0
    return home


def test_the_model_reports_what_was_planted(home: Path):
    output = run_model(home)
    assert output.column_names == [c.name for c in MODEL.output.columns]
    payments, people = by_column(output, "benefit_payment"), by_column(output, "insured_person")
    # One row per column of each standard, and nothing else.
    assert list(payments) == sorted(load_standard("benefit_payment").column_names)
    assert set(people) == set(load_standard("insured_person").column_names)
    assert output.num_rows == len(payments) + len(people)
    assert all(r["node"] is None for r in output.to_pylist())

    # Completeness: NULLs where they were planted, none in the other required columns.
    assert payments["pay_date"]["null_count"] == 3
    assert payments["pay_date"]["null_rate"] == pytest.approx(3 / 24)
    assert not payments["pay_date"]["column_required"]
    for absent in ("bank_acct_hash", "data_as_of", "load_batch_id"):
        assert (payments[absent]["null_count"], payments[absent]["null_rate"]) == (24, 1.0)
    assert payments["id_no"]["null_count"] == 1 and payments["id_no"]["column_required"]
    for name in ("pay_id", "psn_no", "scheme_code", "period", "amount", "pool_admdvs"):
        assert payments[name]["null_count"] == 0, name
    assert people["gender"]["null_count"] == 2
    assert people["gender"]["null_rate"] == pytest.approx(0.25)
    assert people["id_no"]["null_count"] == 0

    # Unusable IDs (wrong check characters, a missing ID, an impossible birth date).
    assert {r["invalid_ids"] for r in payments.values()} == {3}
    assert {r["invalid_ids"] for r in people.values()} == {1}

    # Continuity and timeliness, repeated on every column's row of the dataset.
    first = payments["amount"]
    assert (first["period_min"], first["period_max"]) == (dt.date(2024, 1, 1),
                                                          dt.date(2024, 7, 1))
    assert first["missing_months"] == 3
    assert first["missing_month_list"] == "2024-03, 2024-05..2024-06"
    assert first["rows"] == 24 and first["data_as_of"] == dt.date(2024, 7, 31)
    assert first["lag_days"] == 1
    assert all(r["rows"] == 8 and r["lag_days"] == 32 for r in people.values())
    assert all(r["missing_months"] is None and r["period_min"] is None
               for r in people.values())
    # A later reference date moves only the lag.
    later = by_column(run_model(home, dt.date(2024, 9, 1)), "benefit_payment")
    assert later["amount"]["lag_days"] == 32 and later["amount"]["null_count"] == 0


def test_the_combine_keeps_each_node_apart(home: Path, federation: Path, tmp_path: Path):
    gx = make_home(federation, tmp_path / "gx-home", "gx")
    people = planted_insured_csv(tmp_path / "gx-people.csv")
    assert run_cli("node", "ingest", "insured_person", people, "--home", gx).exit_code == 0
    outputs = {"gd": run_model(home), "gx": run_model(gx)}
    combined = run_model_sql(MODEL.sql["combine"], {"partials": partials_table(outputs)},
                             {"as_of": AS_OF})
    assert combined.column_names == [c.name for c in MODEL.output.columns]
    rows = combined.to_pylist()
    assert len(rows) == outputs["gd"].num_rows + outputs["gx"].num_rows
    gender = [(r["node"], r["null_count"]) for r in rows
              if (r["dataset"], r["column_name"]) == ("insured_person", "gender")]
    assert gender == [("gd", 2), ("gx", 2)]
    assert {r["dataset"] for r in rows if r["node"] == "gx"} == {"insured_person"}


def test_a_node_without_data_has_no_quality_facts(federation: Path, tmp_path: Path):
    home = make_home(federation, tmp_path / "empty-home")
    with pytest.raises(ExecutionError) as caught:
        execute(MODEL, "province", {"as_of": AS_OF}, {}, NodeHome.open(home).policy())
    assert caught.value.code == "MISSING_DATASET"


def test_as_of_is_required(home: Path):
    with pytest.raises(ExecutionError) as caught:
        run_model(home, as_of=None)
    assert caught.value.code == "BAD_PARAMETERS" and "as_of" in str(caught.value)
