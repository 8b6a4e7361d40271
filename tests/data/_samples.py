"""Small, valid sample files of the standard datasets, written the way government exports are."""

from __future__ import annotations

import csv
from pathlib import Path

# The check character is computed here from the standard's own definition, independently
# of node.idno, so that the tests do not trust the code under test.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(area: str, birth: str, seq: int) -> str:
    """A valid 18-character ID from a 6-digit area, a YYYYMMDD birth date and a sequence."""
    first17 = f"{area}{birth}{seq:03d}"
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


BENEFIT_HEADER = ["pay_id", "id_no", "psn_no", "scheme_code", "benefit_item", "period",
                  "pay_date", "amount", "pool_admdvs", "pay_status", "src_system"]


def benefit_rows(n: int = 24, months: list[str] | None = None) -> list[list[str]]:
    """n valid benefit_payment rows over the given months (YYYY-MM), cycling through them."""
    months = months or [f"2024-{m:02d}" for m in range(1, 13)]
    rows = []
    for i in range(n):
        month = months[i % len(months)]
        rows.append([f"P{i:06d}", make_id("440106", f"19{50 + i % 40}0{1 + i % 9}15", i % 1000),
                     f"PSN{i // 12}", "110", "0101", f"{month}-01", f"{month}-15",
                     f"{3000 + i}.50", "440106", "1", "人社核心平台"])
    return rows


INSURED_HEADER = ["id_no", "name", "gender", "birth_date", "psn_no", "scheme_code",
                  "pool_admdvs", "enroll_status", "retire_flag", "data_as_of"]


def insured_rows() -> list[list[str]]:
    """Insured persons with Chinese names, so that GBK and UTF-8 files differ in bytes."""
    names = ["张三", "李四", "王五", "赵六", "孙七", "周八", "吴九", "郑十"]
    return [[make_id("110105", f"19{60 + i}0{1 + i}0{1 + i}", i), name, "1" if i % 2 else "2",
             f"19{60 + i}-0{1 + i}-0{1 + i}", f"PSN{i}", "110", "110105", "1",
             "true" if i < 3 else "false", "2024-06-30"]
            for i, name in enumerate(names)]


def write_csv(path: Path, header: list[str], rows: list[list[str]],
              encoding: str = "utf-8") -> Path:
    """Writes a CSV file with a header row in the given encoding; returns path."""
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path
