"""Writes CSV files in exactly the columns of the dataset standards, and the federation spec.

Values are formatted by the standard's column types: DATE as YYYY-MM-DD, DECIMAL from
fen with two decimals, BOOLEAN as true/false, NULL as an empty field. Files are UTF-8
with a header row and `\\n` line ends, so the same rows always give the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from analyses.datasets import load_standard
from analyses.synth._calendar import money

__all__ = ["TableWriter", "write_csv", "write_spec"]


def _decimal(v) -> str:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"a DECIMAL value must be an integer number of fen, got {v!r}")
    return money(v)


def _date(v) -> str:
    return v.isoformat() if isinstance(v, dt.date) else str(v)


def _boolean(v) -> str:
    return "true" if v else "false"


_FORMATS = {"DATE": _date, "TIMESTAMP": str, "DECIMAL(14,2)": _decimal, "BOOLEAN": _boolean,
            "DOUBLE": lambda v: f"{float(v):.4g}", "INTEGER": lambda v: str(int(v)),
            "BIGINT": lambda v: str(int(v)), "VARCHAR": str}


class TableWriter:
    """An open CSV file of one standard dataset; rows are dicts keyed by column name."""

    def __init__(self, path: Path, dataset: str, common: dict) -> None:
        standard = load_standard(dataset)
        self.dataset = dataset
        self.columns = standard.column_names
        self._names = frozenset(self.columns)
        self._formats = [_FORMATS[c.type] for c in standard.columns]
        self._common = common
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._csv.writerow(self.columns)
        self.rows = 0

    def write(self, rows: Iterable[dict]) -> None:
        """Appends rows; raises ValueError for a column the standard does not have."""
        common, names = self._common, self._names
        pairs = list(zip(self.columns, self._formats, strict=True))
        out = self._csv
        for row in rows:
            if not row.keys() <= names:
                raise ValueError(f"{self.dataset} has no column(s) "
                                 f"{sorted(row.keys() - names)}; the generator and the "
                                 f"standard disagree")
            values = []
            for name, fmt in pairs:
                v = row.get(name, common.get(name))
                values.append("" if v is None else fmt(v))
            out.writerow(values)
            self.rows += 1

    def close(self) -> None:
        self._file.close()


def write_csv(path: Path, columns: tuple[str, ...], rows: Iterable[dict]) -> None:
    """Writes a plain CSV (the truth files): header, then each row's values as text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(columns)
        for row in rows:
            out.writerow(["" if row.get(c) is None else str(row[c]) for c in columns])


def _toml_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def write_spec(path: Path, header: str, nodes: list[tuple[str, str, str, tuple[str, ...]]],
               ) -> None:
    """Writes the federation spec: nodes (id, level, region, datasets), two issuers, an office."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines += ['name = "synth"', 'coordinator = "127.0.0.1:7443"', ""]
    for node_id, level, region, datasets in nodes:
        lines += ["[[node]]", f'id = "{node_id}"', f'level = "{level}"', f'region = "{region}"',
                  f"datasets = {_toml_list(datasets)}", ""]
    lines += ["[[issuer]]", 'id = "hq-lead"', 'roles = ["lead"]', "",
              "[[issuer]]", 'id = "hq-approver"', 'roles = ["approver"]', "",
              "[[office]]", 'id = "office-south"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
