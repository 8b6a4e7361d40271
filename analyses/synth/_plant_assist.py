"""Planted assistance cases and look-alikes: SA-01 (household assets) and SA-03 (应保未保)."""

from __future__ import annotations

import datetime as dt

from analyses.synth._assistance import is_student
from analyses.synth._calendar import month_start
from analyses.synth._context import Ctx
from analyses.synth._model import Case, Contrib, Enrolment, Member
from analyses.synth._plant_pension import count, foreign_employer
from analyses.synth._population import NATIONAL_WAGE
from analyses.synth._regions import province
from analyses.synth._registry import add_business, add_house, add_vehicle
from analyses.synth._streams import build_streams

__all__ = ["plant_sa01", "plant_sa03"]

_ASSET_KINDS = ("CAR", "HOUSES", "BUSINESS")
_LOOKALIKE_KINDS = ("EXEMPT_VEHICLE", "CANCELLED_VEHICLE", "ONE_DWELLING", "CANCELLED_BUSINESS",
                    "NON_MEMBER_RELATIVE")


def _active_members(case: Case) -> list[Member]:
    return [m for m in case.members if m.status == "1"]


def plant_sa03(ctx: Ctx) -> None:
    """Un-enrols some members (the anomalies) and enrols some only at a later node."""
    rng = ctx.rng("SA-03")
    as_of = ctx.window.as_of
    target, seen = [], set()
    for case in ctx.cases:
        for m in _active_members(case):
            p = m.person
            if m.program != "04" and p.age_on(as_of) >= 16 and id(p) not in seen:
                seen.add(id(p))
                target.append(p)
    adults = {id(m.person) for case in ctx.cases for m in _active_members(case)
              if not is_student(m, as_of)}

    def eligible(p) -> bool:
        return (id(p) in adults and p.reserved is None and p.role in ("RES", "NONE")
                and p.move_to is None and 23 <= p.age_on(as_of) <= 75)

    pool = [p for p in target if eligible(p)]
    chosen = rng.sample(pool, min(count(0.02, len(target)), len(pool)))
    for p in sorted(chosen, key=lambda p: p.pid):
        p.reserved = "SA-03"
        p.role, p.retire, p.special_group = "NONE", None, None
        build_streams(ctx, p)
    if not ctx.later:
        return
    pool = [p for p in target if eligible(p) and p.age_on(as_of) <= 50]
    for i, p in enumerate(sorted(rng.sample(pool, min(2, len(pool))), key=lambda p: p.pid)):
        # Enrolled as an employee in a later province, not at home: a local rule sees no
        # enrolment, a cross-node one does.
        node = ctx.later[i % len(ctx.later)]
        dest = province(node)
        p.reserved = "SA-03"
        p.role, p.retire, p.special_group = "NONE", None, None
        build_streams(ctx, p)
        employer = foreign_employer(ctx, node)
        p.wage = round(NATIONAL_WAGE * dest.wage_factor * 0.7)
        p.enrol.append(Enrolment(node, "110", employer.pool, "1",
                                 month_start(ctx.window.first), employer=employer,
                                 work_start=month_start(ctx.window.first)))
        p.contribs.append(Contrib(node, "110", employer.pool, "10", ctx.window.first,
                                  ctx.window.last, employer, base=p.wage))
        ctx.export(p, node)


def plant_sa01(ctx: Ctx) -> None:
    """Gives assets to members of some active households (anomalies, or legitimate
    look-alikes), after the registry background is generated."""
    rng = ctx.rng("SA-01")
    w = ctx.window
    cases = [c for c in ctx.cases if c.program in ("01", "02", "03") and c.last == w.last
             and any(m.person.age_on(w.as_of) >= 18 for m in _active_members(c))]
    rng.shuffle(cases)
    n = count(0.01, len(cases))
    plan = [("anomaly", _ASSET_KINDS[i % 3]) for i in range(n)]
    plan += [("lookalike", _LOOKALIKE_KINDS[i % 5]) for i in range(max(5, 2 * n))]
    free = [p for p in ctx.persons if p.reserved is None and not p.in_case and p.death is None
            and p.move_to is None and 20 <= p.age_on(w.as_of) <= 50]
    for (label, kind), case in zip(plan, cases, strict=False):
        adults = [m for m in _active_members(case) if m.person.age_on(w.as_of) >= 18]
        owner = rng.choice(adults).person
        cars = houses = businesses = 0
        if kind == "CAR":
            add_vehicle(ctx, rng, owner)
            cars = 1
        elif kind == "HOUSES":
            add_house(ctx, rng, owner)
            add_house(ctx, rng, owner)
            houses = 2
        elif kind == "BUSINESS":
            add_business(ctx, rng, owner, "20", "03")
            businesses = 1
        elif kind == "EXEMPT_VEHICLE":
            add_vehicle(ctx, rng, owner, "motorcycle")
        elif kind == "CANCELLED_VEHICLE":
            add_vehicle(ctx, rng, owner, cancelled=True)
        elif kind == "ONE_DWELLING":
            add_house(ctx, rng, owner)
        elif kind == "CANCELLED_BUSINESS":
            add_business(ctx, rng, owner, "20", "03", cancelled=True)
        else:  # a grown child who left the household owns the car
            if not free:
                continue
            owner = free.pop(rng.randrange(len(free)))
            owner.in_case = True
            joined = case.members[0].start
            lo = max(joined, w.start)
            left = lo + dt.timedelta(days=rng.randrange(max(1, (w.end - lo).days)))
            head = case.members[0].person
            relation = "03" if head.birth.year + 18 <= owner.birth.year else "05"
            case.members.append(Member(owner, relation, case.program, "3", joined, left))
            add_vehicle(ctx, rng, owner)
        owner.reserved = owner.reserved or "SA-01"
        ctx.plant("SA-01", label, kind, case=case, cars=cars, house_units=houses,
                  businesses=businesses)
