"""Small benefit_payment files for end-to-end tests: valid IDs, disjoint persons per node."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from node.idno import check_char

COLUMNS = ["pay_id", "id_no", "psn_no", "scheme_code", "benefit_item", "period", "pay_date",
           "amount", "pool_admdvs", "pay_status"]
SCHEMES = {"110": ("0101", 3200), "120": ("0101", 5100), "170": ("0102", 210)}


def person_id(region: str, n: int) -> str:
    """An 18-character ID with a real birth date and a correct check character."""
    birth = f"19{40 + n % 40:02d}{1 + n % 12:02d}{1 + n % 28:02d}"
    first17 = f"{region}{birth}{n % 1000:03d}"
    return first17 + check_char(first17)


def write_benefit_payments(path: Path, region: str, persons: int, seed: int) -> Path:
    """Writes a month-by-month payment roll of `persons` people for 2024-01..2024-06."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for p in range(persons):
            scheme = rng.choice(sorted(SCHEMES))
            item, base = SCHEMES[scheme]
            amount = round(base * rng.uniform(0.6, 1.8), 2)
            id_no = person_id(region, seed * 10_000 + p)
            for month in range(1, 7):
                out.writerow([f"{region}-{p}-{month}", id_no, f"P{seed}{p:05d}", scheme, item,
                              f"2024-{month:02d}-01", f"2024-{month:02d}-15", f"{amount:.2f}",
                              region, "1"])
    return path
