"""Writes named pyarrow tables as the sheets of one Excel workbook, atomically.

Used wherever people take tables to Excel: HQ's result exports and findings workbooks
(coordinator.findings_cli) and a node's case exports for field teams (node.cases_cli).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal

import pyarrow as pa

from node.durable import replace_atomically
from node.errors import NodeError

__all__ = ["MAX_COLUMNS", "MAX_ROWS", "MAX_TEXT", "XlsxError", "write_xlsx"]

#: Rows and columns one Excel sheet holds (the header takes the first row), and the
#: longest text of one cell.
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
MAX_TEXT = 32_767
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


class XlsxError(NodeError):
    """Tables an Excel workbook cannot hold, or no openpyxl; the message says what to do."""


def _sheet_names(names) -> list[str]:
    """Valid, unique Excel sheet names: at most 31 characters, none of []:*?/\\."""
    used: set[str] = set()
    out = []
    for name in names:
        base = _BAD_SHEET_CHARS.sub("_", str(name)).strip("'")[:31] or "sheet"
        candidate, n = base, 1
        while candidate.lower() in used:
            n += 1
            candidate = f"{base[:31 - len(str(n)) - 1]}_{n}"
        used.add(candidate.lower())
        out.append(candidate)
    return out


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _number_format(kind: pa.DataType) -> str | None:
    if pa.types.is_decimal(kind):
        return "#,##0" + ("." + "0" * kind.scale if kind.scale > 0 else "")
    if pa.types.is_date(kind):
        return "yyyy-mm-dd"
    if pa.types.is_timestamp(kind):
        return "yyyy-mm-dd hh:mm:ss"
    return None


def _value(value, sheet: str, column: str):
    """A cell value openpyxl writes as is; raises XlsxError for an over-long text."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None or isinstance(value, bool | int | Decimal | dt.date | dt.time
                                    | dt.timedelta) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        value = value.hex()
    elif isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False, default=str)
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    if len(text) > MAX_TEXT:
        raise XlsxError(f"sheet {sheet}, column {column} holds a text of {len(text):,} "
                               f"characters, more than an Excel cell holds ({MAX_TEXT:,}); "
                               "export it as csv or parquet instead")
    return text


def _write_sheet(workbook, title: str, table: pa.Table) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    names = table.column_names
    formats = [_number_format(f.type) for f in table.schema]
    sample = table.slice(0, 200).to_pylist()
    for i, name in enumerate(names, start=1):
        longest = max([_width(name)] + [_width(str(r[name])) for r in sample
                                        if r[name] is not None])
        sheet.column_dimensions[get_column_letter(i)].width = min(longest + 2, 60)
    header = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=_value(name, title, name))
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for batch in table.to_batches():
        for row in batch.to_pylist():
            cells = []
            for name, fmt in zip(names, formats, strict=True):
                cell = WriteOnlyCell(sheet, value=_value(row[name], title, name))
                if cell.data_type == "f":
                    cell.data_type = "s"  # text that starts with "=" stays text
                if fmt and row[name] is not None:
                    cell.number_format = fmt
                cells.append(cell)
            sheet.append(cells)


def write_xlsx(tables: Mapping[str, pa.Table], path: str | os.PathLike) -> None:
    """Writes each table as one sheet of an Excel workbook at `path`, atomically.

    Sheet names are made valid for Excel (31 characters, none of []:*?/\\, unique). Each
    sheet has a bold, frozen header row; numbers, decimals, dates and timestamps (in UTC)
    stay numbers and dates, text that starts with "=" stays text (never a formula), and
    nested values are written as JSON. Raises XlsxError when there is no table, a
    table has more rows or columns than a sheet holds, a text is longer than a cell holds
    (export csv or parquet instead), or openpyxl is not installed; OSError when the file
    cannot be written (an existing file is then left as it was).
    """
    try:
        from openpyxl import Workbook
    except ImportError as exc:
        raise XlsxError("writing xlsx needs openpyxl: install it with "
                               "`pip install openpyxl`, or export csv or parquet") from exc
    if not tables:
        raise XlsxError("there is no table to write; nothing was exported")
    for name, table in tables.items():
        if table.num_rows >= MAX_ROWS or table.num_columns > MAX_COLUMNS:
            raise XlsxError(
                f"table {name} has {table.num_rows:,} rows and {table.num_columns:,} columns; "
                f"an Excel sheet holds {MAX_ROWS - 1:,} rows and {MAX_COLUMNS:,} columns: "
                "export it as csv or parquet instead")
    workbook = Workbook(write_only=True)
    for title, table in zip(_sheet_names(tables), tables.values(), strict=True):
        _write_sheet(workbook, title, table)
    with replace_atomically(path) as temp:
        workbook.save(temp)
