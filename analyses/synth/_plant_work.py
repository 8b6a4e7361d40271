"""Planted retirement and unemployment cases with their look-alikes: PEN-06 and UNE-01."""

from __future__ import annotations

import datetime as dt

from analyses.synth._calendar import month_of, month_start
from analyses.synth._context import Ctx
from analyses.synth._model import Contrib, Person
from analyses.synth._plant_pension import Pool, count, pick
from analyses.synth._streams import build_streams

__all__ = ["MIN_RETIRE_MONTHS", "plant_work"]

#: PEN-06 minimum retirement age in months by (retire_type, male) [K, reference §2.2]:
#: normal 60/50 (women workers 50, women cadres 55: the lower age is the floor),
#: special work 55/45, illness 50/45, other early 55/45.
MIN_RETIRE_MONTHS = {
    ("10", True): 720, ("10", False): 600, ("20", True): 660, ("20", False): 540,
    ("30", True): 600, ("30", False): 540, ("40", True): 660, ("40", False): 540,
}
#: Planted irregular retirement ages in years, below the floor, by (type, male).
_BELOW = {("10", True): (50, 56), ("10", False): (44, 48), ("20", True): (48, 53),
          ("20", False): (40, 43), ("30", True): (42, 48), ("30", False): (38, 43)}
#: Look-alike ages: legitimate early retirement, by (type, male).
_LEGIT = {("20", True): (55, 59), ("20", False): (45, 49), ("30", True): (50, 59),
          ("30", False): (45, 54)}


def plant_work(ctx: Ctx) -> None:
    """Plants PEN-06 and UNE-01 cases and look-alikes (streams already built)."""
    _pen06(ctx)
    _une01(ctx)


def _working(ctx: Ctx, p: Person) -> bool:
    return (p.death is None and not p.in_case and p.move_to is None and p.role == "EMP"
            and not p.flexible and p.employer is not None and p.ui_first is None
            and p.unit is None and p.work_start is not None
            and p.work_start <= ctx.window.start)


def _retire_at(p: Person, years: int, extra: int = 0) -> dt.date:
    return month_start(month_of(p.birth) + years * 12 + 1 + extra)


def _early(ctx: Ctx, rng, p: Person, rtype: str, ages: tuple[int, int]) -> bool:
    """Retires p at an age in ages under rtype, inside or before the window."""
    limit = p.age_on(ctx.window.end) - 1
    lo, hi = ages[0], min(ages[1], limit)
    if lo > hi:
        return False
    p.retire = _retire_at(p, rng.randint(lo, hi), rng.randint(0, 3))
    if p.retire > ctx.window.end:
        p.retire = _retire_at(p, lo)
    p.retire_type = rtype
    return p.retire <= ctx.window.end


def _pen06(ctx: Ctx) -> None:
    rng = ctx.rng("PEN-06")
    w = ctx.window
    retirees = sum(1 for p in ctx.persons if p.retire is not None)
    n = count(0.01, retirees)
    shell = next(e for e in ctx.employers if e.shell)
    reasons = ["BELOW_STATUTORY_AGE", "WORK_START_BEFORE_16", "RES_UNDER_60"]
    reasons += [("BELOW_STATUTORY_AGE", "BELOW_STATUTORY_AGE", "BELOW_STATUTORY_AGE",
                 "WORK_START_BEFORE_16", "RES_UNDER_60")[i % 5] for i in range(n - 3)]
    below = {t: Pool(ctx, rng, lambda p, t=t: _working(ctx, p)
                     and p.age_on(w.end) - 1 >= _BELOW[(t, p.male)][0]) for t in ("10", "20", "30")}
    early_work = Pool(ctx, rng, lambda p: p.death is None and not p.in_case
                      and p.move_to is None and p.role == "EMP" and p.retire is not None
                      and p.retire <= w.start)
    residents = Pool(ctx, rng, lambda p: p.death is None and not p.in_case and p.role == "RES"
                     and p.move_to is None and 57 <= p.age_on(w.end)
                     and p.age_on(w.start) <= 58)
    for i, reason in enumerate(reasons):
        if reason == "BELOW_STATUTORY_AGE":
            rtype = ("10", "10", "20", "30")[i % 4]
            found = below[rtype].take(1, "PEN-06")
            for p in found:
                _early(ctx, rng, p, rtype, _BELOW[(rtype, p.male)])
                if rng.random() < 0.7:
                    p.employer = shell  # irregular retirements cluster at one employer
        elif reason == "WORK_START_BEFORE_16":
            found = early_work.take(1, "PEN-06")
            for p in found:
                p.work_start = p.birth + dt.timedelta(days=rng.randint(365, 14 * 365))
        else:
            found = residents.take(1, "PEN-06")
            for p in found:
                _early(ctx, rng, p, "10", (56, 59))
        for p in found:
            build_streams(ctx, p)
            ctx.plant("PEN-06", "anomaly", reason, person=p, enrol=p.enrol[0])
    for rtype, reason in (("20", "SPECIAL_WORK_AT_AGE"), ("30", "ILLNESS_AT_AGE")):
        for p in pick(ctx, rng, 2, "PEN-06", lambda p, t=rtype: _working(ctx, p)
                      and p.age_on(w.end) - 1 >= _LEGIT[(t, p.male)][0]):
            _early(ctx, rng, p, rtype, _LEGIT[(rtype, p.male)])
            build_streams(ctx, p)
            ctx.plant("PEN-06", "lookalike", reason, person=p, enrol=p.enrol[0])


def _une01(ctx: Ctx) -> None:
    rng = ctx.rng("UNE-01")
    w = ctx.window
    if w.last - w.first < 8:
        return
    recipients = sum(1 for p in ctx.persons if p.ui)
    n = count(0.01, recipients)
    kinds = [("EMPLOYED", "RECEIVING_PENSION", "DECEASED")[i % 3] for i in range(max(3, n))]
    retiring = Pool(ctx, rng, lambda p: _working(ctx, p) and p.retire is not None
                    and w.first + 4 <= month_of(p.retire) <= w.last - 1)
    younger = Pool(ctx, rng, lambda p: _working(ctx, p) and p.age_on(w.start) < 55
                   and (p.retire is None or p.retire > w.end))
    for kind in kinds:
        found = (retiring if kind == "RECEIVING_PENSION" else younger).take(1, "UNE-01")
        for p in found:
            if kind == "RECEIVING_PENSION":
                retire_m = month_of(p.retire)
                p.ui_first = retire_m - rng.randint(2, 4)
                p.ui_last = min(w.last, retire_m + rng.randint(1, 3))
                months = list(range(retire_m, p.ui_last + 1))
            else:
                p.ui_first = rng.randint(w.first + 1, w.last - 7)
                p.ui_last = p.ui_first + rng.randint(5, 6)
            if kind == "EMPLOYED":
                p.reemploy = rng.randint(p.ui_first + 1, p.ui_last - 1)
                months = list(range(p.reemploy, p.ui_last + 1))
            if kind == "DECEASED":
                death_m = rng.randint(p.ui_first + 1, p.ui_last - 1)
                p.death = month_start(death_m) + dt.timedelta(days=rng.randrange(27))
                months = list(range(death_m + 1, p.ui_last + 1))
            build_streams(ctx, p)
            if kind == "DECEASED":  # the province did not learn of the death
                p.ui[0].last = p.ui_last
                for e in p.enrol:
                    e.status = "2"
            ctx.plant("UNE-01", "anomaly", kind, person=p, months=months)
    # Look-alikes: the last month of the old job is contributed in the first benefit
    # month; a flexible worker pays his own contributions while drawing benefit.
    for reason in ("FINAL_MONTH_CONTRIBUTION", "FLEXIBLE_EMPLOYMENT"):
        for p in younger.take(2, "UNE-01"):
            p.ui_first = rng.randint(w.first + 1, w.last - 7)
            p.ui_last = p.ui_first + rng.randint(4, 6)
            build_streams(ctx, p)
            if reason == "FINAL_MONTH_CONTRIBUTION":
                job = next(c for c in p.contribs if c.last == p.ui_first - 1)
                job.last = p.ui_first
                months = [p.ui_first]
            else:
                months = list(range(p.ui_first + 1, p.ui_last))
                p.contribs.append(Contrib(p.home, "110", p.pool, "30", months[0], months[-1],
                                          None, base=round(p.wage * 0.6)))
            ctx.plant("UNE-01", "lookalike", reason, person=p, months=months)
