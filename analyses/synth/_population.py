"""A province's people: ages, schemes, employers, retirement, death and unemployment.

Shares follow reference §4.1–4.2 [A]: about 21% aged 60 or over, 51% male, employees
and residents split by hukou, retirees dying at about 3% a year, one unemployment spell
in roughly 1.5% of employees a year.
"""

from __future__ import annotations

import datetime as dt

from analyses.synth._calendar import add_months, month_of, month_start
from analyses.synth._codes import chinese_name, make_id, uscc
from analyses.synth._context import Ctx
from analyses.synth._model import Employer, Person
from analyses.synth._regions import PROVINCES

__all__ = ["make_people", "statutory_retirement"]

#: Age at the window's start: (youngest, oldest, share).
AGE_BANDS = ((0, 15, 0.17), (16, 29, 0.15), (30, 44, 0.22), (45, 59, 0.25),
             (60, 69, 0.11), (70, 79, 0.07), (80, 95, 0.03))
#: National average monthly wage, fen, before the province's multiplier.
NATIONAL_WAGE = 750_000
#: National median enterprise pension, fen (reference §4.3: median ≈ 2,900 yuan).
MEDIAN_PENSION = 290_000
_TRADES = ("恒达 华盛 金源 宏图 新世纪 东方 瑞丰 鸿运 "
           "广信 永安 建业 联创 天成 中信 海川 润泽").split()
_INDUSTRIES = "机械 贸易 物流 建筑 电子 食品 纺织 商贸 科技 餐饮 物业 化工".split()
_DEPTS = (("10", "人民政府办公室"), ("10", "财政局"), ("20", "档案馆"),
          ("30", "第一中学"), ("30", "人民医院"), ("30", "实验小学"),
          ("10", "市场监督管理局"), ("30", "疾病预防控制中心"))


def _mortality(age: int) -> float:
    """Yearly probability of death at an age (crude rates, reference §4.1 [A])."""
    if age < 40:
        return 0.0006
    if age < 60:
        return 0.003
    if age < 70:
        return 0.01
    if age < 80:
        return 0.03
    return 0.09


def statutory_retirement(birth: dt.date, male: bool, age: int) -> dt.date:
    """The first day of the month after the month a person reaches age, delayed by the
    2025 gradual reform for those who reach it from 2025 on (one month per four months
    of birth after the cohort, one per two for women retiring at 50) [K]."""
    reached = month_of(birth) + age * 12
    start = reached + 1
    if start >= 2025 * 12:
        cohort = {60: 1965 * 12, 55: 1970 * 12, 50: 1975 * 12}.get(age, 1965 * 12)
        step = 2 if (not male and age == 50) else 4
        start += max(0, (month_of(birth) - cohort) // step + 1)
    return month_start(start)


def _employers(ctx: Ctx) -> None:
    rng = ctx.rng("employers")
    n = max(20, ctx.scale_persons // 60)
    for i in range(n):
        pool, counties = ctx.prov.prefectures[i % len(ctx.prov.prefectures)]
        county = rng.choice(counties)
        serial = ctx.serial("employer")
        name = f"{ctx.prov.name_zh}{rng.choice(_TRADES)}{rng.choice(_INDUSTRIES)}有限公司"
        ctx.employers.append(Employer(
            employer_id=f"E{pool}{serial:05d}", uscc=uscc("91", county, serial * 7919 + 11),
            name=name, pool=pool, county=county))
    # The shell employer (挂靠单位) where planted early retirements cluster.
    pool, counties = ctx.prov.prefectures[0]
    serial = ctx.serial("employer")
    ctx.employers.append(Employer(
        employer_id=f"E{pool}{serial:05d}", uscc=uscc("91", counties[0], serial * 7919 + 11),
        name=f"{ctx.prov.name_zh}{rng.choice(_TRADES)}劳务派遣有限公司", pool=pool,
        county=counties[0], shell=True))


def _unit_employer(ctx: Ctx, unit: tuple[str, str], staffing: str, county: str,
                   pool: str) -> Employer:
    """The contribution employer of a public-sector unit (机关 11…, 事业单位 12…)."""
    if unit[0] not in ctx.units:
        serial = ctx.serial("employer")
        kind = "12" if staffing == "30" else "11"
        credit = uscc(kind, county, serial * 7919 + 11)
        ctx.units[unit[0]] = Employer(f"E{pool}{serial:05d}", credit, unit[1], pool, county)
    return ctx.units[unit[0]]


def _birth(rng, start: dt.date) -> dt.date:
    r, acc, band = rng.random(), 0.0, AGE_BANDS[-1]
    for candidate in AGE_BANDS:
        acc += candidate[2]
        if r < acc:
            band = candidate
            break
    age = rng.randint(band[0], band[1])
    return start - dt.timedelta(days=int(age * 365.25) + rng.randrange(365))


def _role(rng, age: int, male: bool, rural: bool) -> str:
    r = rng.random()
    if age < 16:
        return "CHILD"
    if age <= 22:
        return "NONE" if r < 0.65 else ("EMP" if r < 0.85 else "RES")
    if age >= 60 or (not male and age >= 50):
        table = (("EMP", 0.40), ("CIV", 0.07), ("RES", 0.45)) if not rural else \
            (("EMP", 0.18), ("CIV", 0.03), ("RES", 0.71))
    else:
        table = (("EMP", 0.42), ("CIV", 0.05), ("RES", 0.38)) if not rural else \
            (("EMP", 0.25), ("CIV", 0.02), ("RES", 0.58))
    acc = 0.0
    for role, share in table:
        acc += share
        if r < acc:
            return role
    return "NONE"


def _new_id(ctx: Ctx, rng, area: str, birth: dt.date, male: bool) -> str:
    while True:
        seq = rng.randrange(500) * 2 + (1 if male else 0)
        id18 = make_id(area, birth, seq)
        if id18 not in ctx.used_ids:
            ctx.used_ids.add(id18)
            return id18


def _person(ctx: Ctx, rng, pid: int) -> Person:
    w = ctx.window
    birth = _birth(rng, w.start)
    male = rng.random() < 0.5124
    county = rng.choice(ctx.prov.counties)
    hukou = county
    if rng.random() < 0.12:  # born elsewhere: the ID carries another province's area
        hukou = rng.choice(rng.choice(PROVINCES).counties)
    rural = rng.random() < ctx.prov.rural_share
    age = (w.start - birth).days // 365
    p = Person(pid=pid, id18=_new_id(ctx, rng, hukou, birth, male),
               name=chinese_name(rng, male), male=male, birth=birth, hukou=hukou,
               home=ctx.node, rural=rural, role=_role(rng, age, male, rural), county=county,
               pool=next(pool for pool, cs in ctx.prov.prefectures if county in cs))
    if p.role in ("EMP", "CIV"):
        p.work_start = birth + dt.timedelta(days=int(rng.uniform(18, 24.9) * 365.25))
        p.wage = round(NATIONAL_WAGE * ctx.prov.wage_factor
                       * min(3.0, max(0.6, rng.lognormvariate(0, 0.35))))
        p.pension_base = round(MEDIAN_PENSION * ctx.prov.pension_factor
                               * rng.lognormvariate(0, 0.4) * (1.7 if p.role == "CIV" else 1))
        if p.role == "EMP":
            p.flexible = age < 60 and rng.random() < 0.06
            if not p.flexible:
                local = [e for e in ctx.employers if e.pool == p.pool and not e.shell]
                p.employer = rng.choice(local)
        else:
            p.staffing = rng.choices(("10", "20", "30"), (0.4, 0.1, 0.5))[0]
            dept = rng.choice([d for d in _DEPTS if d[0] == p.staffing] or _DEPTS)
            p.unit = (f"G{county}{_DEPTS.index(dept):03d}", f"{ctx.prov.name_zh}{dept[1]}")
            p.employer = _unit_employer(ctx, p.unit, p.staffing, county, p.pool)
        ret_age = 60 if p.male else (55 if p.role == "CIV" or rng.random() < 0.4 else 50)
    else:
        ret_age = 60
    if p.role == "RES":
        p.res_account = rng.randrange(1_000, 15_000)
        p.res_tier = rng.choice((20_000, 30_000, 50_000, 100_000, 200_000))
    if p.role in ("EMP", "CIV", "RES"):
        retire = statutory_retirement(birth, male, ret_age)
        p.retire = retire if retire <= w.end else None
        if p.role == "CIV" and p.retire and p.retire < dt.date(2014, 10, 1):
            p.payroll_retiree = True
    _life_events(ctx, rng, p)
    return p


def _life_events(ctx: Ctx, rng, p: Person) -> None:
    w = ctx.window
    for year in range(w.first // 12, w.last // 12 + 1):
        lo, hi = max(w.first, year * 12), min(w.last, year * 12 + 11)
        jan = month_start(year * 12)
        if rng.random() < _mortality(p.age_on(jan)) * (hi - lo + 1) / 12:
            first = month_start(lo)
            span = (add_months(month_start(hi), 1) - first).days
            p.death = first + dt.timedelta(days=rng.randrange(span))
            break
    working = p.role == "EMP" and not p.flexible and p.employer is not None
    retire_m = month_of(p.retire) if p.retire else w.last + 60
    if working and p.age_on(w.start) < 55 and w.last - w.first >= 8:
        years = (w.last - w.first + 1) / 12
        if rng.random() < 0.015 * years:
            first = rng.randint(w.first + 1, w.last - 3)
            last = min(first + rng.randint(3, 12) - 1, w.last)
            death_m = month_of(p.death) if p.death else w.last + 60
            if last < min(retire_m, death_m) - 3:
                p.ui_first, p.ui_last = first, last
                if rng.random() < 0.6 and last + 1 <= w.last:
                    p.reemploy = min(w.last, last + 1 + rng.randint(0, 3))
    if p.role == "EMP" and not p.flexible and p.retire is None and rng.random() < 0.01:
        p.staffing = "40"  # 编外聘用: paid through the public payroll
        p.unit = (f"G{p.county}000", f"{ctx.prov.name_zh}{_DEPTS[0][1]}")
    if p.role == "RES" and p.rural and 30 <= p.age_on(w.start) < 60 and rng.random() < 0.006:
        village = f"{p.county}{rng.randint(1, 9):03d}{rng.randint(1, 20):03d}"
        p.cadre = (f"V{village}", f"{ctx.prov.name_zh}第{village[-3:]}村民委员会")


def make_people(ctx: Ctx) -> None:
    """Creates the province's employers and persons (ctx.scale_persons of them)."""
    _employers(ctx)
    rng = ctx.rng("people")
    for pid in range(ctx.scale_persons):
        ctx.persons.append(_person(ctx, rng, pid))

