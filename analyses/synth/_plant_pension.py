"""Planted pension cases and their look-alikes: PEN-01, PEN-03, PEN-04, PEN-05, and moves.

Counts use the "test" rates of reference §4.5 with a floor of three planted cases per
model and province (two for look-alikes), so every model has work at any scale.
"""

from __future__ import annotations

import datetime as dt

from analyses.synth._calendar import month_of, month_start
from analyses.synth._codes import uscc
from analyses.synth._context import Ctx
from analyses.synth._model import Employer, Enrolment, Person
from analyses.synth._population import MEDIAN_PENSION
from analyses.synth._regions import province
from analyses.synth._streams import build_streams, pension_stream

__all__ = ["Pool", "choose_movers", "count", "pick", "plant_pensions"]


def count(rate: float, base: int, floor: int = 3) -> int:
    """The number of cases to plant: rate × base, never fewer than floor."""
    return max(floor, round(rate * base))


class Pool:
    """Unused home persons satisfying a predicate, drawn without replacement in an order
    fixed by rng; scanning the province once serves many draws."""

    def __init__(self, ctx: Ctx, rng, pred) -> None:
        self._items = ctx.candidates(pred)
        rng.shuffle(self._items)

    def take(self, n: int, model: str) -> list[Person]:
        """Up to n persons still unused, now reserved for model, in pid order."""
        chosen = []
        while self._items and len(chosen) < n:
            p = self._items.pop()
            if p.reserved is None:
                p.reserved = model
                chosen.append(p)
        return sorted(chosen, key=lambda p: p.pid)


def pick(ctx: Ctx, rng, n: int, model: str, pred) -> list[Person]:
    """Up to n unused home persons satisfying pred, reserved for model."""
    return Pool(ctx, rng, pred).take(n, model)


def _alive(ctx: Ctx, p: Person) -> bool:
    return p.death is None and not p.in_case and p.move_to is None and p.id_out is None


def _retiree(ctx: Ctx, p: Person, roles=("EMP", "CIV")) -> bool:
    return (_alive(ctx, p) and p.role in roles and p.retire is not None
            and p.retire <= ctx.window.start and not p.payroll_retiree)


def foreign_employer(ctx: Ctx, node: str) -> Employer:
    """An employer at a later node, for a person of this province working there."""
    dest = province(node)
    pool, counties = dest.prefectures[0]
    serial = ctx.serial("foreign")
    return Employer(f"E{pool}F{ctx.prov.code2}{serial:04d}",
                    uscc("91", counties[0], 90_000_000 + int(ctx.prov.code2) * 10_000 + serial),
                    f"{dest.name_zh}外来务工服务有限公司", pool, counties[0])


def choose_movers(ctx: Ctx) -> None:
    """Background moves to later provinces: retirees whose pension is transferred (the
    PEN-03 transfer-month look-alike) and employees whose contributions follow them."""
    if not ctx.later:
        return
    rng = ctx.rng("movers")
    w = ctx.window
    if w.last - w.first < 5:
        return
    retirees = [p for p in ctx.persons if _retiree(ctx, p)]
    workers = [p for p in ctx.persons if _alive(ctx, p) and p.role == "EMP" and not p.flexible
               and p.retire is None and p.ui_first is None and p.unit is None]
    for group, n in ((retirees, count(0.004, len(retirees), 2)),
                     (workers, count(0.004, len(workers), 2))):
        for i, p in enumerate(sorted(rng.sample(group, min(n, len(group))),
                                     key=lambda p: p.pid)):
            p.move_to = ctx.later[i % len(ctx.later)]
            p.move_month = rng.randint(w.first + 2, w.last - 2)
            if p.retire is None:
                p.move_employer = foreign_employer(ctx, p.move_to)
            p.reserved = "MOVE"
            ctx.export(p, p.move_to)


def plant_pensions(ctx: Ctx) -> None:
    """Plants PEN-01, PEN-03, PEN-04 and PEN-05 cases and look-alikes (streams built)."""
    _pen01(ctx)
    _pen03(ctx)
    _pen04(ctx)
    _pen05(ctx)


def _pen01(ctx: Ctx) -> None:
    rng = ctx.rng("PEN-01")
    w = ctx.window
    deaths = sum(1 for p in ctx.persons if p.death and p.pensions)
    for i, p in enumerate(pick(ctx, rng, count(0.01, deaths), "PEN-01",
                               lambda p: _retiree(ctx, p, ("EMP", "CIV", "RES"))
                               and p.age_on(w.start) >= 62)):
        # The province never learns of the death: streams stay those of a living person.
        if i % 3 == 2 or w.last - w.first < 4:
            p.death = w.start - dt.timedelta(days=rng.randint(150, 900))
        else:
            death_m = rng.randint(w.first, w.last - 3)
            p.death = month_start(death_m) + dt.timedelta(days=rng.randrange(27))
        ctx.plant("PEN-01", "anomaly", "PAID_AFTER_DEATH", person=p, stream=p.pensions[0])
    # Notification lag: paid one or two months after death, then recovered in full.
    dead = [p for p in ctx.persons if p.reserved is None and p.death and p.pensions
            and p.move_to is None and month_of(p.death) + 3 <= w.last]
    forced = set(id(p) for p in dead[:2])
    lag_alive = pick(ctx, rng, max(0, 2 - len(dead)), "PEN-01",
                     lambda p: _retiree(ctx, p, ("EMP", "CIV", "RES")))
    for p in lag_alive:
        p.death = month_start(rng.randint(w.first, max(w.first, w.last - 4))) + \
            dt.timedelta(days=rng.randrange(27))
        build_streams(ctx, p)
        dead.append(p)
        forced.add(id(p))
    for p in dead:
        if id(p) in forced or rng.random() < 0.25:
            s = p.pensions[-1]
            lag = rng.randint(1, 2)
            death_m = month_of(p.death)
            s.last = death_m + lag
            s.recovered = tuple(range(death_m + 1, death_m + lag + 1))
            p.death_lag = 30 * lag + rng.randint(5, 25)


def _pen03(ctx: Ctx) -> None:
    if not ctx.later:
        return
    rng = ctx.rng("PEN-03")
    w = ctx.window
    recipients = sum(1 for p in ctx.persons if p.pensions)
    for i, p in enumerate(pick(ctx, rng, count(0.003, recipients), "PEN-03",
                               lambda p: _retiree(ctx, p, ("EMP",)) and p.age_on(w.start) >= 60)):
        node = ctx.later[i % len(ctx.later)]
        dest = province(node)
        pool = dest.prefectures[0][0]
        first = rng.randint(w.first, max(w.first, w.last - 5))
        last = min(w.last, first + rng.randint(6, 36) - 1)
        scheme = "170" if i % 3 == 1 else "110"
        dup = pension_stream(ctx, p, scheme, node, pool, first, last)
        if scheme == "170":
            dup.res_base = dest.resident_base * 100
            p.enrol.append(Enrolment(node, "170", pool, "1", month_start(first),
                                     retire_date=month_start(first), retire_type="10"))
        else:
            p.enrol.append(Enrolment(node, "110", pool, "1", month_start(first),
                                     work_start=p.work_start, retire_date=p.retire,
                                     retire_type=p.retire_type))
        p.pensions.append(dup)
        ctx.export(p, node)
        ctx.plant("PEN-03", "anomaly", "PAID_IN_TWO_PROVINCES", person=p, a=p.pensions[0], b=dup)


def _res_stream(ctx: Ctx, p: Person, first: int, last: int, rng):
    p.res_account = p.res_account or rng.randrange(1_000, 15_000)
    s = pension_stream(ctx, p, "170", p.home, p.pool, first, last)
    p.pensions.append(s)
    p.enrol.append(Enrolment(p.home, "170", p.pool, "1", dt.date(2011, 7, 1),
                             retire_date=month_start(first), retire_type="10"))
    return s


def _pen04(ctx: Ctx) -> None:
    rng = ctx.rng("PEN-04")
    w = ctx.window
    recipients = sum(1 for p in ctx.persons if p.pensions)
    for p in pick(ctx, rng, count(0.003, recipients), "PEN-04",
                  lambda p: _retiree(ctx, p, ("EMP",)) and p.age_on(w.start) >= 60):
        first = rng.randint(w.first, max(w.first, w.last - 5))
        last = min(w.last, first + rng.randint(6, 36) - 1)
        res = _res_stream(ctx, p, first, last, rng)
        ctx.plant("PEN-04", "anomaly", "RESIDENT_AND_EMPLOYEE_PENSION", person=p, res=res,
                  emp=p.pensions[0])
    if w.last - w.first < 7:
        return
    # Moved from the resident to the employee scheme: the resident pension of the
    # transfer month is paid and recovered, the employee pension starts that month.
    for p in pick(ctx, rng, 2, "PEN-04",
                  lambda p: _alive(ctx, p) and p.role == "RES" and p.retire is not None
                  and p.retire <= w.start and p.age_on(w.start) >= 61):
        month = rng.randint(w.first + 3, w.last - 3)
        res = p.pensions[0]
        res.last, res.recovered = month, (month,)
        p.enrol[0].status = "3"
        p.pension_base = round(MEDIAN_PENSION * ctx.prov.pension_factor * 0.6)
        emp = pension_stream(ctx, p, "110", p.home, p.pool, month, w.last)
        p.pensions.append(emp)
        p.enrol.append(Enrolment(p.home, "110", p.pool, "1", dt.date(2010, 1, 1),
                                 retire_date=month_start(month), retire_type="10"))
        ctx.plant("PEN-04", "lookalike", "RESIDENT_TO_EMPLOYEE_TRANSFER", person=p, res=res,
                  emp=emp, month=month)


def _pen05(ctx: Ctx) -> None:
    rng = ctx.rng("PEN-05")
    w = ctx.window
    residents = sum(1 for p in ctx.persons if any(s.scheme == "170" for s in p.pensions))
    n = count(0.005, residents)
    chosen = pick(ctx, rng, n, "PEN-05", lambda p: _alive(ctx, p) and p.payroll_retiree
                  and p.age_on(w.start) >= 62)
    if len(chosen) < n:  # too few pre-2014 public retirees: make some
        for p in pick(ctx, rng, n - len(chosen), "PEN-05",
                      lambda p: _alive(ctx, p) and p.role in ("NONE", "RES")
                      and p.cadre is None and p.birth.year < 1950):
            p.role, p.staffing, p.payroll_retiree = "CIV", "30", True
            p.unit = (f"G{p.county}005", f"{ctx.prov.name_zh}人民医院")
            p.retire = month_start(month_of(p.birth) + 60 * 12 + 1)
            p.pension_base = round(MEDIAN_PENSION * ctx.prov.pension_factor * 1.5)
            build_streams(ctx, p)
            chosen.append(p)
    for p in chosen:
        first = rng.randint(w.first, max(w.first, w.last - 5))
        last = min(w.last, first + rng.randint(6, 36) - 1)
        res = _res_stream(ctx, p, first, last, rng)
        ctx.plant("PEN-05", "anomaly", "PUBLIC_PAYROLL_AND_RESIDENT_PENSION", person=p,
                  res=res, payroll=p.payroll[0])
    # Village cadres over 60: their allowance comes through the payroll, legitimately.
    for p in pick(ctx, rng, 2, "PEN-05",
                  lambda p: _alive(ctx, p) and p.role == "RES" and p.retire is not None
                  and p.retire <= w.start and p.cadre is None):
        village = f"{p.county}{1 + p.pid % 9:03d}{1 + p.pid % 20:03d}"
        p.cadre = (f"V{village}", f"{ctx.prov.name_zh}第{village[-3:]}村民委员会")
        build_streams(ctx, p)
        payroll = next(r for r in p.payroll if r.staffing == "50")
        ctx.plant("PEN-05", "lookalike", "VILLAGE_CADRE", person=p, res=p.pensions[0],
                  payroll=payroll)

