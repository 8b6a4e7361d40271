"""The rows of a result an office may see: region filtering of a Parquet result, streamed.

A row belongs to a region through its region-code columns: a column named ``region``, one
whose name ends in ``admdvs`` (e.g. ``pool_admdvs``), and, for per-node rows, a ``node_id``
or ``node`` column mapped to the node's region through the roster. When a result has
several such columns a row is shown only if every one of them is inside the granted
regions: a row that straddles a boundary is withheld rather than leaked. The filter runs
on the coordinator, batch by batch, before anything is streamed (DESIGN §11).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from coordinator.results import MAX_CHUNK, open_result, result_chunks
from coordinator.sharing import SharingError, region_matches

__all__ = [
    "NODE_COLUMNS",
    "RowScope",
    "office_provenance",
    "region_columns",
    "scoped_chunks",
    "scoped_rows",
]

#: Columns that name the node a row came from.
NODE_COLUMNS = ("node_id", "node")
#: Rows per batch read from the Parquet file while filtering.
_BATCH_ROWS = 16_384


def region_columns(names: list[str]) -> list[str]:
    """The region-code columns among ``names``, in table order."""
    return [n for n in names
            if n.lower() == "region" or n.lower().endswith("admdvs") or n in NODE_COLUMNS]


@dataclass(frozen=True)
class RowScope:
    """Which rows to release: those inside ``regions`` (empty: every row).

    ``node_regions`` maps each node id of the roster to its region code, for rows that
    name their node rather than a region.
    """

    regions: tuple[str, ...] = ()
    node_regions: Mapping[str, str] | None = None

    @property
    def limited(self) -> bool:
        """Whether the scope drops rows outside some regions."""
        return bool(self.regions)

    def covers_node(self, node_id: str) -> bool:
        """Whether the node's region is inside the scope."""
        return region_matches((self.node_regions or {}).get(node_id), self.regions)

    def mask(self, batch: pa.RecordBatch, columns: list[str]) -> pa.Array:
        """A boolean array: True for the rows of ``batch`` inside the scope."""
        keep = pa.array([True] * batch.num_rows, pa.bool_())
        for name in columns:
            values = pc.cast(batch.column(name), pa.string())
            if name in NODE_COLUMNS:
                inside = sorted(n for n in (self.node_regions or {}) if self.covers_node(n))
                match = pc.is_in(values, value_set=pa.array(inside, pa.string()))
            else:
                match = pa.array([False] * batch.num_rows, pa.bool_())
                for prefix in self.regions:
                    match = pc.or_(match, pc.fill_null(pc.starts_with(values, prefix), False))
            keep = pc.and_(keep, pc.fill_null(match, False))
        return keep


def _columns_for(parquet: pq.ParquetFile, scope: RowScope, task_id: str) -> list[str]:
    columns = region_columns(parquet.schema_arrow.names)
    if not columns:
        raise SharingError(
            f"the result of task {task_id} has no region column (region, *admdvs, node), so "
            f"a grant limited to regions {', '.join(scope.regions)} gives nothing; ask the "
            "owner for a grant without --regions", "FORBIDDEN")
    return columns


def scoped_rows(path: str | os.PathLike, scope: RowScope, task_id: str) -> int:
    """How many rows of the Parquet result at ``path`` the scope releases.

    Reads only the region columns. Raises SharingError (FORBIDDEN) when the scope is
    limited and the result has no region column, ResultError if the file is unreadable.
    """
    with open_result(path) as parquet:
        if not scope.limited:
            return parquet.metadata.num_rows
        columns = _columns_for(parquet, scope, task_id)
        return sum(pc.sum(scope.mask(batch, columns)).as_py() or 0
                   for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=columns))


def scoped_chunks(path: str | os.PathLike, scope: RowScope, task_id: str,
                  max_chunk: int = MAX_CHUNK) -> Iterator[bytes]:
    """The released rows as one Arrow IPC stream, in chunks of at most ``max_chunk`` bytes.

    An unlimited scope streams the whole file (``results.result_chunks``). Memory stays
    near one batch and one chunk. Raises like ``scoped_rows``.
    """
    if not scope.limited:
        yield from result_chunks(path, max_chunk)
        return
    from node.arrow_stream import ipc_chunks

    with open_result(path) as parquet:
        columns = _columns_for(parquet, scope, task_id)
        kept = (batch.filter(scope.mask(batch, columns))
                for batch in parquet.iter_batches(batch_size=_BATCH_ROWS))
        yield from ipc_chunks((b for b in kept if b.num_rows), parquet.schema_arrow, max_chunk,
                              digest=False)


def office_provenance(provenance: Mapping, owner: str, scope: RowScope, grants,
                      rows: int) -> dict:
    """The provenance an office sees: the nodes inside its regions, its rows and grants.

    ``grants`` are the verified grants (coordinator.sharing.Grant) the read used.
    """
    from coordinator.sharing import iso_time

    view = {k: provenance[k] for k in ("task_id", "analysis", "state", "combined_at", "notes")
            if k in provenance}
    view["rows"] = rows
    view["nodes"] = [n for n in provenance.get("nodes", [])
                     if not scope.limited or scope.covers_node(n["node_id"])]
    view["shared"] = {
        "owner": owner,
        "grants": [g.grant_id for g in grants],
        "parts": sorted({g.parts for g in grants}),
        "regions": list(scope.regions),
        "purposes": sorted({g.purpose for g in grants}),
        "expires_at": iso_time(max(g.expires_at for g in grants)),
    }
    return view
