"""Validates a CSV or Parquet file against its dataset standard and ingests it as a snapshot.

`validate_file` returns the report and writes nothing. `ingest_file` rejects a file with
any structural problem (raising IngestRejected, data directory untouched) and otherwise
writes a new immutable snapshot and makes it current in the catalog together with fresh
dataset_quality facts (see node.catalog for the layout and the crash-safety argument).
All checks run as DuckDB SQL over whole columns; no Python code runs per row.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from analyses.datasets import DatasetStandard, UnknownDataset, load_standard
from node import catalog as cat
from node._ingest_hash import Background, FileHash, hash_on_cursor
from node._ingest_report import (
    IngestReport,
    Problem,
    build_checks,
    is_trimmed,
    list_problems,
    snapshot_stats,
)
from node.errors import NodeError
from node.idno import sql_normalise_query, sql_unknown_area

__all__ = ["IngestRejected", "IngestReport", "Problem", "ingest_file", "validate_file"]

Progress = Callable[[str], None]
_CHUNK = 8 << 20
_PARQUET_MAGIC = b"PAR1"
_PRIVATE_PREFIX = "fedaudit-ingest-"
#: Seconds between progress lines while one long statement runs.
_TICK = 2.0


class IngestRejected(NodeError):
    """A file refused because of structural problems; `report` says what to fix."""

    def __init__(self, report: IngestReport) -> None:
        super().__init__(f"{report.source} was rejected ({report.problem_total} problems); "
                         f"nothing was ingested. Fix the file and ingest it again.")
        self.report = report


def validate_file(dataset: str, path: str | Path, *, encoding: str | None = None,
                  progress: Progress | None = None) -> IngestReport:
    """Checks a file against the standard of dataset and returns the report.

    Writes nothing anywhere but a private temporary folder. Raises NodeError if the
    dataset is unknown, the file is missing, or encoding names no known codec.
    """
    standard, path = _resolve(dataset, path)
    with _Session(standard, path, encoding, progress) as session:
        return session.check()


def ingest_file(data_dir: str | Path, dataset: str, path: str | Path, *,
                encoding: str | None = None, as_of: dt.date | None = None,
                progress: Progress | None = None) -> IngestReport:
    """Validates a file and, if it has no structural problem, ingests it as a snapshot.

    Returns the report, with `snapshot_id` set. Raises IngestRejected (a NodeError)
    when the file has structural problems, in which case nothing under data_dir
    changed; NodeError for an unknown dataset, a missing file or an unknown encoding;
    OSError if data_dir cannot be written.
    """
    standard, path = _resolve(dataset, path)
    data_dir = Path(data_dir)
    with _Session(standard, path, encoding, progress) as session:
        report = session.check()
        if not report.accepted:
            raise IngestRejected(report)
        with cat.ingest_lock(data_dir):
            for stale in cat.remove_stale_temp(data_dir):
                session.say(f"removed a stale temporary file {stale.name}")
            return session.write_snapshot(data_dir, report, as_of)


def _resolve(dataset: str, path: str | Path) -> tuple[DatasetStandard, Path]:
    if dataset in cat.DERIVED_DATASETS:
        raise NodeError(f"{dataset} is derived by the node from its catalog after every "
                        f"ingest and cannot be ingested; ingest the data it describes instead")
    try:
        standard = load_standard(dataset)
    except UnknownDataset as exc:
        raise NodeError(str(exc)) from exc
    path = Path(path)
    if not path.is_file():
        raise NodeError(f"{path} does not exist or is not a file; check the path")
    return standard, path


class _Session:
    """One validation run: a private DuckDB in a temporary folder, holding table `typed`."""

    def __init__(self, standard: DatasetStandard, path: Path, encoding: str | None,
                 progress: Progress | None) -> None:
        self.standard, self.path, self.encoding = standard, path, encoding
        self.progress = progress
        self.started = time.perf_counter()
        self.hasher: Background | None = None
        if encoding is not None:
            try:
                self.encoding = codecs.lookup(encoding).name
            except LookupError as exc:
                raise NodeError(f"unknown encoding {encoding!r}; use for example utf-8, gbk "
                                f"or gb18030") from exc

    def __enter__(self) -> _Session:
        _sweep_private_folders()
        self.tmp = tempfile.TemporaryDirectory(prefix=f"{_PRIVATE_PREFIX}{os.getpid()}-")
        self.con = duckdb.connect(":memory:", config={"temp_directory": self.tmp.name})
        return self

    def __exit__(self, *exc) -> None:
        if self.hasher is not None:
            self.hasher.wait()
        self.con.close()
        self.tmp.cleanup()

    def say(self, message: str) -> None:
        if self.progress:
            self.progress(f"[{time.perf_counter() - self.started:6.1f}s] {message}")

    @contextlib.contextmanager
    def _ticking(self, label: str):
        """Reports DuckDB's progress on the running statement every few seconds."""
        if not self.progress:
            yield
            return
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(_TICK):
                done = self.con.query_progress()
                if done >= 0:
                    self.say(f"{label}: {done:.0f}%")

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()

    def check(self) -> IngestReport:
        """Loads the file into table `typed`, runs every check, and returns the report."""
        with open(self.path, "rb") as f:
            fmt = "parquet" if f.read(4) == _PARQUET_MAGIC else "csv"
        size_mb = self.path.stat().st_size / 1e6
        self.say(f"reading {self.path.name} ({fmt}, {size_mb:,.1f} MB)")
        # The source hash runs beside DuckDB's load; both release the GIL.
        digest = FileHash(self.path)
        try:
            encoding, found, problem = self._load(fmt)
        finally:
            digest.join()
        report = IngestReport(dataset=self.standard.name, source=self.path.name,
                              source_sha256=digest.hexdigest, format=fmt, encoding=encoding)
        if problem:
            return report.with_problems([problem])
        rows = self.con.execute("SELECT count(*) FROM typed").fetchone()[0]
        self.say(f"loaded {rows:,} rows; checking them against {self.standard.name} "
                 f"v{self.standard.version}")
        problems = list(self.file_problems)
        if rows == 0:
            problems.append(Problem(None, None, "no_rows", None,
                                    "the file has a header but no data rows"))
        listed, counts = list_problems(self.con, "typed", self.checks, self.standard)
        report = report.with_problems(problems + listed, counts, rows=rows)
        if self.standard.id_column in self.present and report.accepted:
            report = report.with_ids(*self._id_counts("typed"))
        self.say("no structural problems" if report.accepted
                 else f"rejected: {report.problem_total:,} problems")
        return report

    def write_snapshot(self, data_dir: Path, report: IngestReport,
                       as_of: dt.date | None) -> IngestReport:
        """Writes `typed` as a snapshot file, then makes it current in the catalog."""
        std = self.standard
        folder = data_dir / cat.SNAPSHOTS_DIR / std.name
        folder.mkdir(parents=True, exist_ok=True)
        tmp = cat.temp_path(folder / "ingest.duckdb")
        stats = snapshot_stats(self.con, f"({self._final_query()})", std)
        self.say(f"writing the snapshot ({report.rows:,} rows) and hashing its content")
        # The content hash reads `typed` on a second cursor while DuckDB writes the file.
        self.hasher = Background(hash_on_cursor, self.con.cursor(),
                                 f"({self._final_query()})", std.name, std.version)
        try:
            self.con.execute(f"ATTACH '{_sql_str(str(tmp))}' AS snap")
            with self._ticking("writing"):
                self.con.execute(f'CREATE TABLE snap."{std.name}" AS {self._final_query()}')
            self.con.execute("DETACH snap")
            snapshot_id = self.hasher.result()
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.con.execute("DETACH DATABASE IF EXISTS snap")
            for leftover in folder.glob(f"{tmp.name}*"):
                leftover.unlink(missing_ok=True)
            raise
        relpath = cat.snapshot_relpath(std.name, snapshot_id)
        final = data_dir / relpath
        if final.exists():
            tmp.unlink()  # The same content is already there; snapshots are immutable.
        else:
            cat.publish(tmp, final)
        record = cat.SnapshotRecord(
            snapshot_id=snapshot_id, dataset=std.name, standard_version=std.version,
            path=relpath, rows=report.rows, source_name=self.path.name,
            source_sha256=report.source_sha256,
            data_as_of=stats["data_as_of"] or as_of or dt.date.today(),
            ingested_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
            period_min=stats["period_min"], period_max=stats["period_max"],
            missing_months=stats["missing"], id_status_counts=report.id_status_counts,
            unknown_area=report.unknown_area, null_counts=stats["null_counts"],
        )
        # The quality facts are derived from the new catalog and recorded in the same
        # atomic catalog replacement: both snapshots become current together, or neither.
        catalog = cat.Catalog.load(data_dir).with_snapshot(record)
        self.say(f"deriving {cat.QUALITY_DATASET} from the catalog")
        quality = cat.write_quality_snapshot(catalog)
        self.say(f"recording snapshot {snapshot_id} in the catalog")
        catalog.with_snapshot(quality).save()
        self.say("done")
        return report.ingested(snapshot_id, record.data_as_of)

    # -- loading ---------------------------------------------------------------------

    def _load(self, fmt: str) -> tuple[str | None, dict[str, str], Problem | None]:
        """Loads the file into `typed`; returns (encoding, the file's columns, problem).

        A CSV is read as UTF-8 unless another encoding was named; if DuckDB refuses it
        and it is not valid UTF-8, it is transcoded from GB18030 (a superset of GBK)
        into the private folder and read again.
        """
        if fmt == "parquet":
            return None, *self._load_path(self.path, fmt)
        encoding = self.encoding or "utf-8"
        if encoding not in ("utf-8", "utf-8-sig"):
            return encoding, *self._transcode_and_load(encoding, None)
        self.say(f"loading {self.path.name} as UTF-8")
        found, problem = self._load_path(self.path, fmt)
        if problem is None or problem.kind != "bad_file":
            return encoding, found, problem
        bad_at = _utf8_error(self.path)
        if bad_at is None:
            return encoding, found, problem  # Valid UTF-8: the CSV itself is broken.
        if self.encoding is not None:
            return encoding, {}, Problem(None, None, "bad_encoding", None,
                                         f"the file is not valid UTF-8 (byte {bad_at})")
        return "gb18030", *self._transcode_and_load("gb18030", bad_at)

    def _transcode_and_load(self, encoding: str, utf8_error: int | None
                            ) -> tuple[dict[str, str], Problem | None]:
        self.say(f"transcoding {self.path.name} from {encoding} to UTF-8")
        target = Path(self.tmp.name) / "source.csv"
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        offset = 0
        try:
            with open(self.path, "rb") as f, open(target, "wb") as out:
                while chunk := f.read(_CHUNK):
                    out.write(decoder.decode(chunk).encode("utf-8"))
                    offset += len(chunk)
                out.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError as exc:
            where = "" if utf8_error is None else f"UTF-8 (byte {utf8_error}) nor "
            return {}, Problem(None, None, "bad_encoding", None,
                               f"the file is neither {where}{encoding} "
                               f"(byte {offset + exc.start})")
        return self._load_path(target, "csv")

    def _load_path(self, path: Path, fmt: str) -> tuple[dict[str, str], Problem | None]:
        """Creates view `raw` over path and table `typed` from it.

        Returns the file's column names with their DuckDB types, and a `bad_file`
        problem if DuckDB cannot read the file.
        """
        lit = f"'{_sql_str(str(path))}'"
        reader = (f"read_parquet({lit})" if fmt == "parquet"
                  else f"read_csv({lit}, header = true, all_varchar = true)")
        try:
            self.con.execute(f"CREATE OR REPLACE VIEW raw AS SELECT * FROM {reader}")
            rel = self.con.sql("SELECT * FROM raw")
            found = {name: str(t) for name, t in zip(rel.columns, rel.types, strict=True)}
            self.checks, self.file_problems, self.present = build_checks(self.standard, found)
            with self._ticking("loading"):
                self.con.execute(f"CREATE OR REPLACE TABLE typed AS {self._typed_query(found)}")
        except duckdb.Error as exc:
            return {}, Problem(None, None, "bad_file", None, _first_lines(str(exc)))
        return found, None

    def _typed_query(self, found: dict[str, str]) -> str:
        """SQL casting each present column of `raw` to its standard type.

        A non-VARCHAR column c also gets `_bad_c`: the text of a value that did not cast.
        Coded and formatted text columns are trimmed of surrounding spaces (padding from
        fixed-width exports would break their checks); other text is kept as received.
        DuckDB's casts ignore surrounding spaces themselves, except for booleans.
        """
        inner, bad = [], []
        for col in self.standard.columns:
            raw_name = self.present.get(col.name)
            if raw_name is None:
                continue
            q, name = _ident(raw_name), _ident(col.name)
            if found[raw_name] != "VARCHAR":
                q = f"CAST({q} AS VARCHAR)"
            elif is_trimmed(col):
                q = (f"CASE WHEN {q} LIKE ' %' OR {q} LIKE '% ' THEN nullif(trim({q}), '') "
                     f"ELSE {q} END")
            if col.type == "VARCHAR":
                inner.append(f"{q} AS {name}")
                continue
            raw_alias = _ident("_raw_" + col.name)
            inner.append(f"TRY_CAST({q} AS {col.type}) AS {name}, {q} AS {raw_alias}")
            bad.append((raw_alias, f"CASE WHEN {name} IS NULL THEN nullif(trim({raw_alias}), "
                                   f"'') END AS {_ident('_bad_' + col.name)}"))
        query = f"SELECT {', '.join(inner) or '1 AS _none'} FROM raw"
        if bad:
            query = (f"SELECT * EXCLUDE ({', '.join(a for a, _ in bad)}), "
                     f"{', '.join(e for _, e in bad)} FROM ({query})")
        if self.standard.id_column in self.present:
            query = sql_normalise_query(f"({query})", self.standard.id_column)
        return query

    # -- the snapshot ----------------------------------------------------------------

    def _final_query(self) -> str:
        """The snapshot's rows: every standard column in order, then `id_status`."""
        cols = [_ident(c.name) if c.name in self.present else f"NULL::{c.type} AS {_ident(c.name)}"
                for c in self.standard.columns]
        if self.standard.id_column:
            cols.append("id_status" if self.standard.id_column in self.present
                        else "'missing' AS id_status")
        return f"SELECT {', '.join(cols)} FROM typed"

    def _id_counts(self, source: str) -> tuple[dict[str, int], int]:
        """Rows per ID status, and valid IDs with an unknown area code."""
        idc = _ident(self.standard.id_column)
        rows = self.con.execute(
            f"SELECT id_status, count(*), count(*) FILTER (WHERE id_status IN "
            f"('valid', 'upgraded') AND {sql_unknown_area(idc)}) FROM {source} "
            f"GROUP BY id_status ORDER BY id_status").fetchall()
        return {s: n for s, n, _ in rows}, sum(u for _, _, u in rows)


def _sweep_private_folders() -> None:
    """Removes private folders of ingests whose process is gone (killed, not cleaned up)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_PRIVATE_PREFIX}*-*"):
        pid = folder.name[len(_PRIVATE_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass  # Another user's live process.


def _utf8_error(path: Path) -> int | None:
    """The offset of the first byte that is not valid UTF-8, or None if all are."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            if not chunk:
                return None
            offset += len(chunk)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(text: str) -> str:
    return text.replace("'", "''")


def _first_lines(message: str, n: int = 4) -> str:
    return " ".join(line.strip() for line in message.strip().splitlines()[:n] if line.strip())
