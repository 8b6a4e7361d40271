"""Resolve outputs as a linkage model's resolve SQL would return them, for the case tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

TASK = "1a2b3c4d5e6f708192a3b4c5d6e7f809"
MODEL = "pension.paid_after_death"
TITLE = "死亡人员冒领养老金"

#: Two people: Zhang (token bbb…, three basic-pension lines) and Li (token aaa…, one line).
#: Zhang's ID sorts first, so Zhang's case is case 0001 although Li's token sorts first.
ZHANG, LI = "110101195001011234", "440101194805052345"
ZHANG_TOKEN, LI_TOKEN = "b" * 64, "a" * 64

LINE_SCHEMA = pa.schema([
    ("token", pa.string()), ("subject_id", pa.string()), ("subject_name", pa.string()),
    ("amount", pa.decimal128(18, 2)), ("period", pa.date32()), ("item", pa.string()),
    ("setl_id", pa.int64()),
])


def resolve_output(rows: list[tuple] | None = None) -> pa.Table:
    """A resolve output with detail columns period, item and setl_id."""
    if rows is None:
        rows = [
            (ZHANG_TOKEN, ZHANG, "张三", Decimal("1500.00"), dt.date(2024, 3, 1), "basic", 11),
            (ZHANG_TOKEN, ZHANG, "张三", Decimal("1500.00"), dt.date(2024, 4, 1), "basic", 12),
            (ZHANG_TOKEN, ZHANG, "张三", Decimal("1520.50"), dt.date(2024, 5, 1), "basic", 13),
            (LI_TOKEN, LI, "李四", Decimal("980.25"), dt.date(2024, 6, 1), "basic", None),
        ]
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in LINE_SCHEMA]
    return pa.table({f.name: pa.array(list(col), f.type)
                     for f, col in zip(LINE_SCHEMA, columns, strict=True)}, schema=LINE_SCHEMA)
