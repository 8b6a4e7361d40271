"""Month arithmetic, ages and text formats shared by every part of the generator.

A month is an integer index `year * 12 + month - 1`; money is an integer number of
fen (cents), formatted with two decimals only when a row is written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from analyses.synth.errors import SynthError

__all__ = [
    "Window", "add_months", "age_on", "completed_months", "day", "fmt_date", "fmt_month",
    "money", "month_end", "month_of", "month_start", "parse_month",
]

_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")


def month_of(d: dt.date) -> int:
    """The month index of a date."""
    return d.year * 12 + d.month - 1


def month_start(m: int) -> dt.date:
    """The first day of month index m."""
    return dt.date(m // 12, m % 12 + 1, 1)


def month_end(m: int) -> dt.date:
    """The last day of month index m."""
    return month_start(m + 1) - dt.timedelta(days=1)


def day(m: int, d: int) -> dt.date:
    """Day d of month m, clamped to the month's last day."""
    return month_start(m) + dt.timedelta(days=min(d, month_end(m).day) - 1)


def add_months(d: dt.date, n: int) -> dt.date:
    """d moved by n months, clamped to the end of the target month (as DuckDB does)."""
    m = month_of(d) + n
    return day(m, d.day)


def completed_months(start: dt.date, end: dt.date) -> int:
    """Completed months from start to end, matching DuckDB `date_sub('month', start, end)`."""
    n = month_of(end) - month_of(start)
    if add_months(start, n) > end:
        n -= 1
    return n


def age_on(birth: dt.date, when: dt.date) -> int:
    """Completed years, matching DuckDB `date_sub('year', birth, when)`."""
    return completed_months(birth, when) // 12


def fmt_month(m: int) -> str:
    """A month as the DATE text of its first day, e.g. 2024-03-01."""
    return f"{m // 12:04d}-{m % 12 + 1:02d}-01"


def fmt_date(d: dt.date | None) -> str:
    """A date as ISO text; None as the empty string (a NULL in CSV)."""
    return "" if d is None else d.isoformat()


def money(cents: int | None) -> str:
    """Fen as yuan with two decimals, e.g. -1234 -> -12.34; None as the empty string."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def parse_month(text: str, option: str) -> int:
    """Parses YYYY-MM into a month index; raises SynthError naming the option."""
    match = _MONTH_RE.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise SynthError(f"{option} must be a month written YYYY-MM (e.g. 2023-01); "
                         f"got {text!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if not 2000 <= year <= 2099:
        raise SynthError(f"{option} must be a month between 2000-01 and 2099-12; got {text!r}")
    return year * 12 + month - 1


@dataclass(frozen=True)
class Window:
    """The months the data covers, inclusive, and the fixed data-as-of date."""

    first: int
    last: int

    @property
    def months(self) -> range:
        return range(self.first, self.last + 1)

    @property
    def start(self) -> dt.date:
        return month_start(self.first)

    @property
    def end(self) -> dt.date:
        return month_end(self.last)

    @property
    def as_of(self) -> dt.date:
        """The data-as-of date of every file: the last day of the last month."""
        return self.end

    def clip(self, first: int, last: int) -> tuple[int, int] | None:
        """The part of [first, last] inside the window, or None if they do not meet."""
        lo, hi = max(first, self.first), min(last, self.last)
        return (lo, hi) if lo <= hi else None
