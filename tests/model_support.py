"""Shared helpers of the model tests: library models and tmp copies to break, fixture runs,
synthetic federations ingested as at real nodes, and checks against their ground truth."""

from __future__ import annotations

import csv
import json
import random
import secrets
import shutil
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from analyses import check_fixtures, load_model, run_fixtures
from analyses._fixtures import (
    FIXTURE_KEY,
    fixture_inputs,
    fixture_nodes,
    fixture_parameters,
    fixture_stages,
    run_level_fixture,
    run_linkage_sql,
)
from analyses._fixtures_linkage import link, token_dictionary
from analyses._linkage import LOCAL
from analyses.cli import analyses
from analyses.datasets import load_standard
from analyses.library import DEFAULT_ROOT
from analyses.synth import generate_federation
from node.catalog import Catalog
from node.disclosure import apply_disclosure
from node.executor import execute, execute_resolve
from node.ingest import ingest_file
from node.policy import Policy

#: The synthetic federation of the truth tests: three provinces (so that pensions are drawn
#: in two of them), a fixed seed and a small scale.
FEDERATION = {"provinces": 3, "scale": 1e-6, "seed": 7}
#: The node of the synthetic federation that holds the death register.
DEATHS = "deaths"
#: The id_status values of an ID number that is tokenised.
TOKENISED = ("valid", "upgraded")

CaseLines = dict[tuple[str, str], list[dict]]


# Library models and tmp copies to break.

def model_folder(model_id: str) -> Path:
    """Returns the folder of the library model `model_id` ("area.name")."""
    area, name = model_id.split(".")
    return DEFAULT_ROOT / area / name


def load(model_id: str):
    """Returns the library model `model_id`, loaded; raises what `load_model` raises."""
    return load_model(model_folder(model_id))


def edit(path: Path, old: str, new: str) -> None:
    """Replaces the first `old` (which must occur) by `new` in a text file."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def copy_into(root: Path, model_id: str) -> Path:
    """Copies the library model `model_id` into the library root `root`; returns the copy."""
    area, name = model_id.split(".")
    target = root / area / name
    shutil.copytree(model_folder(model_id), target)
    return target


def copy_model_fixture():
    """Returns a fixture `copy_model`: a function that copies a library model into a tmp
    library root (tmp_path/models) and returns the copy's folder."""
    @pytest.fixture
    def copy_model(tmp_path: Path):
        return lambda model_id: copy_into(tmp_path / "models", model_id)
    return copy_model


def fixture_problems(folder: Path) -> list[str]:
    """Returns every problem of the fixture run of the model in `folder`, as "stage: problem"."""
    return [f"{r.stage}: {p}" for r in run_fixtures(load_model(folder)) for p in r.problems]


# Fixture runs.

def column(table: pa.Table, name: str) -> list:
    """Returns the values of a column as a list."""
    return table.column(name).to_pylist()


def matched_by_node(summary: pa.Table) -> dict[str, int | None]:
    """Returns the join summary of `link` as node id -> matched count."""
    return dict(zip(column(summary, "node_id"), column(summary, "matched"), strict=True))


def assert_fixtures_pass(model) -> list:
    """Asserts that `model` passes its fixtures (check_fixtures, and every stage of
    run_fixtures ok with rows, in the stage order); returns the stage results."""
    check_fixtures(model)
    results = run_fixtures(model)
    assert [r.stage for r in results] == fixture_stages(model)
    assert all(r.ok and r.rows > 0 for r in results), [r.problems for r in results]
    return results


def cli_test_output(model_id: str) -> str:
    """Runs `analyses test MODEL_ID`, asserts that it passed; returns its output."""
    result = CliRunner().invoke(analyses, ["test", model_id])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok  ")
    return result.output


def cli_test_report(model_id: str) -> dict:
    """Runs `analyses test MODEL_ID --json`, asserts that it passed; returns the model's report."""
    result = CliRunner().invoke(analyses, ["test", model_id, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report[0]["ok"]
    return report[0]


def fixture_tables(model) -> dict[str, dict[str, pa.Table]]:
    """Returns the fixture tables of every fixture node: node -> dataset -> table."""
    return {node: fixture_inputs(model, level, node)
            for node, level in fixture_nodes(model).items()}


def fixture_outputs(model) -> dict[str, pa.Table]:
    """Returns the node SQL output of every fixture node under the fixture parameters."""
    return {node: run_level_fixture(model, level, node)
            for node, level in fixture_nodes(model).items()}


def linked_fixtures(model) -> tuple[dict[str, pa.Table], dict[str, pa.Table], pa.Table]:
    """Returns the fixture nodes' outputs, what the coordinator's join returns to each
    node, and the join summary (see `analyses._fixtures_linkage.link`)."""
    outputs = fixture_outputs(model)
    returned, summary = link(model, outputs, fixture_nodes(model))
    return outputs, returned, summary


def invalid_ids(model) -> set[str]:
    """Returns the ID numbers of the fixtures that carry a status never tokenised."""
    bad = set()
    for tables in fixture_tables(model).values():
        for name, table in tables.items():
            id_column = load_standard(name).id_column
            if id_column:
                bad |= {row[id_column] for row in table.select([id_column, "id_status"]).to_pylist()
                        if row["id_status"] not in TOKENISED}
    return bad


def run_flow(model, overrides: Mapping[str, object] | None = None
             ) -> tuple[dict[str, set[str]], dict[str, list[dict]]]:
    """Runs the fixtures through node SQL, join and resolve with parameter overrides.

    Returns the ID numbers each node released (tokens read back through the fixture
    dictionary) and each receiving node's case lines.
    """
    params = model.bind_parameters({**fixture_parameters(model), **(overrides or {})})
    nodes = fixture_nodes(model)
    inputs = fixture_tables(model)
    dictionary = token_dictionary(inputs.values(), FIXTURE_KEY)
    outputs = {node: run_linkage_sql(model.node_sql[level], inputs[node], params, FIXTURE_KEY)[0]
               for node, level in nodes.items()}
    returned, _ = link(model, outputs, nodes)
    lines = {node: run_linkage_sql(model.sql["resolve"], {**inputs[node], "returned": table},
                                   params, FIXTURE_KEY)[0].to_pylist()
             for node, table in returned.items()}
    released = {node: {dictionary[t] for t in column(table, "token")}
                for node, table in outputs.items()}
    return released, lines


# Synthetic federations, ingested as at real nodes.

@dataclass(frozen=True)
class Federation:
    """An ingested federation: the generator's folder (None for one built from other CSV
    files), each node's level, and each node's current snapshot per dataset."""

    out: Path | None
    levels: dict[str, str]
    snapshots: dict[str, dict[str, Path]]


def ingest_node(data_dir: Path, files: Mapping[str, Path]) -> dict[str, Path]:
    """Ingests each dataset's CSV file into a node data folder (IDs normalised, id_status
    set, as at a real node); returns the current snapshot of each dataset. Raises what
    `node.ingest.ingest_file` raises."""
    for dataset, path in files.items():
        ingest_file(data_dir, dataset, path)
    catalog = Catalog.load(data_dir)
    return {dataset: catalog.path_of(catalog.current(dataset)) for dataset in files}


def ingest_federation(nodes_dir: Path, files: Mapping[str, Mapping[str, Path]],
                      levels: Mapping[str, str] | None = None,
                      out: Path | None = None) -> Federation:
    """Ingests node -> dataset -> CSV file into nodes_dir/<node>; returns the federation
    (every node a province unless `levels` says otherwise)."""
    snapshots = {node: ingest_node(nodes_dir / node, by_dataset)
                 for node, by_dataset in files.items()}
    return Federation(out, dict(levels or dict.fromkeys(files, "province")), snapshots)


def build_federation(root: Path, province_datasets: Sequence[str],
                     registries: Mapping[str, Sequence[str]] | None = None,
                     **options) -> Federation:
    """Generates a synthetic federation in root/fed (`FEDERATION`, updated by `options`)
    and ingests the given datasets of every province and of the given registry nodes."""
    out = root / "fed"
    summary = generate_federation(out, **(FEDERATION | options))
    datasets = {node: tuple(province_datasets) for node in sorted(summary.persons)}
    datasets |= dict(registries or {})
    levels = {node: "registry" if node in (registries or {}) else "province" for node in datasets}
    files = {node: {ds: out / node / f"{ds}.csv" for ds in names}
             for node, names in datasets.items()}
    return ingest_federation(root / "nodes", files, levels, out)


def federation_fixture(name: str, province_datasets: Sequence[str],
                       registries: Mapping[str, Sequence[str]] | None = None, **options):
    """Returns a module-scoped fixture giving `build_federation` in a tmp folder `name`."""
    @pytest.fixture(scope="module")
    def federation(tmp_path_factory) -> Federation:
        return build_federation(tmp_path_factory.mktemp(name), province_datasets, registries,
                                **options)
    return federation


# Ground truth.

def read_csv(path: Path) -> list[dict[str, str]]:
    """Returns the rows of a CSV file with a header."""
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def truth_rows(out: Path, code: str) -> list[dict[str, str]]:
    """Returns the rows of the truth file truth/<code>.csv of a generated federation."""
    return read_csv(out / "truth" / f"{code}.csv")


def truth(out: Path, code: str, label: str, key: str = "id_no") -> CaseLines:
    """Returns the rows of truth/<code>.csv with `label`, by (node, `key`)."""
    rows = defaultdict(list)
    for row in truth_rows(out, code):
        if row["label"] == label:
            rows[(row["node_id"], row[key])].append(row)
    return rows


def run_model(fed: Federation, model_id: str, *, disclose: bool = False) -> CaseLines:
    """Runs a model over an ingested federation as the nodes and the coordinator would:
    node SQL in each node's sandbox under the task key (one shared key, or each node its
    own when the model does not share one), optionally the node's disclosure engine
    (padding with dummy tokens), the join in SQL, and the resolve SQL at each receiving
    province. Asserts what each step must keep; returns the case lines by (node, subject)."""
    model = load(model_id)
    params = model.bind_parameters({})
    levels = {node: level for node, level in fed.levels.items() if level in model.levels}
    shared = secrets.token_bytes(32)
    keys = {node: shared if model.linkage.shares_key else secrets.token_bytes(32)
            for node in levels}
    real, released = {}, {}
    for node, level in levels.items():
        real[node] = released[node] = execute(model, level, params, fed.snapshots[node],
                                              Policy(), task_key=keys[node])
        if disclose:
            released[node] = apply_disclosure(model, real[node], Policy().disclosure,
                                              rng=random.Random(node)).table
            assert released[node].num_rows >= real[node].num_rows
    returned, summary = link(model, released, levels)
    assert set(returned) == {n for n, level in levels.items() if level == "province"}
    matched = matched_by_node(summary)
    local = model.linkage.pattern == LOCAL
    if local:
        assert set(matched.values()) == {None}, matched
    assert all(matched[n] > 0 for n, level in levels.items() if level == "registry"), matched
    lines = defaultdict(list)
    for node, table in returned.items():
        tokens = set(column(table, "token"))
        if local:  # each node gets back exactly its own tokens
            assert tokens == set(column(released[node], "token"))
        else:  # padding never matches
            assert tokens <= set(column(real[node], "token"))
        resolved = execute_resolve(model, "province", params, fed.snapshots[node], Policy(),
                                   keys[node], table)
        assert set(column(resolved, "token")) <= tokens & set(column(real[node], "token"))
        for row in resolved.to_pylist():
            lines[(node, row["subject_id"])].append(row)
    return lines


def assert_cases(found: CaseLines, anomalies: CaseLines, left_alone, model_id: str, *,
                 min_left_alone: int = 3) -> None:
    """Asserts recall 1.0, that no subject of `left_alone` (look-alikes) and nothing else is
    flagged, and that each anomaly's case lines add up to the amounts of its truth rows."""
    assert len(anomalies) >= 3 and len(left_alone) >= min_left_alone, \
        "the federation should plant both"
    missed = set(anomalies) - set(found)
    assert not missed, f"{model_id} missed planted cases: {sorted(missed)}"
    flagged = set(found) & set(left_alone)
    assert not flagged, f"{model_id} flagged look-alikes: {sorted(flagged)}"
    extra = set(found) - set(anomalies)
    assert not extra, f"{model_id} flagged subjects that are neither: {sorted(extra)}"
    for key, rows in anomalies.items():
        got = sum(line["amount"] for line in found[key])
        assert got == sum(Decimal(r["amount"]) for r in rows), (model_id, key)
    print(f"{model_id}: {len(anomalies)} planted cases found, {len(left_alone)} look-alikes "
          "left alone")


def check_cases(fed: Federation, model_id: str) -> tuple[CaseLines, CaseLines]:
    """Runs the model and asserts `assert_cases` against the anomalies and look-alikes of
    its method code's truth file; returns (found lines, anomaly rows)."""
    code = load(model_id).method_code
    found = run_model(fed, model_id)
    anomalies = truth(fed.out, code, "anomaly")
    assert_cases(found, anomalies, truth(fed.out, code, "lookalike"), model_id)
    return found, anomalies
