"""The node's dataset catalog: which immutable snapshots exist and which one is current.

Layout under the node's data directory (`HOME/data`):

    catalog.json                         the catalog, replaced atomically
    snapshots/<dataset>/<id>.duckdb      one immutable snapshot: one table named <dataset>
    .ingest.lock                         held while an ingest writes

The catalog only ever names snapshot files that were completely written, synced and
renamed into place before the catalog itself was replaced, so a crash at any moment
leaves either the old or the new catalog, each naming only files that exist.

Besides ingested data the catalog holds **derived** snapshots, kept apart in
`Catalog.derived`: `dataset_quality` (see `analyses/datasets/dataset_quality.toml`), the
node's own quality facts about its current snapshots. Every successful ingest writes a
fresh one with `write_quality_snapshot` and records it in the same catalog replacement
as the ingested snapshot, so both change together or not at all. `current` finds derived
snapshots like any other, so the executor needs no special case; `datasets` and
`snapshots` list ingested data only unless asked for the derived ones too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import duckdb
import pyarrow as pa

from analyses.datasets import load_standard
from node._ingest_hash import content_hash
from node.durable import fsync_dir, fsync_file
from node.errors import NodeError

__all__ = [
    "CATALOG_FORMAT", "DERIVED_DATASETS", "QUALITY_DATASET", "Catalog", "SnapshotRecord",
    "ingest_lock", "quality_rows", "remove_stale_temp", "write_quality_snapshot",
]

CATALOG_FORMAT = 1
CATALOG_FILE = "catalog.json"
SNAPSHOTS_DIR = "snapshots"
LOCK_FILE = ".ingest.lock"
#: Every temporary file an ingest writes carries this marker in its name.
TEMP_MARKER = ".tmp"
#: The derived dataset of quality facts, and every dataset the node derives, never ingests.
QUALITY_DATASET = "dataset_quality"
DERIVED_DATASETS = frozenset({QUALITY_DATASET})
#: The `src_system` of derived rows.
_DERIVED_SOURCE = "fedaudit-catalog"
_ARROW_TYPES = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(),
                "DATE": pa.date32(), "BOOLEAN": pa.bool_()}


@dataclass(frozen=True)
class SnapshotRecord:
    """What the catalog knows about one snapshot."""

    snapshot_id: str
    dataset: str
    standard_version: int
    #: The snapshot file, relative to the data directory, with forward slashes.
    path: str
    rows: int
    source_name: str
    source_sha256: str
    data_as_of: dt.date
    ingested_at: dt.datetime
    period_min: dt.date | None = None
    period_max: dt.date | None = None
    #: Months (first of the month) inside [period_min, period_max] that have no rows.
    missing_months: tuple[dt.date, ...] = ()
    #: Rows per ID status (see node.idno.STATUSES); empty if the dataset has no ID column.
    id_status_counts: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False)
    #: Rows with a valid ID whose area code is not a known province.
    unknown_area: int = 0
    current: bool = False
    #: NULL values per column; empty for snapshots recorded before they were counted.
    null_counts: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False)

    @property
    def derived(self) -> bool:
        """Whether the node derives this dataset itself (e.g. dataset_quality)."""
        return self.dataset in DERIVED_DATASETS

    @property
    def id_problems(self) -> int:
        """Rows whose ID can never be tokenised."""
        return sum(n for s, n in self.id_status_counts.items() if s not in ("valid", "upgraded"))

    def lag_days(self, today: dt.date) -> int:
        """Days between the data-as-of date and today (negative if in the future)."""
        return (today - self.data_as_of).days

    def to_json(self) -> dict:
        def day(d):
            return d.isoformat() if d else None

        return {
            "snapshot_id": self.snapshot_id, "dataset": self.dataset,
            "standard_version": self.standard_version, "path": self.path, "rows": self.rows,
            "period_min": day(self.period_min), "period_max": day(self.period_max),
            "missing_months": [m.isoformat() for m in self.missing_months],
            "source_name": self.source_name, "source_sha256": self.source_sha256,
            "data_as_of": self.data_as_of.isoformat(),
            "ingested_at": self.ingested_at.isoformat(),
            "id_status_counts": dict(self.id_status_counts), "unknown_area": self.unknown_area,
            "null_counts": dict(self.null_counts), "current": self.current,
        }

    @classmethod
    def from_json(cls, raw: dict) -> SnapshotRecord:
        """Parses one catalog entry; raises KeyError, TypeError or ValueError if malformed."""
        def day(s):
            return dt.date.fromisoformat(s) if s else None

        return cls(
            snapshot_id=str(raw["snapshot_id"]), dataset=str(raw["dataset"]),
            standard_version=int(raw["standard_version"]), path=str(raw["path"]),
            rows=int(raw["rows"]), period_min=day(raw["period_min"]),
            period_max=day(raw["period_max"]),
            missing_months=tuple(day(m) for m in raw["missing_months"]),
            source_name=str(raw["source_name"]), source_sha256=str(raw["source_sha256"]),
            data_as_of=day(raw["data_as_of"]),
            ingested_at=dt.datetime.fromisoformat(raw["ingested_at"]),
            id_status_counts=MappingProxyType({str(k): int(v) for k, v in
                                               dict(raw["id_status_counts"]).items()}),
            unknown_area=int(raw["unknown_area"]), current=bool(raw["current"]),
            # Catalogs written before NULL counts were recorded have none.
            null_counts=MappingProxyType({str(k): int(v) for k, v in
                                          dict(raw.get("null_counts") or {}).items()}),
        )


@dataclass(frozen=True)
class Catalog:
    """An immutable view of `data_dir/catalog.json`; `with_snapshot` + `save` change it."""

    data_dir: Path
    #: Snapshots of ingested datasets.
    records: tuple[SnapshotRecord, ...] = ()
    #: Snapshots of derived datasets (DERIVED_DATASETS), oldest first.
    derived: tuple[SnapshotRecord, ...] = ()

    @classmethod
    def load(cls, data_dir: str | os.PathLike) -> Catalog:
        """Reads the catalog of data_dir (empty if there is none yet).

        Raises NodeError if the catalog file exists but cannot be read or parsed.
        """
        data_dir = Path(data_dir)
        path = data_dir / CATALOG_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(data_dir)
        except OSError as exc:
            raise NodeError(f"cannot read {path}: {exc}; check its permissions") from exc
        try:
            raw = json.loads(text)
            if raw.get("format") != CATALOG_FORMAT:
                raise ValueError(f"unsupported catalog format {raw.get('format')!r}")
            records = tuple(SnapshotRecord.from_json(r) for r in raw["snapshots"])
            derived = tuple(SnapshotRecord.from_json(r) for r in raw.get("derived", []))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise NodeError(f"{path} is damaged ({exc}); restore it from a backup, or move "
                            f"it away and ingest the datasets again") from exc
        return cls(data_dir, records, derived)

    def snapshots(self, dataset: str | None = None, *,
                  derived: bool = False) -> tuple[SnapshotRecord, ...]:
        """All snapshots of ingested data (of one dataset if given), oldest first.

        With derived=True, the snapshots of derived datasets follow them.
        """
        pool = self.records + self.derived if derived else self.records
        return tuple(r for r in pool if dataset is None or r.dataset == dataset)

    def current(self, dataset: str) -> SnapshotRecord | None:
        """The current snapshot of dataset (ingested or derived), or None if there is none."""
        return next((r for r in self.records + self.derived
                     if r.dataset == dataset and r.current), None)

    def datasets(self, *, derived: bool = False) -> tuple[str, ...]:
        """Names of the ingested datasets that have a current snapshot, sorted.

        With derived=True, derived datasets with a current snapshot are included: these
        are the datasets a task can read at this node.
        """
        pool = self.records + self.derived if derived else self.records
        return tuple(sorted({r.dataset for r in pool if r.current}))

    def lag_days(self, today: dt.date) -> dict[str, int]:
        """Per dataset, days between its current data-as-of date and today."""
        return {r.dataset: r.lag_days(today) for r in self.records if r.current}

    def path_of(self, record: SnapshotRecord) -> Path:
        """The absolute path of a snapshot's DuckDB file."""
        return self.data_dir / record.path

    def with_snapshot(self, record: SnapshotRecord) -> Catalog:
        """A new catalog in which record is the current snapshot of its dataset.

        A record with the same snapshot id (the same content ingested again) is replaced.
        A derived dataset's record goes to `derived`, any other to `records`.
        """
        pool = self.derived if record.derived else self.records
        kept = (*(replace(r, current=False) if r.dataset == record.dataset else r
                  for r in pool if r.snapshot_id != record.snapshot_id),
                replace(record, current=True))
        if record.derived:
            return Catalog(self.data_dir, self.records, kept)
        return Catalog(self.data_dir, kept, self.derived)

    def save(self) -> None:
        """Replaces catalog.json atomically (temp file, fsync, rename, fsync of the folder).

        Raises OSError if the data directory cannot be written.
        """
        body = {"format": CATALOG_FORMAT, "snapshots": [r.to_json() for r in self.records],
                "derived": [r.to_json() for r in self.derived]}
        data = json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        atomic_write(self.data_dir / CATALOG_FILE, data.encode("utf-8"))


def snapshot_relpath(dataset: str, snapshot_id: str) -> str:
    """Where a snapshot lives, relative to the data directory."""
    return f"{SNAPSHOTS_DIR}/{dataset}/{snapshot_id}.duckdb"


def temp_path(final: Path) -> Path:
    """A temporary sibling of final, unique to this process, removed if stale."""
    return final.with_name(f".{final.name}.{os.getpid()}{TEMP_MARKER}")


def atomic_write(path: Path, data: bytes) -> None:
    """Writes data to path so that readers see the old or the new content, never a mix.

    Raises OSError if the folder cannot be written.
    """
    tmp = temp_path(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def publish(tmp: Path, final: Path) -> None:
    """Syncs a finished temporary file and renames it into place durably; raises OSError."""
    fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(final.parent)


@contextlib.contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """Holds the data directory's ingest lock (blocking) so ingests run one at a time.

    Raises OSError if the data directory cannot be created or locked.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_FILE, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def remove_stale_temp(data_dir: Path) -> list[Path]:
    """Removes temporary files left by an interrupted ingest; returns what it removed.

    Call it only while holding `ingest_lock`: then no other ingest is writing.
    """
    removed = []
    candidates = list(data_dir.glob(f"*{TEMP_MARKER}*"))
    candidates += list((data_dir / SNAPSHOTS_DIR).glob(f"*/*{TEMP_MARKER}*"))
    for path in candidates:
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _month_ranges(months: tuple[dt.date, ...]) -> str | None:
    """Missing months as short text, runs collapsed: "2024-03, 2024-05..2024-07" (None if none)."""
    if not months:
        return None
    runs: list[list[dt.date]] = []
    for m in months:
        if runs and (runs[-1][1].year * 12 + runs[-1][1].month + 1) == m.year * 12 + m.month:
            runs[-1][1] = m
        else:
            runs.append([m, m])
    return ", ".join(f"{a:%Y-%m}" if a == b else f"{a:%Y-%m}..{b:%Y-%m}" for a, b in runs)


def quality_rows(catalog: Catalog) -> list[dict]:
    """The rows of dataset_quality for catalog: one per current ingested dataset and column.

    Datasets are sorted by name, columns in their standard's order. A value that does not
    apply is None (see analyses/datasets/dataset_quality.toml). Raises
    DatasetStandardError if a dataset's standard cannot be loaded.
    """
    rows = []
    for name in catalog.datasets():
        record = catalog.current(name)
        standard = load_standard(name)
        has_periods = standard.period_column is not None
        facts = {
            "dataset": name, "snapshot_id": record.snapshot_id, "rows": record.rows,
            "invalid_ids": record.id_problems if standard.id_column else None,
            "period_min": record.period_min, "period_max": record.period_max,
            "missing_months": len(record.missing_months) if has_periods else None,
            "missing_month_list": _month_ranges(record.missing_months) if has_periods
            else None,
            "data_as_of": record.data_as_of, "src_system": _DERIVED_SOURCE,
            "load_batch_id": None,
        }
        for column in standard.columns:
            rows.append({**facts, "column_name": column.name,
                         "column_required": column.required,
                         "null_count": record.null_counts.get(column.name)})
    return rows


def _write_quality_file(con: duckdb.DuckDBPyConnection, path: Path, table: pa.Table) -> str:
    """Writes table as the dataset_quality table of a new DuckDB file at path; returns its id."""
    std = load_standard(QUALITY_DATASET)
    name = f'fedaudit_quality."{std.name}"'
    columns = ", ".join(f'"{c.name}" {c.type}' for c in std.columns)
    con.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS fedaudit_quality")
    con.register("quality_rows", table)
    try:
        con.execute(f"CREATE TABLE {name} ({columns})")
        con.execute(f"INSERT INTO {name} SELECT * FROM quality_rows")
        return content_hash(con, name, std.name, std.version)
    finally:
        con.unregister("quality_rows")
        con.execute("DETACH fedaudit_quality")


def write_quality_snapshot(catalog: Catalog,
                           con: duckdb.DuckDBPyConnection | None = None) -> SnapshotRecord:
    """Writes the dataset_quality snapshot of catalog's current data; returns its record.

    The file is written to a temporary name, synced and renamed into place, like an
    ingested snapshot; the caller records it with `with_snapshot` and `save` (after which
    it is current). Its id is a content hash, so the same facts give the same snapshot.
    con, if given, is an open DuckDB connection to write through (the file is attached
    to it and detached again), which saves starting a database. Call it while holding
    `ingest_lock`. Raises OSError if the data directory cannot be written, and
    duckdb.Error if DuckDB cannot write the file.
    """
    std = load_standard(QUALITY_DATASET)
    rows = quality_rows(catalog)
    schema = pa.schema([(c.name, _ARROW_TYPES[c.type]) for c in std.columns])
    table = pa.Table.from_pylist(rows, schema=schema)
    folder = catalog.data_dir / SNAPSHOTS_DIR / std.name
    folder.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(folder / "derive.duckdb")
    try:
        with duckdb.connect() if con is None else contextlib.nullcontext(con) as use:
            snapshot_id = _write_quality_file(use, tmp, table)
    except BaseException:
        for leftover in folder.glob(f"{tmp.name}*"):
            leftover.unlink(missing_ok=True)
        raise
    relpath = snapshot_relpath(std.name, snapshot_id)
    final = catalog.data_dir / relpath
    if final.exists():
        tmp.unlink()  # The same facts are already there; snapshots are immutable.
    else:
        publish(tmp, final)
    described = "".join(f"{name}={catalog.current(name).snapshot_id}\n"
                        for name in catalog.datasets())
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return SnapshotRecord(
        snapshot_id=snapshot_id, dataset=std.name, standard_version=std.version,
        path=relpath, rows=len(rows), source_name=CATALOG_FILE,
        source_sha256=hashlib.sha256(described.encode()).hexdigest(),
        data_as_of=now.date(), ingested_at=now,
        null_counts=MappingProxyType({c.name: sum(r[c.name] is None for r in rows)
                                      for c in std.columns}),
    )
