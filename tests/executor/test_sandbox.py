"""The sandbox stops analyses that read files, write, attach, load extensions or unlock settings.

Three layers are tested: model SQL the loader accepts (one SELECT) that reaches outside
its snapshots; hand-built models whose SQL the loader would refuse, which the executor
refuses too; and the bare sandbox connection, which refuses those statements itself.
"""

from __future__ import annotations

import dataclasses

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from node.executor import ExecutionError, execute, open_sandbox

from .conftest import SUMMARY, make_snapshot, sha256

#: Declared output columns around a FROM clause that tries to reach outside.
OUTSIDE = ("SELECT CAST(count(*) AS VARCHAR) AS scheme_code, CAST(0 AS BIGINT) AS persons, "
           "CAST(0 AS DECIMAL(38,2)) AS amount FROM {source}")


@pytest.fixture
def outside(tmp_path, snapshot):
    """Real files a model might try to read: a parquet file, a CSV, another database."""
    pq.write_table(pa.table({"x": [1, 2, 3]}), tmp_path / "secret.parquet")
    (tmp_path / "secret.csv").write_text("x\n1\n", encoding="utf-8")
    make_snapshot(tmp_path / "other.duckdb")
    return tmp_path


@pytest.mark.parametrize(
    "source",
    [
        "read_csv('/etc/passwd')",
        "read_csv_auto('{dir}/secret.csv')",
        "read_text('/etc/passwd')",
        "read_blob('/etc/hostname')",
        "read_parquet('{dir}/secret.parquet')",
        "parquet_scan('{dir}/secret.parquet')",
        "read_json('{dir}/secret.csv')",
        "glob('{dir}/*')",
        "sniff_csv('{dir}/secret.csv')",
        # The snapshot file itself must not be readable as raw bytes either.
        "read_blob('{dir}/benefit_payment.duckdb')",
        "read_csv('https://example.com/data.csv')",
        "duckdb_extensions()",
    ],
)
def test_select_that_reads_outside_is_stopped(models, outside, snapshots, policy, source):
    model = models("reader", OUTSIDE.format(source=source.format(dir=outside)))
    with pytest.raises(ExecutionError) as caught:
        execute(model, "province", {}, snapshots, policy)
    assert caught.value.code == "SANDBOX", str(caught.value)


def test_file_path_as_table_name_is_not_read(models, outside, snapshots, policy):
    model = models("replacement", OUTSIDE.format(source=f"'{outside}/secret.csv'"))
    with pytest.raises(ExecutionError):
        execute(model, "province", {}, snapshots, policy)


def test_python_variables_are_not_tables(models, snapshots, policy):
    secret_rows = pa.table({"scheme_code": ["x"], "persons": [1], "amount": [1]})
    assert secret_rows.num_rows == 1
    model = models("python", OUTSIDE.format(source="secret_rows"))
    with pytest.raises(ExecutionError) as caught:
        execute(model, "province", {}, snapshots, policy)
    assert caught.value.code == "SQL_FAILED"


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT * FROM benefit_payment) TO '{dir}/leak.csv'",
        "EXPORT DATABASE '{dir}/leak'",
        "ATTACH '{dir}/other.duckdb' AS other",
        "ATTACH '{dir}/benefit_payment.duckdb' AS writable",
        "DETACH snapshot_0",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET lock_configuration",
        "PRAGMA threads = 64",
        "INSERT INTO snapshot_0.benefit_payment SELECT * FROM benefit_payment",
        "DELETE FROM benefit_payment",
        "DROP VIEW benefit_payment",
        "CREATE TABLE leak AS SELECT * FROM benefit_payment",
        "CALL pragma_version()",
        "SELECT 1; COPY (SELECT 1) TO '{dir}/leak.csv'",
        "SELECT 1 AS scheme_code; SELECT 2",
        "EXPLAIN SELECT 1",
        "",
    ],
)
def test_hand_built_model_with_other_statements_is_refused(outside, snapshot, snapshots,
                                                           policy, sql):
    model = dataclasses.replace(SUMMARY, node_sql={**SUMMARY.node_sql,
                                                  "province": sql.format(dir=outside)})
    before = sha256(snapshot)
    with pytest.raises(ExecutionError) as caught:
        execute(model, "province", {}, snapshots, policy)
    assert caught.value.code == "BAD_MODEL"
    assert sha256(snapshot) == before
    assert not list(outside.glob("leak*"))


@pytest.mark.parametrize(
    "statements",
    [
        ["COPY (SELECT * FROM benefit_payment) TO '{dir}/leak.csv'"],
        ["COPY (SELECT * FROM benefit_payment) TO '{dir}/benefit_payment.duckdb'"],
        ["EXPORT DATABASE '{dir}/leak'"],
        ["ATTACH '{dir}/other.duckdb' AS other"],
        ["ATTACH '{dir}/new.duckdb' AS created"],
        ["INSTALL httpfs"],
        ["LOAD httpfs"],
        ["SET enable_external_access = true"],
        ["SET lock_configuration = false"],
        ["RESET lock_configuration"],
        ["SET threads = 64"],
        ["SET memory_limit = '100GB'"],
        ["SET temp_directory = '{dir}/spill'"],
        ["SET disabled_filesystems = ''"],
        ["SET allow_community_extensions = true"],
        ["SET autoinstall_known_extensions = true"],
        ["SET python_enable_replacements = true"],
        ["INSERT INTO snapshot_0.benefit_payment SELECT * FROM benefit_payment"],
        ["UPDATE snapshot_0.benefit_payment SET amount = 0"],
        ["DROP TABLE snapshot_0.benefit_payment"],
        ["DETACH snapshot_0", "ATTACH '{dir}/benefit_payment.duckdb' AS writable"],
        ["SELECT * FROM read_blob('{dir}/benefit_payment.duckdb')"],
        ["SELECT * FROM read_csv('/etc/passwd')"],
        ["SELECT * FROM query('COPY (SELECT 1) TO ''{dir}/leak.csv''')"],
        ["CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')"],
    ],
)
def test_bare_sandbox_refuses(outside, snapshot, snapshots, policy, statements):
    before = sha256(snapshot)
    files = sorted(outside.iterdir())
    with open_sandbox(snapshots, policy) as con:
        *setup, attempt = [s.format(dir=outside) for s in statements]
        for statement in setup:
            con.execute(statement)
        with pytest.raises(duckdb.Error):
            con.execute(attempt).fetchall()
        if not setup:
            # The data is still readable after the refusal.
            assert con.execute("SELECT count(*) FROM benefit_payment").fetchone()[0] == 10
    assert sha256(snapshot) == before
    assert sorted(outside.iterdir()) == files


def test_sandbox_settings_are_locked_in(snapshots, policy):
    with open_sandbox(snapshots, policy) as con:
        settings = dict(con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
            "'lock_configuration', 'threads', 'temp_directory', 'autoload_known_extensions', "
            "'autoinstall_known_extensions', 'allow_community_extensions', "
            "'allow_unsigned_extensions', 'python_enable_replacements', "
            "'allow_persistent_secrets')"
        ).fetchall())
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        databases = con.execute("SELECT database_name, readonly FROM duckdb_databases() "
                                "WHERE NOT internal ORDER BY 1").fetchall()
    assert settings == {
        "enable_external_access": "false",
        "lock_configuration": "true",
        "threads": str(policy.threads),
        "temp_directory": "",
        "autoload_known_extensions": "false",
        "autoinstall_known_extensions": "false",
        "allow_community_extensions": "false",
        "allow_unsigned_extensions": "false",
        "python_enable_replacements": "false",
        "allow_persistent_secrets": "false",
    }
    assert limit.endswith("MiB") and float(limit.split()[0]) < 512
    assert ("snapshot_0", True) in databases
