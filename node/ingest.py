"""Validates a CSV or Parquet file against its dataset standard and ingests it as a snapshot.

`validate_file` returns the report and writes nothing. `ingest_file` rejects a file with
any structural problem (raising IngestRejected, data directory untouched) and otherwise
writes a new immutable snapshot and makes it current in the catalog together with fresh
dataset_quality facts (see node.catalog for the layout and the crash-safety argument).
All checks run as DuckDB SQL over whole columns; no Python code runs per row.

The file is read and typed once. An ingest writes the typed rows straight into a DuckDB
file in its private temporary folder, with a guard that evaluates every row check as the
rows load and stops the load at the first row that breaks one; such a file is then
loaded in full, with the columns that locate and count its problems, and rejected.
Otherwise one scan of the written table gathers the catalog's statistics, the content
hash is read from it, and the file itself is moved into the data directory under the
ingest lock: the rows are never typed or written twice.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import errno
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
from node._ingest_hash import FileHash, content_hash, transcode, utf8_error
from node._ingest_report import IngestReport, Problem, build_checks, list_problems
from node._ingest_sql import GUARD_ERROR, missing_months, summarise, typed_queries
from node.errors import NodeError

__all__ = ["IngestRejected", "IngestReport", "Problem", "ingest_file", "validate_file"]

Progress = Callable[[str], None]
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
    with _Session(standard, path, encoding, progress, keep=True) as session:
        report = session.check()
        if not report.accepted:
            raise IngestRejected(report)
        snapshot_id = session.seal(report)  # Still in the private folder only.
        with cat.ingest_lock(data_dir):
            for stale in cat.remove_stale_temp(data_dir):
                session.say(f"removed a stale temporary file {stale.name}")
            return session.publish(data_dir, report, snapshot_id, as_of)


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
    """One validation run: a private DuckDB in a temporary folder, holding the typed rows.

    The rows are in `table`: `typed` in memory, loaded by the full typed query (see
    typed_queries), to validate only or to list a file's problems; for an ingest
    (keep=True) first `snap.typed` in the file `snapshot_file`, loaded by the guarded
    query, which becomes the snapshot.
    """

    def __init__(self, standard: DatasetStandard, path: Path, encoding: str | None,
                 progress: Progress | None, *, keep: bool = False) -> None:
        self.standard, self.path, self.encoding = standard, path, encoding
        self.progress = progress
        self.keep = keep
        self.table = "typed"
        self.extra: tuple[str, ...] = ()
        self.started = time.perf_counter()
        if encoding is not None:
            try:
                self.encoding = codecs.lookup(encoding).name
            except LookupError as exc:
                raise NodeError(f"unknown encoding {encoding!r}; use for example utf-8, gbk "
                                f"or gb18030") from exc

    def __enter__(self) -> _Session:
        _sweep_private_folders()
        self.tmp = tempfile.TemporaryDirectory(prefix=f"{_PRIVATE_PREFIX}{os.getpid()}-")
        self.snapshot_file = Path(self.tmp.name) / "snapshot.duckdb"
        self.con = duckdb.connect(":memory:", config={"temp_directory": self.tmp.name})
        return self

    def __exit__(self, *exc) -> None:
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
        """Loads the file, runs every check, and returns the report."""
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
        rows = self.con.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]
        self.say(f"loaded {rows:,} rows; checking them against {self.standard.name} "
                 f"v{self.standard.version}")
        with_ids = self.standard.id_column in self.present
        self.summary = summarise(self.con, self.table, self.standard, with_ids,
                                 guarded=self.table != "typed")
        problems = list(self.file_problems)
        if rows == 0:
            problems.append(Problem(None, None, "no_rows", None,
                                    "the file has a header but no data rows"))
        listed, counts = [], {}
        if self.summary.failing:
            listed, counts = list_problems(self.con, self.table, self.checks, self.standard)
        report = report.with_problems(problems + listed, counts, rows=rows)
        if with_ids and report.accepted:
            report = report.with_ids(self.summary.id_status_counts, self.summary.unknown_area)
        self.say("no structural problems" if report.accepted
                 else f"rejected: {report.problem_total:,} problems")
        return report

    def seal(self, report: IngestReport) -> str:
        """Turns the checked table into the finished snapshot file; returns its id.

        Drops the check-only columns, names the table after the dataset, reads the
        content hash and the missing months from it and closes the file. Only the
        private folder changes. Raises duckdb.Error if DuckDB cannot finish the file.
        """
        std = self.standard
        if self.table != "snap.typed":  # Only a guarded load can be accepted.
            raise NodeError(f"internal error: {self.path.name} was accepted without a "
                            f"guarded load; please report this bug")
        self.say(f"writing the snapshot ({report.rows:,} rows) and hashing its content")
        for name in self.extra:
            self.con.execute(f"ALTER TABLE snap.typed DROP COLUMN {_ident(name)}")
        self.con.execute(f"ALTER TABLE snap.typed RENAME TO {_ident(std.name)}")
        table = f"snap.{_ident(std.name)}"
        self.missing = missing_months(self.con, table, std, self.summary.period_min,
                                      self.summary.period_max)
        snapshot_id = content_hash(self.con, table, std.name, std.version)
        self.con.execute("CHECKPOINT snap")
        self.con.execute("DETACH snap")
        if _wal(self.snapshot_file).exists():  # The file alone must hold everything.
            raise NodeError(f"internal error: DuckDB left a write-ahead log beside the "
                            f"snapshot of {self.path.name}; please report this bug")
        return snapshot_id

    def publish(self, data_dir: Path, report: IngestReport, snapshot_id: str,
                as_of: dt.date | None) -> IngestReport:
        """Moves the sealed snapshot file into place and makes it current in the catalog.

        Call it while holding the ingest lock. Raises OSError if data_dir cannot be
        written, duckdb.Error if the quality snapshot cannot be written.
        """
        std, stats = self.standard, self.summary
        relpath = cat.snapshot_relpath(std.name, snapshot_id)
        final = data_dir / relpath
        # If final exists, the same content is already there; snapshots are immutable.
        if not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = cat.temp_path(final.parent / "ingest.duckdb")
            try:
                _move(self.snapshot_file, tmp)
                cat.publish(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        record = cat.SnapshotRecord(
            snapshot_id=snapshot_id, dataset=std.name, standard_version=std.version,
            path=relpath, rows=report.rows, source_name=self.path.name,
            source_sha256=report.source_sha256,
            data_as_of=stats.data_as_of or as_of or dt.date.today(),
            ingested_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
            period_min=stats.period_min, period_max=stats.period_max,
            missing_months=self.missing, id_status_counts=report.id_status_counts,
            unknown_area=report.unknown_area, null_counts=stats.null_counts,
        )
        # The quality facts are derived from the new catalog and recorded in the same
        # atomic catalog replacement: both snapshots become current together, or neither.
        catalog = cat.Catalog.load(data_dir).with_snapshot(record)
        self.say(f"deriving {cat.QUALITY_DATASET} from the catalog")
        quality = cat.write_quality_snapshot(catalog, self.con)
        self.say(f"recording snapshot {snapshot_id} in the catalog")
        catalog.with_snapshot(quality).save()
        self.say("done")
        return report.ingested(snapshot_id, record.data_as_of)

    # -- loading ---------------------------------------------------------------------

    def _load(self, fmt: str) -> tuple[str | None, dict[str, str], Problem | None]:
        """Loads the file into `table`; returns (encoding, the file's columns, problem).

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
        bad_at = utf8_error(self.path)
        if bad_at is None:
            return encoding, found, problem  # Valid UTF-8: the CSV itself is broken.
        if self.encoding is not None:
            return encoding, {}, Problem(None, None, "bad_encoding", None,
                                         f"the file is not valid UTF-8 (byte {bad_at})")
        return "gb18030", *self._transcode_and_load("gb18030", bad_at)

    def _transcode_and_load(self, encoding: str, not_utf8_at: int | None
                            ) -> tuple[dict[str, str], Problem | None]:
        self.say(f"transcoding {self.path.name} from {encoding} to UTF-8")
        target = Path(self.tmp.name) / "source.csv"
        bad_at = transcode(self.path, target, encoding)
        if bad_at is not None:
            where = "" if not_utf8_at is None else f"UTF-8 (byte {not_utf8_at}) nor "
            return {}, Problem(None, None, "bad_encoding", None,
                               f"the file is neither {where}{encoding} (byte {bad_at})")
        return self._load_path(target, "csv")

    def _load_path(self, path: Path, fmt: str) -> tuple[dict[str, str], Problem | None]:
        """Loads the file at path into `table`.

        Returns the file's column names with their DuckDB types, and a `bad_file`
        problem if DuckDB cannot read the file. For an ingest of a file without
        file-level problems, the guarded load comes first; only if it stops at a row that
        breaks a check is the file loaded in full, in memory, to list its problems.
        """
        lit = f"'{_sql_str(str(path))}'"
        reader = (f"read_parquet({lit})" if fmt == "parquet"
                  else f"read_csv({lit}, header = true, all_varchar = true)")
        try:
            # No view over the reader: DuckDB would sniff the CSV again each time it is bound.
            rel = self.con.sql(f"SELECT * FROM {reader}")
            found = {name: str(t) for name, t in zip(rel.columns, rel.types, strict=True)}
        except duckdb.Error as exc:
            return {}, _bad_file(exc)
        self.checks, self.file_problems, self.present = build_checks(self.standard, found)
        queries = typed_queries(self.standard, reader, found, self.present, self.checks)
        if self.keep and not self.file_problems:
            self._attach_private_file()
            try:
                with self._ticking("loading"):
                    self.con.execute(f"CREATE TABLE snap.typed AS {queries.guarded}")
                self.table, self.extra = "snap.typed", queries.extra
                return found, None
            except duckdb.Error as exc:
                self.con.execute("DETACH snap")
                self.snapshot_file.unlink(missing_ok=True)
                if GUARD_ERROR not in str(exc):
                    return {}, _bad_file(exc)
            self.say("some rows break the standard; loading the file again to list them")
        self.table = "typed"
        try:
            with self._ticking("loading"):
                self.con.execute(f"CREATE OR REPLACE TABLE typed AS {queries.full}")
        except duckdb.Error as exc:
            return {}, _bad_file(exc)
        return found, None

    def _attach_private_file(self) -> None:
        """Attaches a new, empty `snapshot_file` as `snap` (after any earlier attempt)."""
        self.con.execute("DETACH DATABASE IF EXISTS snap")
        for leftover in (self.snapshot_file, _wal(self.snapshot_file)):
            leftover.unlink(missing_ok=True)
        self.con.execute(f"ATTACH '{_sql_str(str(self.snapshot_file))}' AS snap")


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


def _move(source: Path, target: Path) -> None:
    """Moves a file, copying it if target is on another file system; raises OSError."""
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copyfile(source, target)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(text: str) -> str:
    return text.replace("'", "''")


def _bad_file(exc: duckdb.Error) -> Problem:
    return Problem(None, None, "bad_file", None, _first_lines(str(exc)))


def _first_lines(message: str, n: int = 4) -> str:
    return " ".join(line.strip() for line in message.strip().splitlines()[:n] if line.strip())
