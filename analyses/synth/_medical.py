"""Medical institutions and settlements: visits, pharmacy purchases and inpatient stays.

Magnitudes follow reference §4.3 [V/A]: about 13% of persons under 60 and 32% of those
over 60 admitted a year (some 17% overall), inpatient cost log-normal around a level's
mean, stays of 7–10 days.
A person's background stays are at least 30 days apart, so only planted cases and
look-alikes put two stays of one person close together. The mean inpatient cost of
each hospital and year is set exactly to the level's mean times the hospital's factor
(factors evenly spaced from 0.85 to 1.15), and stays last the level's usual length
within 8% and a day, so that only the planted MED-08 outliers stand out from their peers;
every hospital gets at least three admissions a year, so that peers exist.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

from analyses.synth._context import Ctx
from analyses.synth._model import Hospital, Person, Stay

__all__ = ["LEVELS", "background_settlements", "finalise_costs", "inpatient",
           "make_institutions", "new_stay", "ordinary", "busiest", "top_up_admissions"]

#: Hospital level: (share of admissions, mean inpatient cost in fen, mean stay in days).
LEVELS = {"1": (0.15, 400_000, 7), "2": (0.40, 800_000, 8), "3": (0.45, 1_500_000, 10)}
#: How much a planted MED-08 outlier inflates cost and length of stay.
OUTLIER_COST, OUTLIER_LOS = 2.5, 3.0
_IPT_DIAG = ("I10", "I63.9", "J18.9", "K80.2", "E11.9", "M51.2", "I25.1", "N20.0", "K35.8",
             "J44.1", "I50.9", "K29.7")
_TRAUMA_DIAG = ("S72.0", "S82.1", "S52.5", "S06.0")
_OPT_DIAG = ("J06.9", "K29.7", "I10", "E11.9", "M54.5", "J20.9", "L30.9", "H10.9")


def _spaced(rng, k: int, spread: float) -> list[float]:
    """k factors evenly spaced over [1 - spread, 1 + spread], in random order."""
    factors = [1 - spread + 2 * spread * i / (k - 1) for i in range(k)] if k > 1 else [1.0]
    rng.shuffle(factors)
    return factors


def make_institutions(ctx: Ctx) -> None:
    """Creates hospitals per level (one planted MED-08 outlier each) and pharmacies."""
    rng = ctx.rng("institutions")
    per_year = len(ctx.persons) * 0.17
    counties = ctx.prov.counties
    for level, (share, _, _) in LEVELS.items():
        k = max(5, round(per_year * share / 40))
        for cost_f, los_f in zip(_spaced(rng, k, 0.15), _spaced(rng, k, 0.08), strict=True):
            code = f"H{rng.choice(counties)}{ctx.serial('institution'):05d}"
            ctx.hospitals.append(Hospital(code, level, code[1:7], cost_f, los_f))
        outlier = rng.choice([h for h in ctx.hospitals if h.level == level])
        outlier.outlier = True
    # One big tertiary hospital with six times the usual volume: a look-alike for a
    # rule that ranks institutions by fund paid rather than by peer-relative KPIs.
    big = rng.choice([h for h in ctx.hospitals if h.level == "3" and not h.outlier])
    big.weight = 6.0
    for _ in range(max(5, len(ctx.persons) // 1000)):
        code = f"P{rng.choice(counties)}{ctx.serial('institution'):05d}"
        ctx.pharmacies.append(Hospital(code, "", code[1:7]))


def ordinary(ctx: Ctx, level: str | None = None) -> list[Hospital]:
    """The hospitals that are not planted MED-08 outliers, for other planted stays."""
    return [h for h in ctx.hospitals if not h.outlier and (level is None or h.level == level)]


def busiest(ctx: Ctx) -> Hospital:
    """The high-volume tertiary hospital: planted series of short stays go there, where
    they barely move the mean length of stay."""
    return max(ctx.hospitals, key=lambda h: h.weight)


def _allocate(ctx: Ctx, level: str) -> Hospital:
    """The next hospital of a level by smooth weighted round robin: each gets its share
    of admissions (by weight) without the noise of a random draw."""
    peers = [h for h in ctx.hospitals if h.level == level]
    for h in peers:
        h.credit += h.weight
    chosen = max(peers, key=lambda h: h.credit)
    chosen.credit -= sum(h.weight for h in peers)
    return chosen


def _insutype(p: Person) -> str:
    return "310" if p.role in ("EMP", "CIV") else "390"


def new_stay(ctx: Ctx, p: Person, med_type: str, inst: Hospital, begin: dt.date,
             end: dt.date, diag: str, total: int, settle_days: int = 0,
             refund: bool = False) -> Stay:
    """Adds a settlement to p (amounts split later by finalise_costs) and returns it."""
    serial = ctx.serial("settlement")
    when = end + dt.timedelta(days=settle_days)
    setl_time = f"{when.isoformat()} {8 + serial % 10:02d}:{serial * 7 % 60:02d}:{serial % 60:02d}"
    stay = Stay(ctx.node, f"{ctx.node.upper()}S{serial:09d}", med_type, inst, begin, end, diag,
                total, _insutype(p), setl_time, refund=refund)
    p.stays.append(stay)
    return stay


def _poisson(rng, lam: float) -> int:
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def inpatient(ctx: Ctx, rng, p: Person, begin: dt.date, inst: Hospital | None = None,
              diag: str | None = None, med_type: str = "21", los: int | None = None,
              ) -> Stay:
    """An inpatient stay of p from begin, at inst (or a hospital drawn by volume)."""
    if inst is None:
        inst = _allocate(ctx, rng.choices(tuple(LEVELS), [v[0] for v in LEVELS.values()])[0])
    _, cost, days = LEVELS[inst.level]
    if los is None:  # close to the hospital's norm, so the means of small hospitals are stable
        norm = days * OUTLIER_LOS if inst.outlier else days * inst.los_factor
        los = max(1, round(norm) + rng.choice((-1, 0, 0, 1)))
    total = round(cost * rng.lognormvariate(0, 0.3))
    diag = diag or rng.choice(_TRAUMA_DIAG if med_type == "22" else _IPT_DIAG)
    return new_stay(ctx, p, med_type, inst, begin, begin + dt.timedelta(days=los), diag, total,
                    settle_days=rng.randint(0, 2))


def background_settlements(ctx: Ctx) -> None:
    """Visits, pharmacy purchases and inpatient stays for every insured home person."""
    rng = ctx.rng("medical")
    w = ctx.window
    opt = [h for h in ctx.hospitals if h.level in ("1", "2")]
    for p in ctx.persons:
        if rng.random() > 0.95:
            continue  # not insured for medical care
        last_day = w.end if p.death is None or p.death > w.end else p.death - dt.timedelta(1)
        span = (last_day - w.start).days
        if span < 30:
            continue
        years = span / 365.25
        old = p.age_on(w.start) >= 60
        visits = _poisson(rng, (2.5 if old else 1.2) * years)
        buys = _poisson(rng, 0.8 * years)
        chronic = _poisson(rng, 4 * years) if old and rng.random() < 0.25 else 0
        for med_type, n, places in (("11", visits, opt), ("41", buys, ctx.pharmacies),
                                    ("14", chronic, opt)):
            for _ in range(n):
                d = w.start + dt.timedelta(days=rng.randrange(span + 1))
                median = {"11": 20_000, "41": 12_000, "14": 40_000}[med_type]
                diag = rng.choice(_OPT_DIAG) if med_type != "41" else ""
                new_stay(ctx, p, med_type, rng.choice(places), d, d, diag,
                         round(median * rng.lognormvariate(0, 0.6)))
        if p.reserved is not None:
            continue  # planted persons get only their planted stays
        rate = 0.32 if old else 0.13
        d = w.start + dt.timedelta(days=rng.randrange(60))
        while True:
            d += dt.timedelta(days=int(rng.expovariate(rate / 365.25)) + 1)
            if d > last_day - dt.timedelta(days=40):
                break
            med_type = "22" if rng.random() < 0.05 else "21"
            stay = inpatient(ctx, rng, p, d, med_type=med_type)
            if stay.end > last_day:
                p.stays.pop()
                break
            d = stay.end + dt.timedelta(days=30)


def _is_admission(s: Stay) -> bool:
    return s.med_type in ("21", "22") and not s.refund and s.institution.code[0] == "H"


def top_up_admissions(ctx: Ctx, minimum: int = 3) -> None:
    """Gives every hospital at least `minimum` admissions in each calendar year of the
    window (where a stay fits), so that peer medians stay meaningful in small provinces
    and short years. New stays go to unplanted persons with no other stay within 30 days.
    """
    rng = ctx.rng("top-up")
    w = ctx.window
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for p in ctx.persons:
        for s in p.stays:
            if _is_admission(s):
                counts[(s.institution.code, int(s.setl_time[:4]))] += 1
    people = [p for p in ctx.persons if p.reserved is None]
    rng.shuffle(people)
    for h in ctx.hospitals:
        _, _, days = LEVELS[h.level]
        for year in range(w.first // 12, w.last // 12 + 1):
            lo = max(w.start, dt.date(year, 1, 1))
            hi = min(w.end, dt.date(year, 12, 31))
            for _ in range(minimum - counts[(h.code, year)]):
                los = max(1, round(days * (OUTLIER_LOS if h.outlier else h.los_factor))
                          + rng.choice((-1, 0, 1)))
                if (hi - lo).days - 1 < los:
                    break  # the stay does not fit in this part of the year
                for _attempt in range(50):
                    p = people[rng.randrange(len(people))]
                    begin = lo + dt.timedelta(days=rng.randint(0, (hi - lo).days - 1 - los))
                    end = begin + dt.timedelta(days=los)
                    if p.death is not None and p.death <= end:
                        continue
                    if all(end + dt.timedelta(days=30) <= s.begin
                           or begin >= s.end + dt.timedelta(days=30)
                           for s in p.stays if s.med_type in ("21", "22", "52")):
                        inpatient(ctx, rng, p, begin, h, los=los)
                        break


def _split_amounts(s: Stay) -> None:
    """Splits a settlement's total into own-pay, in-scope, fund and account parts."""
    s.ownpay = s.total * 6 // 100
    s.inscp = s.total * 85 // 100
    employee = s.insutype == "310"
    if s.med_type in ("21", "22", "52"):
        s.fund = round(s.inscp * (0.846 if employee else 0.681))
        s.acct = 0
    elif employee:
        s.fund, s.acct = s.inscp * 30 // 100, s.inscp * 50 // 100
    else:
        s.fund, s.acct = s.inscp * 50 // 100, 0


def finalise_costs(ctx: Ctx, persons: list[Person]) -> None:
    """Scales inpatient costs so each hospital-year has exactly its target mean, then
    splits every settlement's amounts (call once all stays, planted ones too, exist).
    Only the settlements of this node are touched: persons of earlier provinces (guests)
    may be passed for the stays they have here; their stays elsewhere were finalised
    when their own province was."""
    groups: dict[tuple[str, int], list[Stay]] = defaultdict(list)
    targets = {}
    ours = [s for p in persons for s in p.stays if s.node == ctx.node]
    for s in ours:
        if _is_admission(s):
            key = (s.institution.code, int(s.setl_time[:4]))
            groups[key].append(s)
            h = s.institution
            targets[key] = LEVELS[h.level][1] * h.cost_factor * (
                OUTLIER_COST if h.outlier else 1.0)
    for key, stays in groups.items():
        mean = sum(s.total for s in stays) / len(stays)
        factor = targets[key] / mean
        for s in stays:
            s.total = max(10_000, round(s.total * factor))
        # Put the rounding remainder on the first stay so the mean is exact to the fen.
        stays[0].total += round(targets[key] * len(stays)) - sum(s.total for s in stays)
    for s in ours:
        _split_amounts(s)
